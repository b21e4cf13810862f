import type { Effect, Mode } from './effect.js';
import type { Reason } from './reason-codes.js';
import type { SemanticProvenance, SemanticResult } from './semantic-verdict.js';

/** A unit taken from a rate or spend counter, returned if the call does not go ahead. */
export interface Reservation {
  release(): void;
}

/** What stage 2 concluded about a call, and how: recorded in the decision record. */
export type SemanticFinding = SemanticResult & SemanticProvenance;

/**
 * What a stage hands on besides its verdict: counter reservations it took (released when the call is
 * not forwarded) and stage 2's finding (recorded). A stage returns them; it never writes them elsewhere.
 */
interface StageOutputs {
  reservations?: Reservation[];
  semantic?: SemanticFinding;
}

/**
 * What one stage concluded. The first `deny` stops the pipeline; `flag` lets the call continue but
 * marks it for a closer look (`semantic: flagged` and `approval: flagged` tools act on it).
 */
export type StageResult = StageOutputs &
  (
    | { kind: 'pass'; rules?: string[] }
    | { kind: 'flag'; code: Reason; message: string; rules?: string[] }
    | { kind: 'deny'; code: Reason; message: string; rules?: string[]; mode?: Mode }
    | { kind: 'escalate'; code: Reason; message: string; rules?: string[]; mode?: Mode }
  );

/** One stage's name and its result, kept for evidence. */
export interface StageRun {
  stage: string;
  result: StageResult;
}

/** The pipeline's answer for one call. */
export interface Decision {
  /** UUIDv7 shared by the decision record and the answer the agent sees. */
  id: string;
  effect: Effect;
  mode: Mode;
  /** True when the effect is applied (enforce mode); false when it is only observed and the call goes ahead. */
  enforced: boolean;
  /** Reason codes, the deciding one first; empty for a plain allow. */
  reasons: Reason[];
  /** One human line explaining the effect. */
  message: string;
  /** Ids of the rules that matched. */
  rules: string[];
  stages: StageRun[];
  /** Counter reservations taken for this call; released when the call is not forwarded. */
  reservations: Reservation[];
  /** Stage 2's finding, when it ran. */
  semantic?: SemanticFinding;
  /** A waiver that turned a deny or escalate into this allow. */
  waiver?: { id: string; waived_effect: 'deny' | 'escalate' };
  /** The approval request this escalation opened, or whose single-use grant allowed this call. */
  approval?: { request: string; grant_used?: boolean };
}
