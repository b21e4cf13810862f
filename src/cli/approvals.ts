import { ANNOUNCED_TOKEN_SECONDS, mintLocalDevToken } from '../approvals/local-dev.js';
import { RequestStateSchema, type RequestState } from '../approvals/types.js';
import { loadConfig } from '../config/load-config.js';
import { printRefusal, printRequest, printRequests } from './approvals-output.js';
import { openTarget, type ApprovalsTarget } from './approvals-target.js';
import { EXIT, UsageError, err, out } from './io.js';

/** Options of `mcpgov approvals ...` (commands/approvals.ts). */
export interface ApprovalsOptions {
  config: string;
  gateway?: string;
  token?: string;
  state?: string;
  limit?: number;
  reason?: string;
  argsDigest?: string;
  ttl?: string;
  json?: boolean;
}

/** Longest token `approvals token` mints: it stands for whoever holds the local key. */
const MAX_TTL_SECONDS = 7 * 24 * 3600;

/** `mcpgov approvals ...`. */
export async function approvalsCommand(
  sub: 'list' | 'show' | 'approve' | 'deny' | 'token',
  values: ApprovalsOptions,
  ids: string[],
): Promise<number> {
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
    const digest = values.argsDigest;
    if (digest !== undefined && !/^sha256:[0-9a-f]{64}$/.test(digest))
      throw new UsageError('--args-digest must be sha256:<64 hex digits> (approvals show prints it)');
    decision = { verdict: sub, reason, ...(digest === undefined ? {} : { args_digest: digest }) };
  }
  if (sub === 'list') filter = listFilter(values.state, values.limit);

  const target = await openTarget({ config, gateway: values.gateway, tokenFile: values.token });
  try {
    return await runOn(target, sub, id, {
      decision,
      filter,
      json: values.json ?? false,
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

function listFilter(state: string | undefined, limit: number | undefined) {
  const filter: { state?: RequestState; limit?: number } = {};
  if (state !== undefined) {
    const parsed = RequestStateSchema.safeParse(state);
    if (!parsed.success)
      throw new UsageError(`--state must be one of ${RequestStateSchema.options.join(', ')}`);
    filter.state = parsed.data;
  }
  if (limit !== undefined) {
    if (limit > 10_000) throw new UsageError('--limit must be an integer from 1 to 10000');
    filter.limit = limit;
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
