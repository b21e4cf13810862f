import { parseArgs } from 'node:util';
import type { WaiverInput } from '../approvals/types.js';
import { loadConfig } from '../config/load-config.js';
import { printRefusal, printWaivers } from './approvals-output.js';
import { openTarget } from './approvals-target.js';
import { EXIT, UsageError, out } from './io.js';

export const waiversHelp = `Usage: mcpgov waivers <subcommand> [options]

Waivers: time-boxed exceptions. A call matching a waiver goes through despite a deny or an
escalation until the waiver expires or is revoked, and its decision names the waiver. Creating one
needs what approving a critical-tier request needs (a recent, stepped-up approver token), and it
may last at most approvals.waivers.max_days (default 30 days).

  add     --agent A --tool T --until TIME --reason R --compensating TEXT [--args-match JSONLOGIC]
          A: an agent id, or * for any; T: an exposed tool name or glob (fs__*);
          TIME: an ISO time or a duration from now (2h, 7d); JSONLOGIC: a json-logic
          expression over {call: {name, arguments}} the call must also satisfy
  list    [--all] [--json]      active waivers (--all: revoked and expired ones too)
  revoke  ID --reason R         end a waiver now

Options:
  --config FILE     config file (default: ./mcpgov.yaml)
  --gateway URL     use this admin API (http://HOST:PORT); default: the config's admin.http when a
                    gateway answers there, else the local store
  --token FILE      a file holding your approver JWT; default: a fresh local development approver
                    token when approvals.local_dev is enabled
  --json            print JSON
  -h, --help        show this help

Exit codes: 0 ok, 1 refused (the refusal's code and message are printed), 2 usage.`;

const OPTIONS = {
  config: { type: 'string', default: 'mcpgov.yaml' },
  gateway: { type: 'string' },
  token: { type: 'string' },
  agent: { type: 'string' },
  tool: { type: 'string' },
  'args-match': { type: 'string' },
  until: { type: 'string' },
  reason: { type: 'string' },
  compensating: { type: 'string' },
  all: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
} as const;

/** Which options each subcommand takes, beside --config, --gateway, --token and --json. */
const OWN_OPTIONS: Record<string, string[]> = {
  add: ['agent', 'tool', 'args-match', 'until', 'reason', 'compensating'],
  list: ['all'],
  revoke: ['reason'],
};

/** `mcpgov waivers ...`. */
export async function waiversCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  const [sub, ...ids] = positionals;
  const own = sub === undefined ? undefined : OWN_OPTIONS[sub];
  if (!own)
    throw new UsageError(sub === undefined ? 'a subcommand is required' : `unknown subcommand "${sub}"`);
  for (const name of ['agent', 'tool', 'args-match', 'until', 'reason', 'compensating'])
    if (values[name as keyof typeof values] !== undefined && !own.includes(name))
      throw new UsageError(`waivers ${sub} takes no --${name}`);
  if (values.all && sub !== 'list') throw new UsageError(`waivers ${sub} takes no --all`);
  if (sub === 'revoke' ? ids.length !== 1 : ids.length > 0)
    throw new UsageError(
      sub === 'revoke'
        ? 'waivers revoke takes one waiver ID'
        : `waivers ${sub} takes no positional arguments`,
    );

  let input: WaiverInput | undefined;
  if (sub === 'add') input = waiverInput(values);
  if (sub === 'revoke' && !values.reason?.trim()) throw new UsageError('waivers revoke needs --reason R');

  const config = await loadConfig(values.config);
  const target = await openTarget({ config, gateway: values.gateway, tokenFile: values.token });
  const command = `waivers ${sub}`;
  try {
    if (sub === 'list') {
      const listed = await target.listWaivers(!values.all);
      if (!listed.ok) return printRefusal(command, listed);
      if (values.json) out(JSON.stringify({ waivers: listed.value }, null, 2));
      else printWaivers(listed.value, Date.now());
      return EXIT.ok;
    }
    const changed = input
      ? await target.addWaiver(input)
      : await target.revokeWaiver(ids[0] ?? '', values.reason ?? '');
    if (!changed.ok) return printRefusal(command, changed);
    const waiver = changed.value;
    if (values.json) out(JSON.stringify({ waiver }, null, 2));
    else if (input)
      out(
        `created waiver ${waiver.id}: ${waiver.agent} may call ${waiver.tool} despite a deny or escalation until ${waiver.until} (${target.where})`,
      );
    else out(`revoked waiver ${waiver.id} (${target.where})`);
    return EXIT.ok;
  } finally {
    await target.close();
  }
}

/** The waiver `add` describes; a missing option or JSON that does not parse is a usage error. */
function waiverInput(values: {
  agent?: string;
  tool?: string;
  'args-match'?: string;
  until?: string;
  reason?: string;
  compensating?: string;
}): WaiverInput {
  const missing = (['agent', 'tool', 'until', 'reason', 'compensating'] as const).filter(
    (k) => !values[k]?.trim(),
  );
  if (missing.length > 0)
    throw new UsageError(`waivers add needs ${missing.map((k) => `--${k}`).join(', ')}`);
  let argsMatch: unknown;
  if (values['args-match'] !== undefined) {
    try {
      argsMatch = JSON.parse(values['args-match']);
    } catch (e) {
      throw new UsageError(`--args-match is not JSON: ${(e as Error).message}`);
    }
  }
  return {
    agent: values.agent ?? '',
    tool: values.tool ?? '',
    ...(argsMatch === undefined ? {} : { args_match: argsMatch }),
    until: values.until ?? '',
    reason: values.reason ?? '',
    compensating: values.compensating ?? '',
  };
}
