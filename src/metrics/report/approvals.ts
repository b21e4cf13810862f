import type { EvidenceRecord } from '../../evidence/types.js';
import { CappedCounts } from './bounded.js';
import { QuantileSketch } from './quantiles.js';
import type { TimeSeries } from './series.js';

/**
 * Pending requests and waivers followed, at most. Both are created by people (an escalation waits for
 * one, a waiver is made by one), so a log holds few; past the cap, counts stay exact and only the
 * pending count and the waiver table stop growing.
 */
export const MAX_TRACKED = 10_000;

type ApprovalEvent = NonNullable<EvidenceRecord['approval']>;
type WaiverEvent = NonNullable<EvidenceRecord['waiver']>;

/** Approval requests through their records: volume, verdicts, and the time a person took. */
export class ApprovalStats {
  readonly counts = {
    created: 0,
    decided: 0,
    approved: 0,
    denied: 0,
    expired: 0,
    withdrawn: 0,
    interrupted: 0,
    grants_used: 0,
  };
  /** From a request to its verdict (approve or deny), from `decided` records' time_to_decision_ms. */
  readonly timeToDecision = new QuantileSketch();
  /** The same for approvals only. */
  readonly timeToApprove = new QuantileSketch();
  readonly byTier = new CappedCounts(16);
  /** Requests created in the period and not yet decided, expired or withdrawn. */
  private readonly pending = new Set<string>();
  pendingOverflow = 0;

  constructor(private readonly series: TimeSeries) {}

  add(t: number, a: ApprovalEvent): void {
    switch (a.event) {
      case 'created':
        this.counts.created++;
        this.byTier.add(String(a.tier));
        this.series.count(t, 'approvals_created');
        if (this.pending.size < MAX_TRACKED) this.pending.add(a.request);
        else this.pendingOverflow++;
        return;
      case 'decided': {
        this.counts.decided++;
        if (a.verdict === 'approve') this.counts.approved++;
        if (a.verdict === 'deny') this.counts.denied++;
        this.pending.delete(a.request);
        this.series.count(t, 'approvals_decided');
        const ms = a.time_to_decision_ms;
        if (typeof ms === 'number') {
          this.timeToDecision.add(ms);
          if (a.verdict === 'approve') this.timeToApprove.add(ms);
          this.series.timeToDecision(t, ms);
        }
        return;
      }
      case 'grant_used':
        this.counts.grants_used++;
        return;
      case 'expired':
        this.counts.expired++;
        this.pending.delete(a.request);
        return;
      case 'withdrawn':
        this.counts.withdrawn++;
        this.pending.delete(a.request);
        return;
      case 'interrupted':
        // A held call cut short by a restart: the request stays decidable, so it stays pending.
        this.counts.interrupted++;
        return;
    }
  }

  /** Requests still waiting for a person at the end of the log. */
  get pendingCount(): number {
    return this.pending.size + this.pendingOverflow;
  }
}

/** One waiver as the report lists it. */
export interface WaiverRow {
  id: string;
  agent: string;
  tool: string;
  until: string;
  reason?: string;
  created?: string;
  /** Decisions it changed in the period. */
  uses: number;
  revoked?: string;
  expired?: string;
}

/** Waivers through their records: created, used, revoked, expired, and which are in force. */
export class WaiverStats {
  readonly counts = { created: 0, used: 0, revoked: 0, expired: 0 };
  /** Every waiver seen, in or before the period (one created earlier may be in force in it). */
  readonly waivers = new Map<string, WaiverRow>();
  readonly waivedEffects = new CappedCounts(4);

  /**
   * `counted`: the record lies in the period and matches the filters; records outside still shape
   * the table (a waiver created before the period, revoked in it).
   */
  add(time: string, w: WaiverEvent, counted: boolean): void {
    let row = this.waivers.get(w.waiver);
    if (!row && this.waivers.size < MAX_TRACKED) {
      row = { id: w.waiver, agent: w.agent, tool: w.tool, until: w.until, uses: 0 };
      this.waivers.set(w.waiver, row);
    }
    if (counted) this.counts[w.event]++;
    if (!row) return;
    if (w.event === 'created') {
      row.created = time;
      row.reason = w.reason;
      row.until = w.until;
    } else if (w.event === 'used' && counted) {
      row.uses++;
      if (w.waived_effect) this.waivedEffects.add(w.waived_effect);
    } else if (w.event === 'revoked') row.revoked = time;
    else if (w.event === 'expired') row.expired = time;
  }

  /** Whether a waiver was in force at `at`: created by then, not past its `until`, revoked or expired. */
  static inForce(row: WaiverRow, at: number): boolean {
    const before = (iso: string | undefined) => iso !== undefined && Date.parse(iso) <= at;
    return (
      row.created !== undefined &&
      before(row.created) &&
      Date.parse(row.until) > at &&
      !before(row.revoked) &&
      !before(row.expired)
    );
  }
}
