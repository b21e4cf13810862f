import type { EvidenceRecord } from '../../evidence/types.js';
import { CappedCounts, CappedRows } from './bounded.js';
import { QuantileSketch } from './quantiles.js';
import type { BucketField, TimeSeries } from './series.js';

/** Rows in the per-agent and per-tool tables, and keys in the reason and signal counts, at most. */
export const TABLE_CAP = 1000;

/** What the report counts for one agent or one tool. */
export interface CallRow {
  /** Decision records: governed tools/call requests. */
  calls: number;
  allowed: number;
  /** Denies that blocked the call (enforce mode). */
  denied_enforced: number;
  /** Denies recorded and forwarded anyway (observe mode). */
  denied_observed: number;
  escalated_enforced: number;
  escalated_observed: number;
  /** Allowed because a waiver lifted a deny or escalate. */
  waived: number;
  /** Allowed by an approved request's single-use grant. */
  grants_used: number;
  /** Action records: calls forwarded downstream. */
  forwarded: number;
  /** Forwarded calls whose answer was an error (a tool error, a refused result, a failure). */
  errors: number;
}

const emptyRow = (): CallRow => ({
  calls: 0,
  allowed: 0,
  denied_enforced: 0,
  denied_observed: 0,
  escalated_enforced: 0,
  escalated_observed: 0,
  waived: 0,
  grants_used: 0,
  forwarded: 0,
  errors: 0,
});

type Decision = NonNullable<EvidenceRecord['decision']>;

/** Decisions, actions and outcomes: per effect, per reason, per agent and tool, and stage 2's signals. */
export class CallStats {
  readonly totals = emptyRow();
  readonly agents = new CappedRows<CallRow & { unverified: number }>(TABLE_CAP, () => ({
    ...emptyRow(),
    unverified: 0,
  }));
  readonly tools = new CappedRows<CallRow & { servers: Set<string> }>(TABLE_CAP, () => ({
    ...emptyRow(),
    servers: new Set(),
  }));
  /** The deciding reason of each deny, enforced and observed apart. */
  readonly denyEnforced = new CappedCounts(TABLE_CAP);
  readonly denyObserved = new CappedCounts(TABLE_CAP);
  readonly escalateEnforced = new CappedCounts(TABLE_CAP);
  readonly escalateObserved = new CappedCounts(TABLE_CAP);
  /** Rules named by decisions that denied or escalated. */
  readonly rules = new CappedCounts(TABLE_CAP);
  readonly semantic = {
    checked: 0,
    errors: 0,
    cacheHits: 0,
    verdicts: new CappedCounts(64),
    verifiers: new CappedCounts(64),
    signals: new CappedCounts(TABLE_CAP),
    latency: new QuantileSketch(),
  };
  readonly outcomes = { checked: 0, failed: 0 };

  constructor(private readonly series: TimeSeries) {}

  decision(
    t: number,
    agent: string,
    verified: boolean,
    tool: string,
    server: string | undefined,
    d: Decision,
  ) {
    const agentRow = this.agents.get(agent);
    const toolRow = this.tools.get(tool);
    if (!verified) agentRow.unverified++;
    if (server !== undefined && toolRow.servers.size < 8) toolRow.servers.add(server);
    const field = effectField(d);
    const rows = [this.totals, agentRow, toolRow];
    for (const row of rows) {
      row.calls++;
      row[field]++;
      if (d.waiver) row.waived++;
      if (d.approval?.grant_used) row.grants_used++;
    }
    this.series.count(t, 'calls');
    this.series.count(t, field);
    if (d.waiver) this.series.count(t, 'waived');

    const reason = d.reasons[0] ?? '(none)';
    if (d.effect === 'deny') (d.enforced ? this.denyEnforced : this.denyObserved).add(reason);
    if (d.effect === 'escalate') (d.enforced ? this.escalateEnforced : this.escalateObserved).add(reason);
    if (d.effect !== 'allow') for (const rule of d.rules) this.rules.add(rule);

    const s = d.semantic;
    if (s) {
      this.semantic.checked++;
      if (s.error !== undefined) this.semantic.errors++;
      if (s.cache_hit) this.semantic.cacheHits++;
      this.semantic.verdicts.add(String(s.verdict));
      this.semantic.verifiers.add(String(s.verifier));
      for (const signal of s.signals ?? []) this.semantic.signals.add(String(signal.name));
      this.semantic.latency.add(s.latency_ms);
    }
  }

  action(t: number, agent: string | undefined, tool: string, a: NonNullable<EvidenceRecord['action']>) {
    if (!a.forwarded) return;
    const rows = [
      this.totals,
      this.tools.get(tool),
      ...(agent === undefined ? [] : [this.agents.get(agent)]),
    ];
    for (const row of rows) {
      row.forwarded++;
      if (a.is_error) row.errors++;
    }
    this.series.count(t, 'forwarded');
  }

  outcome(o: NonNullable<EvidenceRecord['outcome']>) {
    this.outcomes.checked++;
    if (!o.verified) this.outcomes.failed++;
  }
}

/** The row field a decision counts in. */
function effectField(d: Decision): BucketField & keyof CallRow {
  if (d.effect === 'allow') return 'allowed';
  if (d.effect === 'deny') return d.enforced ? 'denied_enforced' : 'denied_observed';
  return d.enforced ? 'escalated_enforced' : 'escalated_observed';
}
