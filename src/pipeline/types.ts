import type { AgentEntry, Mode, ToolEntry } from '../config/schema.js';
import type { HistoryEntry, IntentSource, SemanticProvenance, SemanticResult } from '../semantic/types.js';
import type { ReasonCode } from './reason-codes.js';

/** Who is calling: a verified token's claims, or the configured default agent marked unverified. */
export interface Identity {
  verified: boolean;
  iss?: string;
  sub?: string;
  spiffe_id?: string;
  client_id?: string;
  /** Scopes granted by the token, when it carries any; they narrow the agent's registered scopes. */
  scopes?: string[];
  /** SHA-256 of the token's `jti`; the raw token never enters evidence. */
  token_jti_sha256?: string;
  claims: Record<string, unknown>;
  /** The agent id this identity maps to, or undefined when no registry entry matches. */
  agentId?: string;
}

/** A tool as a downstream server describes it, plus where it lives. */
export interface LiveTool {
  /** Exposed name, `<server>__<tool>`. */
  name: string;
  server: string;
  /** The downstream server's own name for the tool. */
  tool: string;
  /** The definition as received; JSON schemas are passed through untouched. */
  definition: Record<string, unknown>;
  /** `sha256:<hex>` over the RFC 8785 form of the definition. */
  digest: string;
}

/** Per-session facts the rules and later stages see. */
export interface SessionState {
  id: string;
  /** What the user asked for, when the agent declared it (see `intentSource`). */
  intent?: string;
  intentSource?: IntentSource;
  callCount: number;
  /** Exposed names of earlier calls in this session, oldest first, bounded. */
  tools: string[];
  /** Earlier forwarded calls with their result text, oldest first, bounded: what stage 2 reads. */
  history: HistoryEntry[];
}

/** Everything `evaluate` needs to decide one call. Built by the PEP; the core never touches transports. */
export interface CallContext {
  identity: Identity;
  /** Registry entry of the calling agent, when the identity maps to one. */
  agent?: AgentEntry;
  /** Exposed tool name the caller asked for. */
  toolName: string;
  /** Registry entry matching the tool name, when there is one. */
  toolEntry?: ToolEntry;
  /** The live downstream definition, when the tool exists downstream. */
  liveTool?: LiveTool;
  arguments: Record<string, unknown>;
  session: SessionState;
  /** Milliseconds since the epoch; injected so tests control time. */
  now: number;
}

/** What one stage concluded. The first `deny` stops the pipeline. */
export type StageResult =
  | { kind: 'pass'; rules?: string[] }
  | { kind: 'flag'; code: ReasonCode; message: string }
  | { kind: 'deny'; code: ReasonCode; message: string; rules?: string[]; mode?: Mode }
  | { kind: 'escalate'; code: ReasonCode; message: string; rules?: string[]; mode?: Mode };

/** A stage's name and its result, kept for evidence. */
export interface StageOutcome {
  stage: string;
  result: StageResult;
}

export type Effect = 'allow' | 'deny' | 'escalate';

/** The pipeline's answer for one call. */
export interface Decision {
  /** UUIDv7 shared by the decision record and the answer the agent sees. */
  id: string;
  effect: Effect;
  mode: Mode;
  /** True when the effect is applied (enforce mode); false when it is only observed and the call goes ahead. */
  enforced: boolean;
  /** Reason codes, most important first; empty for a plain allow. */
  reasons: ReasonCode[];
  /** One human line explaining the effect. */
  message: string;
  /** Ids of the rules that matched. */
  rules: string[];
  stages: StageOutcome[];
  /** Counter reservations taken for this call; released when the call is not forwarded. */
  reservations: Reservation[];
  /** Stage 2's verdict and provenance, when it ran. */
  semantic?: SemanticOutcome;
}

/** What the semantic stage concluded about a call, and how: recorded in the decision record. */
export type SemanticOutcome = SemanticResult & SemanticProvenance;

/** A unit taken from a rate or spend counter, returned if the call does not go ahead. */
export interface Reservation {
  release(): void;
}
