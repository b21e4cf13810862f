import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { Metrics } from './metrics.js';
import type { EvalStage } from './runner.js';

/**
 * `evals/thresholds.json`: per stage, the least each metric may be (`min`) and, for rates where
 * lower is better, the most (`max`). A run below a `min` or above a `max` fails (exit 1).
 */
const MetricBoundsSchema = z.strictObject({
  precision: z.number().min(0).max(1).optional(),
  recall: z.number().min(0).max(1).optional(),
  f1: z.number().min(0).max(1).optional(),
  fpr: z.number().min(0).max(1).optional(),
  accuracy: z.number().min(0).max(1).optional(),
});

const StageThresholdsSchema = z.strictObject({
  min: MetricBoundsSchema.default({}),
  max: MetricBoundsSchema.default({}),
});

export const ThresholdsFileSchema = z.strictObject({
  deterministic: StageThresholdsSchema.optional(),
  semantic: StageThresholdsSchema.optional(),
  pipeline: StageThresholdsSchema.optional(),
});
export type ThresholdsFile = z.infer<typeof ThresholdsFileSchema>;

/** One metric outside its bound. */
export interface ThresholdFailure {
  metric: keyof Metrics;
  value: number;
  bound: 'min' | 'max';
  limit: number;
}

/** Reads and validates a thresholds file; throws with the file name on any problem. */
export async function readThresholds(file: string): Promise<ThresholdsFile> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`, { cause: e });
  }
  const parsed = ThresholdsFileSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`${file}: ${first}`);
  }
  return parsed.data;
}

/** Every metric of `metrics` outside the stage's bounds; empty when the stage has none or all pass. */
export function checkThresholds(
  metrics: Metrics,
  stage: EvalStage,
  thresholds: ThresholdsFile,
): ThresholdFailure[] {
  const bounds = thresholds[stage];
  if (!bounds) return [];
  const failures: ThresholdFailure[] = [];
  for (const [metric, limit] of Object.entries(bounds.min) as [keyof Metrics, number][]) {
    if (metrics[metric] < limit) failures.push({ metric, value: metrics[metric], bound: 'min', limit });
  }
  for (const [metric, limit] of Object.entries(bounds.max) as [keyof Metrics, number][]) {
    if (metrics[metric] > limit) failures.push({ metric, value: metrics[metric], bound: 'max', limit });
  }
  return failures;
}

/** One failure as a line for stderr. */
export function formatThresholdFailure(f: ThresholdFailure): string {
  return `${f.metric} ${f.value.toFixed(4)} is ${f.bound === 'min' ? 'below the minimum' : 'above the maximum'} ${f.limit}`;
}
