import { configOption, jsonOption, positiveInt, type McpgovCommand } from '../command.js';
import type { ApprovalsOptions } from '../approvals.js';
import type { WaiversOptions } from '../waivers.js';

const EXIT_CODES = "\nExit codes: 0 ok, 1 refused (the refusal's code and message are printed), 2 usage.";

/** A subcommand of approvals or waivers, with what they all take: where decisions go, and as whom. */
function subcommand(
  parent: McpgovCommand,
  name: string,
  summary: string,
  description: string,
): McpgovCommand {
  return parent
    .command(name)
    .summary(summary)
    .description(description)
    .addOption(configOption())
    .option(
      '--gateway <url>',
      "use this admin API (http://HOST:PORT); default: the config's admin.http when a gateway answers there, else the local store",
    )
    .option(
      '--token <file>',
      'a file holding your approver JWT; default: a fresh local development approver token when approvals.local_dev is enabled',
    )
    .addHelpText('after', EXIT_CODES);
}

/** `mcpgov approvals ...` and `mcpgov waivers ...`: people deciding escalated calls, and exceptions. */
export function approvalsCommands(program: McpgovCommand): void {
  const approvals = program
    .command('approvals')
    .summary('list, show, approve and deny approval requests (escalated calls waiting for a person)')
    .usage('<subcommand> [options]')
    .description(
      'Approval requests: calls escalated in enforce mode, waiting for a person. A decision goes to a running\n' +
        "gateway's admin API, or, when none answers, to the approval store on this machine (and is recorded\n" +
        'in its evidence log). Either way it is refused, changing nothing, if the request is unknown, expired\n' +
        'or decided, if its arguments are not the ones you were shown, or if your token may not decide it.',
    )
    .addHelpText('after', EXIT_CODES);
  const approve = async (
    sub: 'list' | 'show' | 'approve' | 'deny' | 'token',
    o: ApprovalsOptions,
    ids: string[],
  ) => (await import('../approvals.js')).approvalsCommand(sub, o, ids);

  subcommand(approvals, 'list', 'requests, newest first', 'Lists approval requests, newest first.')
    .option('--state <state>', 'only requests in this state: pending, approved, denied, expired, withdrawn')
    .option('--limit <n>', 'at most N requests (1 to 10000)', positiveInt)
    .addOption(jsonOption('print {requests} as JSON'))
    .run((o: ApprovalsOptions, ids) => approve('list', o, ids));

  subcommand(
    approvals,
    'show',
    'one request: the call, its masked arguments, reasons, binding digests, state and verdict',
    'Shows one request: the call, its masked arguments, reasons, binding digests, state and verdict.',
  )
    .argument('<id>', 'the request id')
    .addOption(jsonOption('print {request} as JSON'))
    .run((o: ApprovalsOptions, ids) => approve('show', o, ids));

  for (const [verdict, summary] of [
    [
      'approve',
      'approve: a held call goes through; in return mode the same call goes through once when retried',
    ],
    ['deny', 'deny: the agent is told your reason'],
  ] as const)
    subcommand(approvals, verdict, summary, `${summary[0]!.toUpperCase()}${summary.slice(1)}.`)
      .argument('<id>', 'the request id')
      .option('--reason <text>', 'why (required; recorded in evidence)')
      .option(
        '--args-digest <digest>',
        'decide only if the request is bound to these arguments (sha256:..., from show)',
      )
      .addOption(jsonOption('print {request} as JSON'))
      .run((o: ApprovalsOptions, ids) => approve(verdict, o, ids));

  subcommand(
    approvals,
    'token',
    'print a local development approver token for the console (needs approvals.local_dev.enabled)',
    'Prints a local development approver token for the console (needs approvals.local_dev.enabled).',
  )
    .option('--ttl <duration>', 'how long it is valid: 30m, 12h, 7d (at most 7d; default 12h)')
    .run((o: ApprovalsOptions, ids) => approve('token', o, ids));

  const waivers = program
    .command('waivers')
    .summary('add, list and revoke waivers (time-boxed exceptions to deny and escalate)')
    .usage('<subcommand> [options]')
    .description(
      'Waivers: time-boxed exceptions. A call matching a waiver goes through despite a deny or an\n' +
        'escalation until the waiver expires or is revoked, and its decision names the waiver. Creating one\n' +
        'needs what approving a critical-tier request needs (a recent, stepped-up approver token), and it\n' +
        'may last at most approvals.waivers.max_days (default 30 days).',
    )
    .addHelpText('after', EXIT_CODES);
  const waive = async (sub: 'add' | 'list' | 'revoke', o: WaiversOptions, ids: string[]) =>
    (await import('../waivers.js')).waiversCommand(sub, o, ids);

  subcommand(
    waivers,
    'add',
    'create a waiver',
    'Creates a waiver: AGENT may call TOOL despite a deny or an escalation until TIME.',
  )
    .option('--agent <id>', 'an agent id, or * for any')
    .option('--tool <name>', 'an exposed tool name or glob (fs__*)')
    .option('--until <time>', 'an ISO time or a duration from now (2h, 7d)')
    .option('--reason <text>', 'why the exception is needed')
    .option('--compensating <text>', 'the compensating control while it lasts')
    .option(
      '--args-match <jsonlogic>',
      'a json-logic expression over {call: {name, arguments}} the call must also satisfy',
    )
    .addOption(jsonOption('print {waiver} as JSON'))
    .run((o: WaiversOptions, ids) => waive('add', o, ids));

  subcommand(waivers, 'list', 'active waivers', 'Lists active waivers.')
    .option('--all', 'revoked and expired ones too')
    .addOption(jsonOption('print {waivers} as JSON'))
    .run((o: WaiversOptions, ids) => waive('list', o, ids));

  subcommand(waivers, 'revoke', 'end a waiver now', 'Ends a waiver now.')
    .argument('<id>', 'the waiver id')
    .option('--reason <text>', 'why (required)')
    .addOption(jsonOption('print {waiver} as JSON'))
    .run((o: WaiversOptions, ids) => waive('revoke', o, ids));
}
