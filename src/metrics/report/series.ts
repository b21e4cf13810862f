import { QuantileSketch } from './quantiles.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;

/**
 * Bucket widths, each a multiple of the one before (buckets aligned to the epoch nest, so a finer
 * series folds into a coarser one exactly), with the longest span each is used for: hours up to a
 * week, days up to 400 days, then weeks, 4-week and 52-week periods, so a series never holds more
 * than a few hundred buckets whatever the range.
 */
const UNITS = [
  { name: 'hour', ms: HOUR, maxSpan: 7 * DAY },
  { name: 'day', ms: DAY, maxSpan: 400 * DAY },
  { name: 'week', ms: WEEK, maxSpan: 400 * WEEK },
  { name: '4 weeks', ms: 4 * WEEK, maxSpan: 400 * 4 * WEEK },
  { name: '52 weeks', ms: 52 * WEEK, maxSpan: Number.POSITIVE_INFINITY },
] as const;

export type SeriesUnit = (typeof UNITS)[number]['name'];

/** What one bucket counts. */
export interface BucketCounts {
  /** Decision records: governed tools/call requests. */
  calls: number;
  allowed: number;
  denied_enforced: number;
  denied_observed: number;
  escalated_enforced: number;
  escalated_observed: number;
  waived: number;
  /** Action records of forwarded calls. */
  forwarded: number;
  approvals_created: number;
  approvals_decided: number;
}

export type BucketField = keyof BucketCounts;

interface Bucket extends BucketCounts {
  /** Time to decision of the approvals decided in the bucket. */
  ttd?: QuantileSketch;
}

/** One bucket as the report gives it. */
export interface SeriesPoint extends BucketCounts {
  start: string;
  time_to_decision_p50_ms: number | null;
  time_to_decision_p90_ms: number | null;
}

const emptyCounts = (): BucketCounts => ({
  calls: 0,
  allowed: 0,
  denied_enforced: 0,
  denied_observed: 0,
  escalated_enforced: 0,
  escalated_observed: 0,
  waived: 0,
  forwarded: 0,
  approvals_created: 0,
  approvals_decided: 0,
});

/** Counts per hour (or per day, ... for longer spans), the width chosen by the span seen so far. */
export class TimeSeries {
  private unit = 0;
  private readonly buckets = new Map<number, Bucket>();
  private min = Number.POSITIVE_INFINITY;
  private max = Number.NEGATIVE_INFINITY;

  /** Adds `n` to one count of the bucket holding time `t` (ms since the epoch). */
  count(t: number, field: BucketField, n = 1): void {
    this.bucket(t)[field] += n;
  }

  /** Notes an approval's time to decision in the bucket holding `t`. */
  timeToDecision(t: number, ms: number): void {
    const b = this.bucket(t);
    // Small per bucket: exact up to 256 decisions in one bucket, then 2% buckets.
    (b.ttd ??= new QuantileSketch(256, 0.02)).add(ms);
  }

  private bucket(t: number): Bucket {
    if (t < this.min) this.min = t;
    if (t > this.max) this.max = t;
    while (this.max - this.min > UNITS[this.unit]!.maxSpan && this.unit < UNITS.length - 1) this.coarsen();
    const ms = UNITS[this.unit]!.ms;
    const start = Math.floor(t / ms) * ms;
    let b = this.buckets.get(start);
    if (!b) {
      b = emptyCounts();
      this.buckets.set(start, b);
    }
    return b;
  }

  /** Folds the buckets into the next wider unit. */
  private coarsen(): void {
    this.unit++;
    const ms = UNITS[this.unit]!.ms;
    const old = [...this.buckets];
    this.buckets.clear();
    for (const [start, b] of old) {
      const key = Math.floor(start / ms) * ms;
      const into = this.buckets.get(key);
      if (!into) {
        this.buckets.set(key, b);
        continue;
      }
      for (const f of Object.keys(emptyCounts()) as BucketField[]) into[f] += b[f];
      if (b.ttd) (into.ttd ??= new QuantileSketch(256, 0.02)).merge(b.ttd);
    }
  }

  /** Every bucket from the first to the last, empty ones included, oldest first. */
  points(): { unit: SeriesUnit; points: SeriesPoint[] } {
    const { name, ms } = UNITS[this.unit]!;
    if (this.buckets.size === 0) return { unit: name, points: [] };
    const first = Math.floor(this.min / ms) * ms;
    const last = Math.floor(this.max / ms) * ms;
    const points: SeriesPoint[] = [];
    for (let start = first; start <= last; start += ms) {
      const b = this.buckets.get(start);
      const { ttd, ...counts } = b ?? { ...emptyCounts(), ttd: undefined };
      points.push({
        start: new Date(start).toISOString(),
        ...counts,
        time_to_decision_p50_ms: ttd?.quantile(0.5) ?? null,
        time_to_decision_p90_ms: ttd?.quantile(0.9) ?? null,
      });
    }
    return { unit: name, points };
  }
}
