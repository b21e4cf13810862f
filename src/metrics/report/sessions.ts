import { agentMatches, inPeriod, type ReportFilters } from './filters.js';

/**
 * Sessions open at once that are followed, at most: past it the oldest is counted as never closed (a
 * session that stayed open while this many newer ones opened was cut off by a crash). Each costs a
 * few dozen bytes; sessions close (an idle HTTP session after `session_idle_seconds`), so the map
 * holds what is open at one point of the log, not every session in it.
 */
export const MAX_OPEN_SESSIONS = 100_000;

interface OpenSession {
  agent?: string;
  /** Opened in the period, by an agent the filter keeps: counted in coverage and completeness. */
  counted: boolean;
  /** Decision records of the session so far. */
  decided: number;
}

/** Coverage and completeness, from each session's chain: its open and close records and decisions. */
export interface SessionTotals {
  /** Session chains opened in the period (or closed in it, when their open record is missing). */
  sessions: number;
  /** ... with a close record. */
  closed: number;
  /** ... closed, and the close record covered by the log's last signed checkpoint. */
  complete: number;
  /** Closed sessions whose close record carries the transport's `received` count. */
  counted: number;
  /** Their tools/call requests as the transport received them. */
  received: number;
  /** Their decision records. */
  decided: number;
  /** Closed sessions without a `received` count (written before it existed): left out of coverage. */
  withoutCount: number;
  /** Sessions without a close record at the end of the log (still open, or cut off by a crash). */
  open: number;
  /** Decision records of those sessions (outside coverage: their received count is not known yet). */
  decidedInOpen: number;
}

/** Follows session chains through a log: which are open, their decisions, and how they closed. */
export class SessionTracker {
  private readonly open = new Map<string, OpenSession>();
  readonly totals: SessionTotals = {
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

  constructor(private readonly filters: ReportFilters) {}

  opened(chain: string, time: number, agent: string | undefined): void {
    const counted = inPeriod(this.filters, time) && agentMatches(this.filters, agent);
    if (counted) this.totals.sessions++;
    this.open.set(chain, { agent, counted, decided: 0 });
    if (this.open.size > MAX_OPEN_SESSIONS) {
      const [oldest, session] = this.open.entries().next().value!;
      this.open.delete(oldest);
      this.leftOpen(session);
    }
  }

  /** The agent of an open session (action records do not name it), if the session is known. */
  agentOf(chain: string): string | undefined {
    return this.open.get(chain)?.agent;
  }

  /** Whether the chain is a session the report follows (opened, not closed yet). */
  isOpen(chain: string): boolean {
    return this.open.has(chain);
  }

  decided(chain: string): void {
    const session = this.open.get(chain);
    if (session) session.decided++;
  }

  /**
   * A close record: `received` is the transport's count (undefined in logs written before it
   * existed); `covered` whether the log's last signed checkpoint covers this record.
   */
  closed(chain: string, time: number, received: number | undefined, covered: boolean): void {
    let session = this.open.get(chain);
    this.open.delete(chain);
    if (!session) {
      // Its open record is not in the log (cut off before it, or evicted above): the session is
      // counted by its close time, unless an agent filter asks for an agent it cannot name.
      const counted = this.filters.agent === undefined && inPeriod(this.filters, time);
      if (!counted) return;
      this.totals.sessions++;
      session = { counted, decided: 0 };
    }
    if (!session.counted) return;
    const t = this.totals;
    t.closed++;
    if (covered) t.complete++;
    if (received === undefined) {
      t.withoutCount++;
      return;
    }
    t.counted++;
    t.received += received;
    t.decided += session.decided;
  }

  /** Ends a log: sessions still open were never closed in it. */
  finish(): void {
    for (const session of this.open.values()) this.leftOpen(session);
    this.open.clear();
  }

  private leftOpen(session: OpenSession): void {
    if (!session.counted) return;
    this.totals.open++;
    this.totals.decidedInOpen += session.decided;
  }
}
