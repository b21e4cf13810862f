import { Option } from 'commander';
import { collect, configOption, jsonOption, type McpgovCommand } from '../command.js';
import type { ValidateOptions } from '../validate.js';
import type { KeysOptions } from '../keys.js';
import type { ReportOptions } from '../report.js';
import type { RegistryPinOptions } from '../registry.js';
import type { DbOptions } from '../db.js';

/** `mcpgov validate`, `report`, `keys`, `registry` and `db`: checking and operating a deployment. */
export function operateCommands(program: McpgovCommand): void {
  program
    .command('validate')
    .summary('check the config, registries and policies; print every problem with file and line')
    .description(
      'Checks the config, the registries (tools.yaml, agents.yaml) and the policy rules it points to,\n' +
        'and prints every problem as FILE:LINE: PATH: MESSAGE. Exits 1 when there is any.\n\n' +
        'With policies.bundle or policies.channel, it also checks the policy lifecycle settings (key files,\n' +
        'channels, approvers) and fetches and verifies the bundle the gateway would activate now, with every\n' +
        'check the gateway runs (signature, files, hashes, scope, expiry, approvals, compile, tests).\n' +
        'Warnings (a config with no servers) are printed on stderr and do not fail it unless --strict.',
    )
    .addOption(configOption())
    .addOption(jsonOption('print {ok, problems, warnings, counts} as JSON'))
    .option('--strict', 'exit 1 on warnings too')
    .run(async (opts: ValidateOptions) => (await import('../validate.js')).validateCommand(opts));

  program
    .command('report')
    .summary('the pilot report from evidence: coverage, denies, approvals, drift, completeness (JSON, HTML)')
    .description(
      'The pilot report from evidence: coverage, deny rate and top deny reasons, escalations and approvals\n' +
        'with time to approve, waivers, semantic signals, drift, evidence completeness, per agent, per tool and\n' +
        "over time. Reads an evidence folder (its segments, and the replicas of other enforcement points' logs\n" +
        'under peps/<id>/) or an evidence pack, streaming: memory stays flat however long the log.\n' +
        'Definitions and the JSON shape: README, "Pilot report".',
    )
    .argument('[path]', "an evidence folder or pack (default: the config's evidence.dir)")
    .addOption(configOption())
    .addOption(
      new Option('--format <format>', 'json: one JSON object; html: one self-contained HTML file with charts')
        .choices(['json', 'html'])
        .default('json'),
    )
    .addOption(jsonOption('the same as --format json'))
    .option('--out <file>', 'write here instead of stdout')
    .option(
      '--since <time>',
      'count records at or after TIME: ISO 8601, or a duration back from now (30m, 24h, 7d)',
    )
    .option(
      '--until <time>',
      'count records at or before TIME (same forms); waivers in force are judged then',
    )
    .option('--agent <id>', "only this agent's calls, sessions, approvals and waivers")
    .option(
      '--tool <name>',
      "only this tool's calls, approvals, waivers and drift (coverage is per session: n/a)",
    )
    .option('--stats', 'also print, on stderr, one JSON line: records read, wall time, peak RSS, CPU time')
    .addHelpText(
      'after',
      '\nA progress bar is drawn on stderr when it is a terminal and the work takes more than 2 seconds.',
    )
    .run(async (opts: ReportOptions, args) => (await import('../report.js')).reportCommand(opts, args));

  program
    .command('keys')
    .summary('generate an Ed25519 key pair (evidence checkpoints, policy bundles)')
    .usage('<subcommand> [options]')
    .command('generate')
    .summary('write a new Ed25519 key pair; never overwrites one')
    .description(
      'Generates an Ed25519 signing key for evidence checkpoints, packs and policy bundles:\n' +
        '  DIR/NAME.private.jwk  the private key (mode 0600): evidence.key in mcpgov.yaml\n' +
        '  DIR/NAME.jwks.json    the public keys: for auditors (evidence verify --jwks)\n' +
        'A folder that already holds a key of that name is refused, and nothing is written.',
    )
    .requiredOption('--out <dir>', 'folder to write to (created if missing)')
    .option('--name <name>', 'file name stem', 'signing-key')
    .addOption(jsonOption('print the files and kid as JSON'))
    .run(async (opts: KeysOptions) => (await import('../keys.js')).keysGenerateCommand(opts));

  program
    .command('registry')
    .summary("pin the live definitions of the servers' tools in the tool registry (or check the pins)")
    .usage('<subcommand> [options]')
    .command('pin')
    .summary("write (or check) each tool's live definition digest in the tool registry")
    .description(
      "Starts the config's downstream servers, lists their tools, and writes each tool's live definition\n" +
        'digest into the tool registry (<registries>/tools.yaml) as definition_digest, for entries that name\n' +
        'the tool exactly. Only the pins change: comments, order and layout stay as they were. A pinned tool\n' +
        'whose definition later changes is refused (definition_mismatch) until it is pinned again.',
    )
    .addOption(configOption())
    .option(
      '--server <name>',
      "only this server's tools (repeatable; default: every configured server)",
      collect,
    )
    .addOption(
      new Option(
        '--add',
        'give a tool that only a glob entry covers its own exact entry: a copy of that glob entry (same owner, scopes and settings) with the pin, placed just before it',
      ).conflicts('check'),
    )
    .addOption(new Option('--dry-run', 'print what would change; write nothing').conflicts('check'))
    .option(
      '--check',
      'write nothing; exit 1 when a pinned digest differs from the live definition or a pinned tool is no longer offered (for CI)',
    )
    .addOption(jsonOption('print the counts and every change as JSON'))
    .addHelpText(
      'after',
      '\nPrints one line per tool that changes (or differs, with --check), then a summary.',
    )
    .run(async (opts: RegistryPinOptions) => (await import('../registry.js')).registryPinCommand(opts));

  const db = program
    .command('db')
    .summary('migrate (or check) the PostgreSQL schema of approvals and waivers')
    .usage('<subcommand> [options]')
    .description('The PostgreSQL schema of approvals and waivers (state.approvals in the config).');
  for (const [sub, summary, description] of [
    [
      'migrate',
      'bring the schema up to this version; running it again changes nothing',
      'Brings the schema up to this version; running it again changes nothing. Run it once per deploy,\n' +
        'before the gateways start: a gateway refuses a schema that is behind (or ahead of) its own version.',
    ],
    [
      'check',
      'exit 0 when the schema is at this version, 1 (saying why) when not',
      'Exits 0 when the schema is at this version, 1 (saying why) when not.',
    ],
  ] as const)
    db.command(sub)
      .summary(summary)
      .description(description)
      .addOption(configOption())
      .option(
        '--url <url>',
        "postgres://... in place of the config's state.approvals (?schema=NAME: default mcpgov)",
      )
      .addOption(jsonOption())
      .run(async (opts: DbOptions) => (await import('../db.js')).dbCommand(sub, opts));
}
