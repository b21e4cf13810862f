import { parseArgs } from 'node:util';
import { ANNOUNCED_TOKEN_SECONDS, mintLocalDevToken } from '../approvals/local-dev.js';
import { RequestStateSchema, type RequestState } from '../approvals/types.js';
import { loadConfig } from '../config/load-config.js';
import { printRefusal, printRequest, printRequests } from './approvals-output.js';
import { openTarget, type ApprovalsTarget } from './approvals-target.js';
import { EXIT, UsageError, err, out } from './io.js';

export const approvalsHelp = `Usage: mcpgov approvals <subcommand> [options]

Approval requests: calls escalated in enforce mode, waiting for a person. A decision goes to a running
gateway's admin API, or, when none answers, to the approval store on this machine (and is recorded
in its evidence log). Either way it is refused, changing nothing, if the request is unknown, expired
or decided, if its arguments are not the ones you were shown, or if your token may not decide it.

  list     [--state S] [--limit N] [--json]     requests, newest first; S: pending, approved, denied,
                                                expired, withdrawn
  show     ID [--json]                          one request: the call, its masked arguments, reasons,
                                                binding digests, state and verdict
  approve  ID --reason TEXT [--args-digest D]   approve: a held call goes through; in return mode the
                                                same call goes through once when the agent retries it
  deny     ID --reason TEXT [--args-digest D]   deny: the agent is told your reason
  token    [--ttl DURATION]                     print a local development approver token (default 12h;
                                                needs approvals.local_dev.enabled) for the console

Options:
  --config FILE     config file (default: ./mcpgov.yaml)
  --gateway URL     use this admin API (http://HOST:PORT); default: the config's admin.http when a
                    gateway answers there, else the local store
  --token FILE      a file holding your approver JWT; default: a fresh local development approver
                    token when approvals.local_dev is enabled
  --args-digest D   decide only if the request is bound to these arguments (sha256:..., from show)
  --json            print JSON
  -h, --help        show this help

Exit codes: 0 ok, 1 refused (the refusal's code and message are printed), 2 usage.`;

const OPTIONS = {
  config: { type: 'string', default: 'mcpgov.yaml' },
  gateway: { type: 'string' },
  token: { type: 'string' },
  state: { type: 'string' },
  limit: { type: 'string' },
  reason: { type: 'string' },
  'args-digest': { type: 'string' },
  ttl: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

/** Which options each subcommand takes, beside --config, --gateway, --token and --json. */
const OWN_OPTIONS: Record<string, string[]> = {
  list: ['state', 'limit'],
  show: [],
  approve: ['reason', 'args-digest'],
  deny: ['reason', 'args-digest'],
  token: ['ttl'],
};

/** Longest token `approvals token` mints: it stands for whoever holds the local key. */
const MAX_TTL_SECONDS = 7 * 24 * 3600;

/** `mcpgov approvals ...`. */
export async function approvalsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  const [sub, ...ids] = positionals;
  const own = sub === undefined ? undefined : OWN_OPTIONS[sub];
  if (!own)
    throw new UsageError(sub === undefined ? 'a subcommand is required' : `unknown subcommand "${sub}"`);
  for (const name of ['state', 'limit', 'reason', 'args-digest', 'ttl'])
    if (values[name as keyof typeof values] !== undefined && !own.includes(name))
      throw new UsageError(`approvals ${sub} takes no --${name}`);
  const wantsId = sub === 'show' || sub === 'approve' || sub === 'deny';
  if (wantsId && ids.length !== 1) throw new UsageError(`approvals ${sub} takes one request ID`);
  if (!wantsId && ids.length > 0) throw new UsageError(`approvals ${sub} takes no positional arguments`);

  const config = await loadConfig(values.config);
  if (sub === 'token') {
    if (!config.approvals.local_dev.enabled) {
      err(
        `mcpgov approvals token: approvals.local_dev is off in ${values.config}: approver tokens come from your identity provider`,
      );
      return EXIT.failed;
    }
    const ttl = values.ttl === undefined ? ANNOUNCED_TOKEN_SECONDS : parseTtl(values.ttl);
    out(await mintLocalDevToken(config.state.dir, config.approvals.audience, ttl));
    return EXIT.ok;
  }

  const id = ids[0] ?? '';
  let decision: { verdict: 'approve' | 'deny'; reason: string; args_digest?: string } | undefined;
  let filter: { state?: RequestState; limit?: number } = {};
  if (sub === 'approve' || sub === 'deny') {
    const reason = values.reason?.trim();
    if (!reason) throw new UsageError(`approvals ${sub} needs --reason TEXT`);
    const digest = values['args-digest'];
    if (digest !== undefined && !/^sha256:[0-9a-f]{64}$/.test(digest))
      throw new UsageError('--args-digest must be sha256:<64 hex digits> (approvals show prints it)');
    decision = { verdict: sub, reason, ...(digest === undefined ? {} : { args_digest: digest }) };
  }
  if (sub === 'list') filter = listFilter(values.state, values.limit);

  const target = await openTarget({ config, gateway: values.gateway, tokenFile: values.token });
  try {
    return await runOn(target, sub as 'list' | 'show' | 'approve' | 'deny', id, {
      decision,
      filter,
      json: values.json,
    });
  } finally {
    await target.close();
  }
}

async function runOn(
  target: ApprovalsTarget,
  sub: 'list' | 'show' | 'approve' | 'deny',
  id: string,
  opts: {
    decision?: { verdict: 'approve' | 'deny'; reason: string; args_digest?: string };
    filter: { state?: RequestState; limit?: number };
    json: boolean;
  },
): Promise<number> {
  const command = `approvals ${sub}`;
  if (sub === 'list') {
    const listed = await target.list(opts.filter);
    if (!listed.ok) return printRefusal(command, listed);
    if (opts.json) out(JSON.stringify({ requests: listed.value }, null, 2));
    else printRequests(listed.value, Date.now());
    return EXIT.ok;
  }
  if (sub === 'show') {
    const shown = await target.get(id);
    if (!shown.ok) return printRefusal(command, shown);
    if (opts.json) out(JSON.stringify({ request: shown.value }, null, 2));
    else printRequest(shown.value);
    return EXIT.ok;
  }
  const decided = await target.decide(id, opts.decision ?? { verdict: sub, reason: '' });
  if (!decided.ok) return printRefusal(command, decided);
  const request = decided.value;
  if (opts.json) {
    out(JSON.stringify({ request }, null, 2));
    return EXIT.ok;
  }
  const by = request.verdict ? ` as ${request.verdict.approver.sub}` : '';
  if (request.state === 'denied') out(`denied request ${request.id}${by} (${target.where})`);
  else
    out(
      `approved request ${request.id}${by} (${target.where}); ` +
        (request.mode === 'hold' && !request.interrupted
          ? 'the held call goes through'
          : `the same call goes through once if retried before ${request.grant?.expires_at ?? 'its grant expires'}`),
    );
  return EXIT.ok;
}

function listFilter(state: string | undefined, limit: string | undefined) {
  const filter: { state?: RequestState; limit?: number } = {};
  if (state !== undefined) {
    const parsed = RequestStateSchema.safeParse(state);
    if (!parsed.success)
      throw new UsageError(`--state must be one of ${RequestStateSchema.options.join(', ')}`);
    filter.state = parsed.data;
  }
  if (limit !== undefined) {
    const n = Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > 10_000)
      throw new UsageError('--limit must be an integer from 1 to 10000');
    filter.limit = n;
  }
  return filter;
}

/** `90m`, `12h`, `2d` in seconds. */
function parseTtl(text: string): number {
  const match = /^(\d{1,6})([smhd])$/.exec(text.trim());
  const unit = match && { s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as 's' | 'm' | 'h' | 'd'];
  const seconds = match && unit ? Number(match[1]) * unit : 0;
  if (seconds < 1 || seconds > MAX_TTL_SECONDS)
    throw new UsageError('--ttl must be a duration like 30m, 12h or 7d, at most 7d');
  return seconds;
}
