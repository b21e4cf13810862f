import type { ApprovalRequest, CallBinding, DecideResult, RequestState, Verdict, Waiver } from './types.js';

/**
 * Where approval requests, their grants and waivers are kept. The embedded default lives on lowdb in
 * the state folder (one process); a replicated deployment puts them in PostgreSQL. Every transition
 * is atomic in the store: a request is decided once, and a grant is used once, whoever asks.
 */
export interface ApprovalStore {
  create(request: ApprovalRequest): Promise<void>;
  get(id: string): Promise<ApprovalRequest | undefined>;
  /** Requests, newest first. */
  list(filter?: { state?: RequestState; limit?: number }): Promise<ApprovalRequest[]>;
  /**
   * Records a verdict on a pending, unexpired request (an approval also opens its grant, valid until
   * `grantExpiresAt`). Refuses, changing nothing, a request that is unknown, decided or expired.
   */
  decide(
    id: string,
    verdict: Verdict,
    now: number,
    grantExpiresAt: string,
    /** An approval's grant is used at once by this decision (the held call waiting for the verdict). */
    usedBy?: string,
  ): Promise<DecideResult>;
  /**
   * Uses the grant bound to exactly this call, once: the approved request whose grant is unused and
   * unexpired (only request `requestId`'s, when given: a held call uses its own). Undefined when there
   * is none (then nothing changed).
   */
  useGrant(
    binding: CallBinding,
    decisionId: string,
    now: number,
    requestId?: string,
  ): Promise<ApprovalRequest | undefined>;
  /** Moves every pending request past its expiry to `expired`; returns them. */
  expire(now: number): Promise<ApprovalRequest[]>;
  /** A held call's client went away before a verdict: its pending request is withdrawn. */
  withdraw(id: string, now: number): Promise<ApprovalRequest | undefined>;
  /** Marks a held request interrupted (a shutdown cut its call short): its approval will leave a grant. */
  interrupt(id: string): Promise<void>;
  /** Notes that the verdict's evidence record is written (by whichever enforcement point saw it). */
  markVerdictRecorded(id: string): Promise<void>;
  /** Decided requests whose verdict no enforcement point has recorded yet. */
  unrecordedVerdicts(): Promise<ApprovalRequest[]>;

  addWaiver(waiver: Waiver): Promise<void>;
  /** Waivers, newest first; `active` only those unrevoked and unexpired at `now`. */
  listWaivers(filter?: { active?: boolean; now?: number }): Promise<Waiver[]>;
  revokeWaiver(id: string, revoked: NonNullable<Waiver['revoked']>): Promise<Waiver | undefined>;
  /** Waivers past their `until` whose expiry is not yet recorded; marks them recorded. */
  expireWaivers(now: number): Promise<Waiver[]>;

  /** Calls `listener` with every request a verdict (from any process sharing the store) decided. */
  onVerdict(listener: (request: ApprovalRequest) => void): () => void;
  close(): Promise<void>;
}
