import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load-config.js';
import { ConfigError } from '../config/yaml-file.js';
import { EVAL_STAGES, type EvalStage } from '../evals/runner.js';
import { formatSplits, readSplits, runSplits } from '../evals/splits.js';
import { readPolicySet } from '../policy/policy-set.js';
import { createVerifier } from '../semantic/factory.js';
import { EXIT, UsageError, out } from './io.js';

/** `mcpgov evals splits`: every split of evals/splits.yaml measured and reported separately. */
export async function splitsCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', default: path.join('evals', 'mcpgov.yaml') },
      splits: { type: 'string' },
      stage: { type: 'string', default: 'semantic' },
      'session-length': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const stage = values.stage as EvalStage;
  if (!EVAL_STAGES.includes(stage)) throw new UsageError(`--stage must be one of ${EVAL_STAGES.join(', ')}`);
  const sessionLength = values['session-length'] === undefined ? undefined : Number(values['session-length']);
  if (sessionLength !== undefined && (!Number.isInteger(sessionLength) || sessionLength < 1)) {
    throw new UsageError('--session-length takes a whole number of calls');
  }
  const config = await loadConfig(values.config);
  const splitsFile = values.splits ?? path.join(config.dir, 'splits.yaml');
  const splits = await readSplits(splitsFile);
  const verifier = stage === 'deterministic' ? undefined : createVerifier(config.semantic, config.dir);
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
