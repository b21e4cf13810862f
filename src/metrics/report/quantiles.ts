/**
 * Percentiles in bounded memory, deterministic for a given log. Up to `exactLimit` values are kept as
 * they are, and percentiles are exact (nearest rank: the smallest value with at least q of all values
 * at or below it). Past that, the values move into a log-bucketed histogram (the DDSketch scheme,
 * Masson et al., VLDB 2019): bucket i holds values in (γ^(i-1), γ^i] with γ = (1+α)/(1-α), so every
 * percentile is returned within a relative error α, and the buckets needed grow with the logarithm of
 * the values' range, not with their number (about 1,100 buckets span 1 ms to a week at α = 1%).
 */
export class QuantileSketch {
  private exact: number[] | undefined = [];
  private readonly bins = new Map<number, number>();
  private zeros = 0;
  private readonly logGamma: number;
  private readonly gamma: number;
  count = 0;
  max = 0;

  constructor(
    private readonly exactLimit = 2048,
    /** Relative accuracy once the values no longer fit `exactLimit`. */
    readonly alpha = 0.01,
  ) {
    this.gamma = (1 + alpha) / (1 - alpha);
    this.logGamma = Math.log(this.gamma);
  }

  /** True while every value is kept (percentiles are exact). */
  get isExact(): boolean {
    return this.exact !== undefined;
  }

  add(value: number): void {
    if (!Number.isFinite(value) || value < 0) return;
    this.count++;
    if (value > this.max) this.max = value;
    if (this.exact) {
      this.exact.push(value);
      if (this.exact.length > this.exactLimit) {
        const values = this.exact;
        this.exact = undefined;
        for (const v of values) this.bin(v);
      }
      return;
    }
    this.bin(value);
  }

  private bin(value: number): void {
    if (value === 0) {
      this.zeros++;
      return;
    }
    const i = Math.ceil(Math.log(value) / this.logGamma);
    this.bins.set(i, (this.bins.get(i) ?? 0) + 1);
  }

  /** Adds every value another sketch holds (its buckets, once it has left the exact mode). */
  merge(other: QuantileSketch): void {
    if (other.exact) {
      for (const v of other.exact) this.add(v);
      return;
    }
    if (this.exact) {
      const values = this.exact;
      this.exact = undefined;
      for (const v of values) this.bin(v);
    }
    this.count += other.count;
    this.max = Math.max(this.max, other.max);
    this.zeros += other.zeros;
    // Both sketches must share α for buckets to line up; a different α is re-binned at its midpoints.
    for (const [i, n] of other.bins) {
      const j = other.alpha === this.alpha ? i : Math.ceil(Math.log(other.binValue(i)) / this.logGamma);
      this.bins.set(j, (this.bins.get(j) ?? 0) + n);
    }
  }

  /** The bucket's representative: its midpoint in relative terms, 2γ^i / (γ + 1). */
  private binValue(i: number): number {
    return (2 * Math.pow(this.gamma, i)) / (this.gamma + 1);
  }

  /** The q-quantile (0 < q ≤ 1) by nearest rank, or null with no values. */
  quantile(q: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.count));
    if (this.exact) return [...this.exact].sort((a, b) => a - b)[rank - 1]!;
    if (rank <= this.zeros) return 0;
    let seen = this.zeros;
    for (const i of [...this.bins.keys()].sort((a, b) => a - b)) {
      seen += this.bins.get(i)!;
      if (seen >= rank) return Math.min(this.binValue(i), this.max);
    }
    return this.max;
  }
}
