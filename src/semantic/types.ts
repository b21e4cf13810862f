import type { ResultLabels } from '../flow/labels.js';
import type { FlowMatch } from '../flow/tracker.js';
import type { Effect } from '../core/effect.js';
import type { SemanticProvenance, SemanticResult } from '../core/semantic-verdict.js';

/**
 * The semantic stage (stage 2) asks one question the deterministic checks cannot answer: does this
 * call fit what the user asked for, given everything the session has seen? A verifier answers with
 * a verdict, the named signals behind it, and its provenance (which goes into evidence).
 */

// The verdict shapes are part of the decision vocabulary (a decision record carries them), so they
// are defined in the bottom layer; verifiers use them from here.
export {
  SemanticResultSchema,
  SemanticSignalSchema,
  type SemanticProvenance,
  type SemanticResult,
  type SemanticSignal,
} from '../core/semantic-verdict.js';
/** The effect a verifier recommends. */
export type SemanticVerdictKind = Effect;

/** An earlier call of the same session, with what its tool returned (as text, bounded by the PEP). */
export interface HistoryEntry {
  tool: string;
  arguments: Record<string, unknown>;
  /** The tool's result as text; absent when the result was not kept (too large, or not text). */
  result?: string;
  /** The result's flow labels from the tool registry; absent: untrusted, as any unvouched result. */
  labels?: ResultLabels;
}

/** How much of a session stage 2 may read: the last `calls` forwarded calls, each result cut to `resultChars`. */
export interface HistoryLimits {
  calls: number;
  resultChars: number;
}

export const DEFAULT_HISTORY_LIMITS: HistoryLimits = { calls: 20, resultChars: 4000 };

/** Where the intent came from, most trustworthy first. */
export type IntentSource = 'meta' | 'declared' | 'registry' | 'case' | 'none';

/** Everything a verifier sees about one call. Built by the PEP (or the eval runner) from the session. */
export interface SemanticInput {
  /** What the user asked for, in their words, when known. */
  intent?: string;
  intentSource: IntentSource;
  /** The calling agent's registry id and permitted purposes, when known. */
  agent?: { id: string; intents: string[] };
  /** The tool as the downstream server describes it (description and schema may be poisoned). */
  tool: {
    name: string;
    description?: string;
    inputSchema?: unknown;
    /** From the tool registry, when registered. */
    risk_tier?: 'low' | 'medium' | 'high' | 'critical';
  };
  arguments: Record<string, unknown>;
  /** Earlier calls of the session, oldest first. */
  history: HistoryEntry[];
  /**
   * Which arguments carry values of earlier results, as the enforcement point traced them
   * (src/flow/); absent: traced from `history` when a verifier needs it.
   */
  flow?: FlowMatch[];
}

/** A verifier's answer: the result plus what it knows of its own provenance. */
export interface SemanticAnswer extends SemanticResult {
  provenance: Omit<SemanticProvenance, 'latency_ms' | 'cache_hit'> &
    Partial<Pick<SemanticProvenance, 'latency_ms' | 'cache_hit'>>;
}

/**
 * The interface every semantic verifier implements. `verify` may reject (network error, malformed
 * answer); the pipeline then applies the tool's fail mode, never allow. It must honour `signal`.
 */
export interface SemanticVerifier {
  /** `heuristic`, `llm`, `replay`, ... */
  readonly name: string;
  verify(input: SemanticInput, options?: { signal?: AbortSignal }): Promise<SemanticAnswer>;
  /**
   * Starts what the verifier needs before its first check (a worker thread) and resolves when that is
   * ready; may reject. The stage waits for it before its timer starts: `semantic.timeout_ms` bounds
   * checks, not a start-up that happens once.
   */
  ready?(): Promise<void>;
  /** Ends what `ready` started. */
  close?(): Promise<void>;
}
