import { isPack } from '../../evidence/pack.js';
import { WaiverStats, type WaiverRow } from './approvals.js';
import { TABLE_CAP, type CallRow } from './calls.js';
import type { CappedCounts } from './bounded.js';
import type { ReportFilters } from './filters.js';
import type { DriftRow } from './fleet.js';
import type { QuantileSketch } from './quantiles.js';
import { ReportReader, type ReadProgress } from './read.js';
import type { SeriesPoint, SeriesUnit } from './series.js';
import { findLogs } from './sources.js';

/** Version tag of the report's JSON form. */
export const REPORT_VERSION = 'mcpgov.report/v1';

/** Percentiles of a set of durations: exact up to 2,048 values, within 1% past that. */
export interface Percentiles {
  count: number;
  p50: number | null;
  p90: number | null;
  max: number | null;
  /** Whether p50 and p90 are exact (every value kept) rather than within 1%. */
  exact: boolean;
}

/** Counts of denies or escalations for one reason code, enforced and observed apart. */
export interface ReasonCount {
  reason: string;
  enforced: number;
  observed: number;
  total: number;
}

/** The pilot report: `mcpgov report --format json` prints it; the HTML report draws it. */
export interface PilotReport {
  v: typeof REPORT_VERSION;
  generated_at: string;
  source: {
    path: string;
    kind: 'folder' | 'pack';
    logs: {
      path: string;
      kind: 'log' | 'replica' | 'pack';
      pep: string | null;
      records: number;
      segments: number;
      checkpoints: number;
      checkpoint_size: number;
      /** Records not covered by the last signed checkpoint. */
      uncovered: number;
      unreadable: number;
      torn_last_line: boolean;
      sessions: number;
      complete_sessions: number;
    }[];
  };
  filters: { since: string | null; until: string | null; agent: string | null; tool: string | null };
  /** Times of the first and last record counted. */
  period: { first: string | null; last: string | null };
  /** The five numbers a pilot is judged by (details in the sections below). */
  pilot: {
    coverage: number | null;
    deny_rate: number | null;
    approvals: number;
    time_to_decision_p50_ms: number | null;
    time_to_decision_p90_ms: number | null;
    completeness: number | null;
    drift_events: number;
  };
  coverage: {
    ratio: number | null;
    /** Decision records of the closed sessions counted. */
    decided: number;
    /** tools/call requests their transports received. */
    received: number;
    /** received - decided: calls that never reached a decision record. */
    gap: number;
    sessions: number;
    sessions_without_count: number;
    open_sessions: number;
    decided_in_open_sessions: number;
    note?: string;
  };
  completeness: {
    ratio: number | null;
    sessions: number;
    closed: number;
    complete: number;
    /** Closed, but the close record is not covered by a signed checkpoint. */
    closed_not_covered: number;
    open: number;
    records: number;
    records_covered: number;
  };
  decisions: CallRow & { deny_rate: number | null; enforced_deny_rate: number | null };
  deny_reasons: ReasonCount[];
  escalation_reasons: ReasonCount[];
  rules: { rule: string; count: number }[];
  approvals: {
    created: number;
    decided: number;
    approved: number;
    denied: number;
    expired: number;
    withdrawn: number;
    interrupted: number;
    grants_used: number;
    pending: number;
    by_tier: Record<string, number>;
    time_to_decision_ms: Percentiles;
    time_to_approve_ms: Percentiles;
  };
  waivers: {
    created: number;
    used: number;
    revoked: number;
    expired: number;
    in_force: number;
    in_force_at: string;
    waived_effects: Record<string, number>;
    list: (WaiverRow & { in_force: boolean })[];
  };
  semantic: {
    checked: number;
    errors: number;
    cache_hits: number;
    verdicts: Record<string, number>;
    verifiers: Record<string, number>;
    signals: { signal: string; count: number }[];
    latency_ms: Percentiles;
  };
  outcomes: { checked: number; failed: number };
  agents: (CallRow & { agent: string; unverified: number })[];
  tools: (CallRow & { tool: string; servers: string[] })[];
  drift: {
    events: number;
    by_cause: Record<string, number>;
    recent: DriftRow[];
    definitions: { findings: number; poisoned: number; hidden: number; invisible_removed: number };
  };
  policy: {
    activated: number;
    refused: number;
    refusals: Record<string, number>;
    bundles: { digest: string; name: string | null; revision: string | null; activated: number }[];
  };
  series: { unit: SeriesUnit; points: SeriesPoint[] };
  records: { read: number; by_kind: Record<string, number>; unreadable: number };
  limits: { table_rows: number; other_row: string; percentiles: string };
}

export interface BuildOptions {
  /** The time waivers in force are judged at when no --until is given; default now. */
  now?: number;
  onProgress?: (p: ReadProgress) => void;
}

/** Reads an evidence folder (with its replicas) or a pack, streaming, and computes the report. */
export async function buildReport(
  target: string,
  filters: ReportFilters,
  opts: BuildOptions = {},
): Promise<PilotReport> {
  const sources = await findLogs(target);
  const reader = new ReportReader(filters);
  await reader.read(sources, opts.onProgress);

  const s = sumSessions(reader);
  const c = reader.calls;
  const a = reader.approvals;
  const iso = (t: number | undefined) => (t === undefined ? null : new Date(t).toISOString());
  const ratio = (n: number, d: number) => (d > 0 ? n / d : null);
  const coverageRatio = filters.tool === undefined ? ratio(s.decided, s.received) : null;
  const completenessRatio = ratio(s.complete, s.sessions);
  const denied = c.totals.denied_enforced + c.totals.denied_observed;
  const ttd = percentiles(a.timeToDecision);
  const inForceAt = filters.until ?? opts.now ?? Date.now();
  const waivers = [...reader.waivers.waivers.values()].map((w) => ({
    ...w,
    in_force: WaiverStats.inForce(w, inForceAt),
  }));
  const records = reader.logs.reduce((n, l) => n + l.records, 0);

  return {
    v: REPORT_VERSION,
    generated_at: new Date(opts.now ?? Date.now()).toISOString(),
    source: {
      path: target,
      kind: (await isPack(target)) ? 'pack' : 'folder',
      logs: reader.logs.map((l) => ({
        path: l.source.path,
        kind: l.source.kind,
        pep: l.pep ?? null,
        records: l.records,
        segments: l.source.files.length,
        checkpoints: l.source.checkpoints,
        checkpoint_size: l.source.checkpointSize,
        uncovered: l.uncovered,
        unreadable: l.unreadable,
        torn_last_line: l.tornLast,
        sessions: l.sessions.sessions,
        complete_sessions: l.sessions.complete,
      })),
    },
    filters: {
      since: iso(filters.since),
      until: iso(filters.until),
      agent: filters.agent ?? null,
      tool: filters.tool ?? null,
    },
    period: {
      first: Number.isFinite(reader.first) ? iso(reader.first) : null,
      last: Number.isFinite(reader.last) ? iso(reader.last) : null,
    },
    pilot: {
      coverage: coverageRatio,
      deny_rate: ratio(denied, c.totals.calls),
      approvals: a.counts.created,
      time_to_decision_p50_ms: ttd.p50,
      time_to_decision_p90_ms: ttd.p90,
      completeness: completenessRatio,
      drift_events: reader.fleet.drift.total,
    },
    coverage: {
      ratio: coverageRatio,
      decided: s.decided,
      received: s.received,
      gap: s.received - s.decided,
      sessions: s.counted,
      sessions_without_count: s.withoutCount,
      open_sessions: s.open,
      decided_in_open_sessions: s.decidedInOpen,
      ...(filters.tool === undefined
        ? {}
        : { note: 'coverage is counted per session, not per tool: not computed with --tool' }),
    },
    completeness: {
      ratio: completenessRatio,
      sessions: s.sessions,
      closed: s.closed,
      complete: s.complete,
      closed_not_covered: s.closed - s.complete,
      open: s.open,
      records,
      records_covered: records - reader.logs.reduce((n, l) => n + l.uncovered, 0),
    },
    decisions: {
      ...c.totals,
      deny_rate: ratio(denied, c.totals.calls),
      enforced_deny_rate: ratio(c.totals.denied_enforced, c.totals.calls),
    },
    deny_reasons: reasons(c.denyEnforced, c.denyObserved),
    escalation_reasons: reasons(c.escalateEnforced, c.escalateObserved),
    rules: c.rules.sorted().map(({ key, count }) => ({ rule: key, count })),
    approvals: {
      ...a.counts,
      pending: a.pendingCount,
      by_tier: a.byTier.object(),
      time_to_decision_ms: ttd,
      time_to_approve_ms: percentiles(a.timeToApprove),
    },
    waivers: {
      ...reader.waivers.counts,
      in_force: waivers.filter((w) => w.in_force).length,
      in_force_at: new Date(inForceAt).toISOString(),
      waived_effects: reader.waivers.waivedEffects.object(),
      list: waivers,
    },
    semantic: {
      checked: c.semantic.checked,
      errors: c.semantic.errors,
      cache_hits: c.semantic.cacheHits,
      verdicts: c.semantic.verdicts.object(),
      verifiers: c.semantic.verifiers.object(),
      signals: c.semantic.signals.sorted().map(({ key, count }) => ({ signal: key, count })),
      latency_ms: percentiles(c.semantic.latency),
    },
    outcomes: { ...c.outcomes },
    agents: [...c.agents.rows]
      .map(([agent, row]) => ({ agent, ...row }))
      .sort((x, y) => y.calls - x.calls || cmp(x.agent, y.agent)),
    tools: [...c.tools.rows]
      .map(([tool, { servers, ...row }]) => ({ tool, servers: [...servers].sort(), ...row }))
      .sort((x, y) => y.calls - x.calls || cmp(x.tool, y.tool)),
    drift: {
      events: reader.fleet.drift.total,
      by_cause: reader.fleet.driftCauses.object(),
      recent: reader.fleet.drift.list().sort((x, y) => cmp(x.time, y.time)),
      definitions: { ...reader.fleet.definitions },
    },
    policy: {
      activated: reader.fleet.policy.activated,
      refused: reader.fleet.policy.refused,
      refusals: reader.fleet.policy.refusals.object(),
      bundles: [...reader.fleet.bundles].map(([digest, b]) => ({
        digest,
        name: b.name ?? null,
        revision: b.revision ?? null,
        activated: b.activated,
      })),
    },
    series: reader.series.points(),
    records: {
      read: records,
      by_kind: Object.fromEntries([...reader.kinds].sort((x, y) => cmp(x[0], y[0]))),
      unreadable: reader.logs.reduce((n, l) => n + l.unreadable, 0),
    },
    limits: {
      table_rows: TABLE_CAP,
      other_row: '(other)',
      percentiles:
        'nearest rank; exact up to 2,048 values, then a log-bucketed sketch (DDSketch) within 1% relative error',
    },
  };
}

function sumSessions(reader: ReportReader) {
  const total = {
    sessions: 0,
    closed: 0,
    complete: 0,
    counted: 0,
    received: 0,
    decided: 0,
    withoutCount: 0,
    open: 0,
    decidedInOpen: 0,
  };
  for (const l of reader.logs)
    for (const key of Object.keys(total) as (keyof typeof total)[]) total[key] += l.sessions[key];
  return total;
}

function percentiles(q: QuantileSketch): Percentiles {
  return {
    count: q.count,
    p50: q.quantile(0.5),
    p90: q.quantile(0.9),
    max: q.count === 0 ? null : q.max,
    exact: q.isExact,
  };
}

function reasons(enforced: CappedCounts, observed: CappedCounts): ReasonCount[] {
  const rows = new Map<string, ReasonCount>();
  const row = (reason: string) => {
    let r = rows.get(reason);
    if (!r) rows.set(reason, (r = { reason, enforced: 0, observed: 0, total: 0 }));
    return r;
  };
  for (const { key, count } of enforced.sorted()) row(key).enforced += count;
  for (const { key, count } of observed.sorted()) row(key).observed += count;
  for (const r of rows.values()) r.total = r.enforced + r.observed;
  return [...rows.values()].sort((x, y) => y.total - x.total || cmp(x.reason, y.reason));
}

const cmp = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
