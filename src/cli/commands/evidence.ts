import path from 'node:path';
import { Option } from 'commander';
import {
  collect,
  configOption,
  jsonOption,
  positiveInt,
  wholeNumber,
  type McpgovCommand,
} from '../command.js';
import type { EvidenceOptions } from '../evidence.js';
import type { EvalsRunOptions } from '../evals.js';
import type { EvalsSplitsOptions } from '../evals-splits.js';
import { PACKAGE_ROOT } from '../../util/version.js';

/** `mcpgov evidence ...` and `mcpgov evals ...`: what was recorded, and how well decisions do. */
export function evidenceCommands(program: McpgovCommand): void {
  const evidence = program
    .command('evidence')
    .summary('verify evidence offline, export it for a SIEM (JSONL, OCSF), pack one session')
    .usage('<subcommand> [options]')
    .description(
      'Signed, hash-chained evidence: verify it offline, export it, pack a session, pull replicas.',
    );
  const load = () => import('../evidence.js');

  evidence
    .command('verify')
    .summary('verify an evidence folder or an evidence pack offline against pinned public keys')
    .description(
      'Verifies an evidence folder or an evidence pack offline against pinned public keys.\n' +
        'A folder: record hashes and links, seq continuity, checkpoint signatures and roots, and that the\n' +
        "last record is covered by a checkpoint; then each replica of a sidecar's log the folder keeps under\n" +
        "peps/<id>/ (pin those PEPs' keys in the same --jwks file).\n" +
        "A pack: the signed manifest, the exact file set and hashes, the checkpoint, and each record's\n" +
        'inclusion proof. Prints the first bad record and why, and exits 1.',
    )
    .argument('<path>', 'an evidence folder or pack')
    // Checked by the command, which says why it is required.
    .option('--jwks <file>', 'required: the public keys you trust, e.g. from "mcpgov keys generate"')
    .addOption(jsonOption("print each log's verification as JSON"))
    .run(async (opts: EvidenceOptions, [p]) => (await load()).verifyCommand(opts, p!));

  evidence
    .command('export')
    .summary('the log as native JSONL or as OCSF 1.8 events, for a SIEM')
    .description(
      'Writes the log as native JSONL, or as OCSF 1.8 events (API Activity 6003 with the security_control\n' +
        'profile; Detection Finding 2004 for failed outcome checks, drift, and a log whose hash chain does\n' +
        'not verify). metadata.uid is the record id, so re-ingesting is idempotent.',
    )
    .addOption(configOption())
    .addOption(
      new Option('--format <format>', 'jsonl or ocsf').choices(['jsonl', 'ocsf']).makeOptionMandatory(),
    )
    .option('--since <time>', 'only records at or after this ISO 8601 time')
    .option('--out <file>', 'write here instead of stdout')
    .option('--dir <dir>', "the evidence folder to read (default: the config's evidence.dir)")
    .run(async (opts: EvidenceOptions) => (await load()).exportCommand(opts));

  evidence
    .command('pack')
    .summary("one session's records with inclusion proofs and a signed manifest")
    .description(
      "Packs one session's records with inclusion proofs, the covering checkpoint, the public key, the\n" +
        'cited policy bundles and a signed manifest: what an auditor verifies with the public key alone.',
    )
    .addOption(configOption())
    .requiredOption('--chain <id>', 'the chain (session id) to pack')
    .requiredOption('--out <dir>', 'an empty or new folder')
    .addOption(jsonOption('print the pack summary as JSON'))
    .run(async (opts: EvidenceOptions) => (await load()).packCommand(opts));

  evidence
    .command('pull')
    .summary("rebuild every enforcement point's log from a NATS JetStream evidence stream")
    .description(
      "Rebuilds every enforcement point's log from a NATS JetStream evidence stream (state.evidence_stream)\n" +
        'under DIR/peps/<pep id>/, each record and checkpoint checked on the way in; pulling again adds only\n' +
        'what is new. Then: evidence verify DIR --jwks KEYS, report DIR, export --dir DIR/peps/<id>.',
    )
    .requiredOption('--stream <url>', 'nats://host:port?stream=NAME (default stream MCPGOV_EVIDENCE)')
    .requiredOption('--out <dir>', 'where the logs are rebuilt')
    .option('--pep <id>', "only this enforcement point's log")
    .addOption(jsonOption('print what was pulled as JSON'))
    .run(async (opts: EvidenceOptions) => (await load()).pullCommand(opts));

  const evals = program
    .command('evals')
    .summary('run the eval suite (metrics per stage, gated by thresholds); convert R-Judge into cases')
    .usage('<subcommand> [options]')
    .description('The eval suite: labelled cases run through each stage of the decision, with metrics.');

  evals
    .command('run')
    .summary('run eval cases and print the metrics; exit 1 when one is outside its threshold')
    .description(
      'Runs eval cases (JSONL, one case a line) and prints precision, recall, F1, false-positive rate,\n' +
        'accuracy (positive class: blocked = deny or escalate), the confusion matrix, latency p50/p99 and\n' +
        'the misclassified cases. Exits 1 when a metric is outside evals/thresholds.json.\n' +
        '  deterministic  stage 1 only: registries and rules, no semantic check\n' +
        '  semantic       the verifier alone on each case (needs no registry)\n' +
        '  pipeline       the whole decision, with the verifier as stage 2',
    )
    // The suite's own config, not the deployment's: MCPGOV_CONFIG does not apply. The suite mcpgov
    // ships, wherever mcpgov is installed (a clone, node_modules, a global install).
    .addOption(
      configOption(
        path.join(PACKAGE_ROOT, 'evals', 'mcpgov.yaml'),
        false,
        "the suite's config: registries, policies, paths and the semantic verifier",
      ),
    )
    .option('--cases <glob>', 'case files, repeatable (default: cases/*.jsonl beside the config)', collect)
    .addOption(
      new Option('--stage <stage>', 'which part of the decision to measure')
        .choices(['deterministic', 'semantic', 'pipeline'])
        .default('pipeline'),
    )
    .addOption(
      new Option(
        '--verifier <verifier>',
        "the semantic verifier (default: the config's semantic.verifier)",
      ).choices(['heuristic', 'llm', 'replay']),
    )
    .addOption(jsonOption('print only the JSON report'))
    .option(
      '--thresholds <file>',
      'metric bounds per stage (default: thresholds.json beside the config, if any)',
    )
    .option('--no-thresholds', 'report only, never fail on metrics')
    .addOption(
      new Option('--failures <n>', 'misclassified cases listed in the table')
        .argParser(wholeNumber)
        .default(20),
    )
    .option(
      '--record',
      'with --verifier llm: store each live answer as a cassette (semantic.llm.cassettes) for --verifier replay',
    )
    .addOption(sessionLengthOption())
    .run(async (opts: EvalsRunOptions) => (await import('../evals.js')).evalsRunCommand(opts));

  evals
    .command('splits')
    .summary('every split of evals/splits.yaml (tune, holdout, test) measured and reported separately')
    .description(
      'Runs every split of evals/splits.yaml (own cases, each holdout, R-Judge dev and test) and reports\n' +
        'each separately with its role: tune (signals designed on it), holdout (never tuned on) or test\n' +
        '(only ever measured). Splits whose files are generated and missing are listed with the command\n' +
        'that makes them.',
    )
    .addOption(
      configOption(
        path.join(PACKAGE_ROOT, 'evals', 'mcpgov.yaml'),
        false,
        "the suite's config: registries, policies, paths and the semantic verifier",
      ),
    )
    .option('--splits <file>', 'the splits file (default: splits.yaml beside the config)')
    .addOption(
      new Option('--stage <stage>', 'which part of the decision to measure')
        .choices(['deterministic', 'semantic', 'pipeline'])
        .default('semantic'),
    )
    .addOption(
      new Option(
        '--verifier <verifier>',
        "the semantic verifier (default: the config's semantic.verifier)",
      ).choices(['heuristic', 'llm', 'replay']),
    )
    .option('--record', 'with --verifier llm: store each live answer as a cassette for --verifier replay')
    .addOption(sessionLengthOption())
    .addOption(jsonOption('print one JSON object: each split with its role, metrics and latency'))
    .run(async (opts: EvalsSplitsOptions) => (await import('../evals-splits.js')).evalsSplitsCommand(opts));

  evals
    .command('convert-rjudge')
    .summary('turn the R-Judge dataset into eval cases (a fixed dev/test split)')
    .description(
      'Turns the R-Judge dataset into eval cases: DIR/rjudge-dev.jsonl and DIR/rjudge-test.jsonl\n' +
        '(a fixed split by id hash; tune on dev, report test).',
    )
    .option('--in <file>', 'the dataset', path.join('..', 'shared', 'datasets', 'rjudge.json'))
    .requiredOption('--out <dir>', 'where the case files go')
    .addOption(jsonOption('print the counts and files as JSON'))
    .run(async (opts: { in: string; out: string; json?: boolean }) =>
      (await import('../evals.js')).convertRJudgeCommand(opts),
    );
}

/** `--session-length N`: each case decided as call N of a session (evals/session-filler.ts). */
function sessionLengthOption(): Option {
  return new Option(
    '--session-length <n>',
    'decide each case as call N of a session whose earlier calls are plain work (what a long session costs)',
  ).argParser(positiveInt);
}
