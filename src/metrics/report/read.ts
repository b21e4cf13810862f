import type { EvidenceRecord } from '../../evidence/types.js';
import { ApprovalStats, WaiverStats } from './approvals.js';
import { CallStats } from './calls.js';
import {
  agentMatches,
  inPeriod,
  str,
  toolMatches,
  waiverToolMatches,
  type ReportFilters,
} from './filters.js';
import { FleetStats } from './fleet.js';
import { TimeSeries } from './series.js';
import { SessionTracker, type SessionTotals } from './sessions.js';
import { readLines, type LogSource } from './sources.js';

/** How far reading has got, for a progress bar. */
export interface ReadProgress {
  bytes: number;
  totalBytes: number;
  records: number;
}

/** What one log held, besides what it counts toward. */
export interface LogTotals {
  source: LogSource;
  /** The enforcement point that wrote it (the first record's `pep.id`). */
  pep?: string;
  records: number;
  /** Records at or past the last checkpoint's size: not yet covered by a signed checkpoint. */
  uncovered: number;
  /** Lines that are not JSON records (or too long to be one), or records whose shape is not a record's. */
  unreadable: number;
  tornLast: boolean;
  sessions: SessionTotals;
}

/**
 * Everything the report counts, filled by reading the logs once, record by record, in their order.
 * Nothing here grows with the number of records: counts, capped tables, bounded sketches and the
 * sessions open at one point of the log.
 */
export class ReportReader {
  readonly series = new TimeSeries();
  readonly calls = new CallStats(this.series);
  readonly approvals = new ApprovalStats(this.series);
  readonly waivers = new WaiverStats();
  readonly fleet = new FleetStats();
  readonly kinds = new Map<string, number>();
  readonly logs: LogTotals[] = [];
  /** Times of the first and last record counted (in the period, past the filters). */
  first = Number.POSITIVE_INFINITY;
  last = Number.NEGATIVE_INFINITY;
  private sessions!: SessionTracker;
  private log!: LogTotals;

  constructor(private readonly filters: ReportFilters) {}

  /** Reads every log in turn; `onProgress` after each chunk read. */
  async read(sources: LogSource[], onProgress?: (p: ReadProgress) => void): Promise<void> {
    const totalBytes = sources.reduce((n, s) => n + s.bytes, 0);
    let done = 0;
    let records = 0;
    for (const source of sources) {
      this.sessions = new SessionTracker(this.filters);
      this.log = {
        source,
        records: 0,
        uncovered: 0,
        unreadable: 0,
        tornLast: false,
        sessions: this.sessions.totals,
      };
      this.logs.push(this.log);
      for (const file of source.files) {
        const result = await readLines(
          file,
          (line) => {
            records++;
            this.line(line);
          },
          (bytes) => onProgress?.({ bytes: done + bytes, totalBytes, records }),
        );
        done += result.bytes;
        // A torn line can only be a crash's last write; it is skipped, like the PEP's next start cuts it.
        this.log.tornLast ||= result.tornLast;
        this.log.unreadable += result.overlong;
      }
      this.sessions.finish();
    }
    onProgress?.({ bytes: totalBytes, totalBytes, records });
  }

  private line(line: string): void {
    let record: EvidenceRecord;
    try {
      record = JSON.parse(line) as EvidenceRecord;
    } catch {
      this.log.unreadable++;
      return;
    }
    if (typeof record !== 'object' || record === null || typeof record.kind !== 'string') {
      this.log.unreadable++;
      return;
    }
    this.log.records++;
    this.log.pep ??= str(record.pep?.id);
    if (!(typeof record.seq === 'number' && record.seq < this.log.source.checkpointSize))
      this.log.uncovered++;
    this.kinds.set(record.kind, (this.kinds.get(record.kind) ?? 0) + 1);
    if (!this.dispatch(record, Date.parse(record.time))) this.log.unreadable++;
  }

  /** Counts one record where it belongs; false when its kind's fields are missing. */
  private dispatch(r: EvidenceRecord, t: number): boolean {
    const f = this.filters;
    const chain = str(r.chain) ?? '';
    switch (r.kind) {
      case 'chain': {
        const ev = r.chain_event;
        if (!ev) return false;
        if (ev.event === 'open') this.sessions.opened(chain, t, str(r.subject?.agent));
        else if (ev.event === 'close') {
          const covered = typeof r.seq === 'number' && r.seq < this.log.source.checkpointSize;
          const received = typeof ev.received === 'number' ? ev.received : undefined;
          this.sessions.closed(chain, t, received, covered);
        }
        return true;
      }
      case 'decision': {
        const d = r.decision;
        const tool = str(r.request?.tool);
        if (!d || tool === undefined || !Array.isArray(d.reasons) || !Array.isArray(d.rules)) return false;
        this.sessions.decided(chain);
        const agent = str(r.subject?.agent);
        if (!inPeriod(f, t) || (f.agent !== undefined && agent !== f.agent) || !toolMatches(f, tool))
          return true;
        this.seen(t);
        this.calls.decision(
          t,
          agent ?? '(none)',
          r.subject?.verified === true,
          tool,
          str(r.request?.server),
          d,
        );
        return true;
      }
      case 'action':
      case 'outcome': {
        const body = r.kind === 'action' ? r.action : r.outcome;
        const tool = str(body?.tool);
        if (!body || tool === undefined) return false;
        const agent = this.sessions.agentOf(chain);
        if (!inPeriod(f, t) || (f.agent !== undefined && agent !== f.agent) || !toolMatches(f, tool))
          return true;
        this.seen(t);
        if (r.action) this.calls.action(t, agent, tool, r.action);
        if (r.outcome) this.calls.outcome(r.outcome);
        return true;
      }
      case 'approval': {
        const a = r.approval;
        if (!a || typeof a.request !== 'string') return false;
        if (!inPeriod(f, t) || (f.agent !== undefined && a.agent !== f.agent) || !toolMatches(f, a.tool))
          return true;
        this.seen(t);
        this.approvals.add(t, a);
        return true;
      }
      case 'waiver': {
        const w = r.waiver;
        if (!w || typeof w.waiver !== 'string') return false;
        if (!agentMatches(f, w.agent) || !waiverToolMatches(f, w.tool)) return true;
        const counted = inPeriod(f, t);
        if (counted) this.seen(t);
        this.waivers.add(r.time, w, counted);
        return true;
      }
      case 'drift':
      case 'definition': {
        const body = r.kind === 'drift' ? r.drift : r.definition;
        if (!body) return false;
        // Not about one agent: shown whatever --agent says; --tool keeps those about that tool.
        if (!inPeriod(f, t) || (f.tool !== undefined && body.tool !== f.tool)) return true;
        this.seen(t);
        if (r.drift) this.fleet.addDrift(r.time, r.drift);
        if (r.definition) this.fleet.addDefinition(r.definition);
        return true;
      }
      case 'policy': {
        if (!r.policy_event) return false;
        if (!inPeriod(f, t)) return true;
        this.seen(t);
        this.fleet.addPolicy(r.policy_event);
        return true;
      }
      default:
        return true;
    }
  }

  private seen(t: number): void {
    if (t < this.first) this.first = t;
    if (t > this.last) this.last = t;
  }
}
