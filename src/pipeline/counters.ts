import type { Reservation } from '../core/decision.js';

/**
 * Rate and spend counters behind a small interface, so replicas can later share them through an
 * existing engine (Redis) instead of this in-process default. Both take a reservation up front and give
 * it back if the call is not forwarded, so concurrent calls cannot overshoot a cap.
 */
export interface CounterStore {
  /**
   * Takes one slot in a sliding window of `windowMs`, or resolves undefined when `limit` are taken.
   * Rejects with `CounterUnavailableError` when the counters cannot be reached.
   */
  acquireRate(key: string, now: number, limit: number, windowMs: number): Promise<Reservation | undefined>;
  /**
   * Adds `amount` to the total of `key` for `day`, or resolves undefined when it would pass `limit`.
   * Rejects with `CounterUnavailableError` when the counters cannot be reached.
   */
  chargeSpend(key: string, day: string, amount: number, limit: number): Promise<Reservation | undefined>;
}

/** The counters could not be reached (a shared store is down): a cap cannot be checked. */
export class CounterUnavailableError extends Error {
  override readonly name = 'CounterUnavailableError';
}

/** Spend totals by UTC day (`YYYY-MM-DD`), then by key. */
export type SpendTotals = Record<string, Record<string, number>>;

/** Options of the embedded store. */
export interface MemoryCounterOptions {
  /** Totals to start from (what an earlier process persisted). */
  spend?: SpendTotals;
  /** Called after each change to a spend total (a charge or its release). */
  onSpendChange?: () => void;
}

/** The embedded, single-process counter store. */
export class MemoryCounterStore implements CounterStore {
  private readonly windows = new Map<string, number[]>();
  private readonly spend = new Map<string, Map<string, number>>();

  constructor(private readonly opts: MemoryCounterOptions = {}) {
    for (const [day, totals] of Object.entries(opts.spend ?? {}))
      this.spend.set(day, new Map(Object.entries(totals)));
  }

  acquireRate(key: string, now: number, limit: number, windowMs: number): Promise<Reservation | undefined> {
    return Promise.resolve(this.takeRate(key, now, limit, windowMs));
  }

  chargeSpend(key: string, day: string, amount: number, limit: number): Promise<Reservation | undefined> {
    return Promise.resolve(this.charge(key, day, amount, limit));
  }

  private takeRate(key: string, now: number, limit: number, windowMs: number): Reservation | undefined {
    const hits = this.windows.get(key) ?? [];
    // Hits are kept in arrival order, so expired ones are all at the front.
    let expired = 0;
    while (expired < hits.length && (hits[expired] ?? 0) <= now - windowMs) expired++;
    if (expired > 0) hits.splice(0, expired);
    if (hits.length >= limit) {
      this.windows.set(key, hits);
      return undefined;
    }
    hits.push(now);
    this.windows.set(key, hits);
    return {
      release: () => {
        const i = hits.lastIndexOf(now);
        if (i >= 0) hits.splice(i, 1);
      },
    };
  }

  private charge(key: string, day: string, amount: number, limit: number): Reservation | undefined {
    const totals = this.spend.get(day) ?? new Map<string, number>();
    this.spend.set(day, totals);
    const total = totals.get(key) ?? 0;
    if (total + amount > limit) return undefined;
    totals.set(key, total + amount);
    this.opts.onSpendChange?.();
    return {
      release: () => {
        totals.set(key, (totals.get(key) ?? amount) - amount);
        this.opts.onSpendChange?.();
      },
    };
  }

  /** The spend totals by day; with `keepOnly`, the days it rejects are forgotten first. */
  spendTotals(keepOnly?: (day: string) => boolean): SpendTotals {
    const out: SpendTotals = {};
    for (const [day, totals] of this.spend) {
      if (keepOnly && !keepOnly(day)) {
        this.spend.delete(day);
        continue;
      }
      out[day] = Object.fromEntries(totals);
    }
    return out;
  }
}
