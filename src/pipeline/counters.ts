import type { Reservation } from '../core/decision.js';

/**
 * Rate and spend counters behind a small interface, so replicas can later share them through an
 * existing engine (Redis) instead of this in-process default. Both take a reservation up front and give
 * it back if the call is not forwarded, so concurrent calls cannot overshoot a cap.
 */
export interface CounterStore {
  /** Takes one slot in a sliding window of `windowMs`, or returns undefined when `limit` are taken. */
  acquireRate(key: string, now: number, limit: number, windowMs: number): Reservation | undefined;
  /** Adds `amount` to the total of `key` for `day`, or returns undefined when it would pass `limit`. */
  chargeSpend(key: string, day: string, amount: number, limit: number): Reservation | undefined;
}

/** The embedded, single-process counter store. */
export class MemoryCounterStore implements CounterStore {
  private readonly windows = new Map<string, number[]>();
  private readonly spend = new Map<string, number>();

  acquireRate(key: string, now: number, limit: number, windowMs: number): Reservation | undefined {
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

  chargeSpend(key: string, day: string, amount: number, limit: number): Reservation | undefined {
    const k = `${day}\u0000${key}`;
    const total = this.spend.get(k) ?? 0;
    if (total + amount > limit) return undefined;
    this.spend.set(k, total + amount);
    return { release: () => this.spend.set(k, (this.spend.get(k) ?? amount) - amount) };
  }
}
