import path from 'node:path';
import { loadConfig } from '../config/load-config.js';
import { ConfigError } from '../config/yaml-file.js';
import type { EvalStage } from '../evals/runner.js';
import { formatSplits, readSplits, runSplits } from '../evals/splits.js';
import { readPolicySet } from '../policy/policy-set.js';
import { createVerifier } from '../semantic/factory.js';
import { EXIT, out } from './io.js';

/** Options of `mcpgov evals splits` (commands/evidence.ts). */
export interface EvalsSplitsOptions {
  config: string;
  splits?: string;
  stage: EvalStage;
  verifier?: 'heuristic' | 'llm' | 'replay';
  record?: boolean;
  sessionLength?: number;
  json?: boolean;
}

/** `mcpgov evals splits`: every split of evals/splits.yaml measured and reported separately. */
export async function evalsSplitsCommand(values: EvalsSplitsOptions): Promise<number> {
  const { stage, sessionLength } = values;
  const config = await loadConfig(values.config);
  const splitsFile = values.splits ?? path.join(config.dir, 'splits.yaml');
  const splits = await readSplits(splitsFile);
  const semantic = { ...config.semantic, verifier: values.verifier ?? config.semantic.verifier };
  const verifier =
    stage === 'deterministic' ? undefined : createVerifier(semantic, config.dir, { record: values.record });
  let policy;
  if (stage !== 'semantic') {
    const read = await readPolicySet({ registries: config.registries, policies: config.policies });
    if (!read.policy) throw new ConfigError(read.problems);
    policy = read.policy;
  }
  const results = await runSplits(splitsFile, splits, {
    stage,
    policy,
    verifier,
    paths: config.paths,
    timeoutMs: config.semantic.timeout_ms,
    sessionLength,
  });
  if (values.json) {
    out(
      JSON.stringify({
        stage,
        session_length: sessionLength ?? null,
        splits: results.map(({ name, role, files, report, skipped }) => ({
          name,
          role,
          files: files.map((f) => path.relative(process.cwd(), f)),
          ...(report ? { cases: report.cases, metrics: report.metrics, latency_ms: report.latency_ms } : {}),
          ...(skipped ? { skipped } : {}),
        })),
      }),
    );
  } else {
    const session = sessionLength ? `, each case as call ${sessionLength} of its session` : '';
    out(
      formatSplits(
        results,
        `stage ${stage}${verifier ? `, verifier ${verifier.name}` : ''}${session}: every split of ${path.relative(process.cwd(), splitsFile)}`,
      ),
    );
  }
  return EXIT.ok;
}
