import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { YamlFile, ConfigError } from '../config/yaml-file.js';
import { expandCaseGlobs, loadCases } from './load.js';
import { EVAL_STAGES, runEvals, type EvalReport, type EvalStage, type RunOptions } from './runner.js';

/**
 * Which case files tune the offline verifier and which only measure it (evals/splits.yaml). Nothing
 * is tuned on a `holdout` or `test` split: a change is designed on `tune` splits, then measured on all.
 */
export const SplitsFileSchema = z.strictObject({
  splits: z
    .array(
      z.strictObject({
        name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
        role: z.enum(['tune', 'holdout', 'test']),
        /** Globs relative to the splits file. */
        cases: z.array(z.string().min(1)).min(1),
        /** The stages the split means something for (R-Judge's tools are in no registry: semantic only). */
        stages: z.array(z.enum(EVAL_STAGES as [EvalStage, ...EvalStage[]])).optional(),
        /** How the files come to exist when they are not committed (e.g. `npm run evals:rjudge`). */
        generated_by: z.string().optional(),
        /** Where the cases came from and what was looked at while tuning. */
        note: z.string().min(1),
      }),
    )
    .min(1),
});
export type SplitsFile = z.infer<typeof SplitsFileSchema>;
export type Split = SplitsFile['splits'][number];

/** One split's outcome: its report, or why it did not run. */
export interface SplitResult {
  name: string;
  role: Split['role'];
  files: string[];
  report?: EvalReport;
  /** Set when the split did not run at this stage: not generated, or not meant for it. */
  skipped?: string;
}

/** Reads and checks a splits file; problems carry its file and line. */
export async function readSplits(file: string): Promise<Split[]> {
  const { yaml, problems } = await YamlFile.read(file);
  if (!yaml) throw new ConfigError(problems);
  const { value, problems: invalid } = yaml.validate(SplitsFileSchema);
  if (!value) throw new ConfigError(invalid);
  return value.splits;
}

/** Runs each split at `options.stage`, one report per split. */
export async function runSplits(
  splitsFile: string,
  splits: Split[],
  options: RunOptions,
): Promise<SplitResult[]> {
  const base = path.dirname(splitsFile);
  const results: SplitResult[] = [];
  for (const split of splits) {
    const patterns = split.cases.map((p) => path.join(base, p));
    const files = await expandCaseGlobs(patterns);
    const result: SplitResult = { name: split.name, role: split.role, files };
    if (split.stages && !split.stages.includes(options.stage)) {
      result.skipped = `not measured at the ${options.stage} stage`;
    } else if (files.length === 0 || files.some((f) => !existsSync(f))) {
      result.skipped = `no case files${split.generated_by ? ` (run ${split.generated_by})` : ''}`;
    } else {
      const cases = await loadCases(files);
      result.report = await runEvals(
        cases.map((c) => c.case),
        options,
      );
    }
    results.push(result);
  }
  return results;
}

/** The splits as one table: a row per split, metrics and latency, skipped splits with the reason. */
export function formatSplits(results: readonly SplitResult[], heading: string): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`.padStart(8);
  const lines = [
    heading,
    '',
    `  ${'split'.padEnd(16)}${'role'.padEnd(9)}${'cases'.padStart(6)}${'precision'.padStart(11)}${'recall'.padStart(8)}${'f1'.padStart(8)}${'fpr'.padStart(8)}${'accuracy'.padStart(10)}   p50 / p99 ms`,
  ];
  for (const r of results) {
    const head = `  ${r.name.padEnd(16)}${r.role.padEnd(9)}`;
    if (!r.report) {
      lines.push(`${head}${'-'.padStart(6)}   ${r.skipped ?? ''}`);
      continue;
    }
    const m = r.report.metrics;
    lines.push(
      `${head}${String(r.report.cases).padStart(6)}${pct(m.precision).padStart(11)}${pct(m.recall)}${pct(m.f1)}${pct(m.fpr)}${pct(m.accuracy).padStart(10)}   ${r.report.latency_ms.p50} / ${r.report.latency_ms.p99}`,
    );
  }
  return lines.join('\n');
}
