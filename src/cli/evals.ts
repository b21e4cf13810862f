import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config/load-config.js';
import { ConfigError } from '../config/yaml-file.js';
import { CaseLoadError, loadCases } from '../evals/load.js';
import { formatReport } from '../evals/report.js';
import { convertRJudgeFile } from '../evals/rjudge.js';
import { runEvals, type EvalStage } from '../evals/runner.js';
import { checkThresholds, formatThresholdFailure, readThresholds } from '../evals/thresholds.js';
import { readPolicySet } from '../policy/policy-set.js';
import { createVerifier } from '../semantic/factory.js';
import { EXIT, UsageError, err, out } from './io.js';

/** Options of `mcpgov evals run` (commands/evidence.ts). */
export interface EvalsRunOptions {
  config: string;
  cases?: string[];
  stage: EvalStage;
  verifier?: 'heuristic' | 'llm' | 'replay';
  json?: boolean;
  /** A file, or false for --no-thresholds. */
  thresholds?: string | false;
  failures: number;
  record?: boolean;
  /** Decide each case as call N of a session (session-filler.ts). */
  sessionLength?: number;
}

/** `mcpgov evals run`: metrics per stage, gated by thresholds. */
export async function evalsRunCommand(values: EvalsRunOptions): Promise<number> {
  const { stage, failures, sessionLength } = values;
  const verifierName = values.verifier;

  const config = await loadConfig(values.config);
  const patterns = values.cases ?? [path.relative(process.cwd(), path.join(config.dir, 'cases', '*.jsonl'))];
  let cases;
  try {
    cases = await loadCases(patterns);
  } catch (e) {
    if (!(e instanceof CaseLoadError)) throw e;
    err(e.message);
    err(`${e.problems.length} problem${e.problems.length === 1 ? '' : 's'} in case files`);
    return EXIT.failed;
  }

  const semantic = { ...config.semantic, verifier: verifierName ?? config.semantic.verifier };
  let verifier;
  try {
    verifier =
      stage === 'deterministic'
        ? undefined
        : createVerifier(semantic, config.dir, { record: values.record ?? false });
  } catch (e) {
    // A verifier the config cannot build (an LLM judge without `semantic.llm`, a missing key) is a
    // configuration problem, reported in one line.
    err(`mcpgov evals: cannot use the ${semantic.verifier} verifier: ${(e as Error).message}`);
    return EXIT.failed;
  }
  if (stage !== 'deterministic' && !verifier) {
    throw new UsageError(`the ${stage} stage needs a verifier (the config says semantic.verifier: off)`);
  }
  let policy;
  if (stage !== 'semantic') {
    const read = await readPolicySet({ registries: config.registries, policies: config.policies });
    if (!read.policy) throw new ConfigError(read.problems);
    policy = read.policy;
  }

  const report = await runEvals(
    cases.map((c) => c.case),
    { stage, policy, verifier, paths: config.paths, timeoutMs: semantic.timeout_ms, sessionLength },
  );
  if (values.json) out(JSON.stringify(report));
  else {
    const files = new Set(cases.map((c) => c.file)).size;
    out(formatReport(report, { stage, verifier: verifier?.name, files }, { failures }));
  }

  if (values.thresholds === false) return EXIT.ok;
  const thresholdsFile = values.thresholds ?? path.join(config.dir, 'thresholds.json');
  if (values.thresholds === undefined && !existsSync(thresholdsFile)) return EXIT.ok;
  const broken = checkThresholds(report.metrics, stage, await readThresholds(thresholdsFile));
  for (const f of broken) err(`FAIL (${stage}): ${formatThresholdFailure(f)} (${thresholdsFile})`);
  return broken.length > 0 ? EXIT.failed : EXIT.ok;
}

/** `mcpgov evals convert-rjudge --out DIR`: the R-Judge dataset as eval cases. */
export async function convertRJudgeCommand(values: {
  in: string;
  out: string;
  json?: boolean;
}): Promise<number> {
  const result = await convertRJudgeFile(values.in, values.out);
  if (values.json) {
    out(
      JSON.stringify(
        {
          records: result.records,
          cases: { dev: result.cases.dev.length, test: result.cases.test.length },
          files: result.files,
          skipped: result.skipped,
          forms: result.forms,
        },
        null,
        2,
      ),
    );
    return EXIT.ok;
  }
  const forms = Object.entries(result.forms)
    .map(([form, n]) => `${form} ${n}`)
    .join(', ');
  out(
    `ok: ${result.records} records -> ${result.cases.dev.length} dev + ${result.cases.test.length} test cases (${result.files.join(', ')}); ${result.skipped.length} records without a tool call skipped; calls written as: ${forms}`,
  );
  return EXIT.ok;
}
