import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load-config.js';
import { ConfigError } from '../config/yaml-file.js';
import { CaseLoadError, loadCases } from '../evals/load.js';
import { formatReport } from '../evals/report.js';
import { convertRJudgeFile } from '../evals/rjudge.js';
import { EVAL_STAGES, runEvals, type EvalStage } from '../evals/runner.js';
import { checkThresholds, formatThresholdFailure, readThresholds } from '../evals/thresholds.js';
import { readPolicySet } from '../policy/policy-set.js';
import { createVerifier } from '../semantic/factory.js';
import { EXIT, UsageError, err, out } from './io.js';

export const evalsHelp = `Usage: mcpgov evals <subcommand>

  run [--cases GLOB...] [--stage deterministic|semantic|pipeline] [--verifier heuristic|llm|replay]
      [--record] [--json]
      runs eval cases (JSONL, one case a line) and prints precision, recall, F1, false-positive
      rate, accuracy (positive class: blocked = deny or escalate), the confusion matrix, latency
      p50/p99 and the misclassified cases. Exits 1 when a metric is outside evals/thresholds.json.
        deterministic  stage 1 only: registries and rules, no semantic check
        semantic       the verifier alone on each case (needs no registry)
        pipeline       the whole decision, with the verifier as stage 2 (default)
  splits [--stage S] [--splits FILE] [--session-length N] [--json]
      every split of evals/splits.yaml (own cases, holdouts, R-Judge dev and test) measured and
      reported separately, each with its role: tune, holdout or test (default stage: semantic)
  convert-rjudge [--in FILE] --out DIR
      turns the R-Judge dataset into eval cases: DIR/rjudge-dev.jsonl and DIR/rjudge-test.jsonl
      (a fixed split by id hash; tune on dev, report test)

Options:
  --config FILE       the suite's config: registries, policies, paths and the semantic verifier
                      (default: evals/mcpgov.yaml)
  --cases GLOB        case files, repeatable (default: cases/*.jsonl beside the config)
  --stage S           deterministic, semantic or pipeline (default: pipeline)
  --verifier V        heuristic, llm or replay (default: the config's semantic.verifier)
  --json              print only the JSON report
  --thresholds FILE   metric bounds per stage (default: thresholds.json beside the config, if any)
  --no-thresholds     report only, never fail on metrics
  --failures N        misclassified cases listed in the table (default: 20)
  --session-length N  decide each case as call N of a session: plain earlier calls fill its history
                      (measures what a long session costs flow tracking and the verifier)
  --record            with --verifier llm: store each live answer as a cassette (semantic.llm.cassettes)
                      for --verifier replay; never run against a test double
  --in FILE           (convert-rjudge) the dataset (default: ../shared/datasets/rjudge.json)
  --out DIR           (convert-rjudge) where the case files go
  -h, --help          show this help`;

/** `mcpgov evals ...`. */
export async function evalsCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'run') return runCommand(rest);
  if (sub === 'convert-rjudge') return convertCommand(rest);
  if (sub === 'splits') return (await import('./evals-splits.js')).splitsCommand(rest);
  throw new UsageError(sub === undefined ? 'a subcommand is required' : `unknown subcommand "${sub}"`);
}

const VERIFIERS = ['heuristic', 'llm', 'replay'] as const;

async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', default: path.join('evals', 'mcpgov.yaml') },
      cases: { type: 'string', multiple: true },
      stage: { type: 'string', default: 'pipeline' },
      verifier: { type: 'string' },
      json: { type: 'boolean', default: false },
      thresholds: { type: 'string' },
      'no-thresholds': { type: 'boolean', default: false },
      failures: { type: 'string', default: '20' },
      record: { type: 'boolean', default: false },
      'session-length': { type: 'string' },
    },
  });
  const sessionLength = values['session-length'] === undefined ? undefined : Number(values['session-length']);
  if (sessionLength !== undefined && (!Number.isInteger(sessionLength) || sessionLength < 1)) {
    throw new UsageError('--session-length takes a whole number of calls');
  }
  const stage = values.stage as EvalStage;
  if (!EVAL_STAGES.includes(stage)) throw new UsageError(`--stage must be one of ${EVAL_STAGES.join(', ')}`);
  const verifierName = values.verifier as (typeof VERIFIERS)[number] | undefined;
  if (verifierName !== undefined && !VERIFIERS.includes(verifierName)) {
    throw new UsageError(`--verifier must be one of ${VERIFIERS.join(', ')}`);
  }
  const failures = Number(values.failures);
  if (!Number.isInteger(failures) || failures < 0) throw new UsageError('--failures takes a whole number');

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
      stage === 'deterministic' ? undefined : createVerifier(semantic, config.dir, { record: values.record });
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

  const thresholdsFile = values.thresholds ?? path.join(config.dir, 'thresholds.json');
  if (values['no-thresholds'] || (values.thresholds === undefined && !existsSync(thresholdsFile)))
    return EXIT.ok;
  const broken = checkThresholds(report.metrics, stage, await readThresholds(thresholdsFile));
  for (const f of broken) err(`FAIL (${stage}): ${formatThresholdFailure(f)} (${thresholdsFile})`);
  return broken.length > 0 ? EXIT.failed : EXIT.ok;
}

async function convertCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      in: { type: 'string', default: path.join('..', 'shared', 'datasets', 'rjudge.json') },
      out: { type: 'string' },
    },
  });
  if (!values.out) throw new UsageError('--out DIR is required');
  const result = await convertRJudgeFile(values.in, values.out);
  const forms = Object.entries(result.forms)
    .map(([form, n]) => `${form} ${n}`)
    .join(', ');
  out(
    `ok: ${result.records} records -> ${result.cases.dev.length} dev + ${result.cases.test.length} test cases (${result.files.join(', ')}); ${result.skipped.length} records without a tool call skipped; calls written as: ${forms}`,
  );
  return EXIT.ok;
}
