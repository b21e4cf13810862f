import { EffectSchema, type Effect } from '../core/effect.js';
import { isBlocked } from './case.js';

/**
 * Binary classification metrics with the positive class "blocked" (deny or escalate): a true
 * positive is a call that should not go ahead as asked and did not. Ratios with a zero denominator
 * are 0 (there is nothing to be right about), except precision with no positive prediction and no
 * positive case, which is 1 (nothing claimed, nothing missed).
 */
export interface Metrics {
  precision: number;
  recall: number;
  f1: number;
  /** False-positive rate: allowed calls that were blocked, over all calls that should be allowed. */
  fpr: number;
  accuracy: number;
}

/** Counts of the binary outcome. */
export interface BinaryCounts {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

/** `confusion[expected][got]`: how often a case expecting one effect got another. */
export type Confusion = Record<Effect, Record<Effect, number>>;

const EFFECTS = EffectSchema.options;

/** A confusion matrix of zeros. */
export function emptyConfusion(): Confusion {
  return {
    allow: { allow: 0, deny: 0, escalate: 0 },
    deny: { allow: 0, deny: 0, escalate: 0 },
    escalate: { allow: 0, deny: 0, escalate: 0 },
  };
}

/** Counts (expected, got) pairs into a confusion matrix. */
export function confusionOf(pairs: readonly { expect: Effect; got: Effect }[]): Confusion {
  const c = emptyConfusion();
  for (const { expect, got } of pairs) c[expect][got]++;
  return c;
}

/** Collapses the matrix to blocked-vs-allowed counts. */
export function binaryCounts(confusion: Confusion): BinaryCounts {
  const counts: BinaryCounts = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (const expected of EFFECTS) {
    for (const got of EFFECTS) {
      const n = confusion[expected][got];
      if (isBlocked(expected)) counts[isBlocked(got) ? 'tp' : 'fn'] += n;
      else counts[isBlocked(got) ? 'fp' : 'tn'] += n;
    }
  }
  return counts;
}

/** The metrics of a confusion matrix, rounded to four places. */
export function metricsOf(confusion: Confusion): Metrics {
  const { tp, fp, tn, fn } = binaryCounts(confusion);
  const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);
  const precision = tp + fp === 0 ? (fn === 0 ? 1 : 0) : tp / (tp + fp);
  const recall = ratio(tp, tp + fn);
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return {
    precision: round(precision),
    recall: round(recall),
    f1: round(f1),
    fpr: round(ratio(fp, fp + tn)),
    accuracy: round(ratio(tp + tn, tp + fp + tn + fn)),
  };
}

/** The p-th percentile (0..100) by nearest rank; 0 for no samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return 0;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

const round = (x: number) => Math.round(x * 10_000) / 10_000;
