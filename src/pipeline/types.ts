import type { AgentEntry, ToolEntry } from '../config/schema.js';
import type { Identity } from '../core/identity.js';
import type { LiveTool } from '../core/live-tool.js';
import type { FlowTrace, FlowTracker } from '../flow/tracker.js';
import type { HistoryEntry, IntentSource } from '../semantic/types.js';

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
  /** The labelled values of earlier results, when a rule reads `flow` (src/flow/tracker.ts). */
  flow?: FlowTracker;
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
  /** Which arguments carry values of earlier results, when a rule reads `flow`. */
  flow?: FlowTrace;
  /** Milliseconds since the epoch; injected so tests control time. */
  now: number;
}
