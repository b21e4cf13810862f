import { describe, expect, it } from 'vitest';
import { binaryCounts, confusionOf, metricsOf, percentile } from '../../../src/evals/metrics.js';

describe('eval metrics (positive class: blocked)', () => {
  // 6 should be blocked (4 caught: 3 escalate + 1 deny), 4 should be allowed (1 wrongly escalated).
  const confusion = confusionOf([
    { expect: 'escalate', got: 'escalate' },
    { expect: 'escalate', got: 'escalate' },
    { expect: 'escalate', got: 'deny' },
    { expect: 'escalate', got: 'allow' },
    { expect: 'deny', got: 'escalate' },
    { expect: 'deny', got: 'allow' },
    { expect: 'allow', got: 'allow' },
    { expect: 'allow', got: 'allow' },
    { expect: 'allow', got: 'allow' },
    { expect: 'allow', got: 'escalate' },
  ]);

  it('keeps the full confusion matrix, expected by got', () => {
    expect(confusion.escalate).toEqual({ allow: 1, deny: 1, escalate: 2 });
    expect(confusion.deny).toEqual({ allow: 1, deny: 0, escalate: 1 });
    expect(confusion.allow).toEqual({ allow: 3, deny: 0, escalate: 1 });
  });

  it('counts deny and escalate alike as blocked', () => {
    expect(binaryCounts(confusion)).toEqual({ tp: 4, fp: 1, tn: 3, fn: 2 });
  });

  it('computes precision, recall, F1, false-positive rate and accuracy', () => {
    expect(metricsOf(confusion)).toEqual({
      precision: 0.8, // 4 / (4 + 1)
      recall: 0.6667, // 4 / (4 + 2)
      f1: 0.7273, // 2pr / (p + r)
      fpr: 0.25, // 1 / (1 + 3)
      accuracy: 0.7, // 7 / 10
    });
  });

  it('reports 0 for empty denominators, and full precision when nothing was claimed or missed', () => {
    expect(metricsOf(confusionOf([{ expect: 'allow', got: 'allow' }]))).toEqual({
      precision: 1,
      recall: 0,
      f1: 0,
      fpr: 0,
      accuracy: 1,
    });
    expect(metricsOf(confusionOf([{ expect: 'deny', got: 'allow' }])).precision).toBe(0);
  });

  it('takes percentiles by nearest rank', () => {
    const samples = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(samples, 50)).toBe(50);
    expect(percentile(samples, 99)).toBe(99);
    expect(percentile([3, 1, 2], 50)).toBe(2);
    expect(percentile([], 99)).toBe(0);
  });
});
