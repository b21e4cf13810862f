import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { ApproverAuth } from '../approvals/approver-auth.js';
import { CLI_TOKEN_SECONDS, mintLocalDevToken } from '../approvals/local-dev.js';
import { describeApprovalStore, openApprovalStore } from '../approvals/open-store.js';
import type { ApprovalStore } from '../approvals/store.js';
import { ApprovalService } from '../approvals/service.js';
import type {
  ApprovalRequest,
  ApproverPrincipal,
  RequestState,
  VerdictInput,
  Waiver,
  WaiverInput,
} from '../approvals/types.js';
import type { ResolvedConfig } from '../config/load-config.js';
import { readCheckpoints } from '../evidence/checkpoints.js';
import type { EvidenceLog } from '../evidence/evidence-log.js';
import { EvidenceFolderLockedError } from '../evidence/folder-lock.js';
import type { PepInfo } from '../evidence/types.js';
import { openEvidenceLog } from '../pep/open-evidence.js';
import { createLogger } from '../util/log.js';
import { VERSION } from '../util/version.js';
import { UsageError } from './io.js';

/** A refusal, as the admin API or ApprovalService words it: nothing changed. */
export interface Refusal {
  ok: false;
  code: string;
  message: string;
}

/** What an approvals command gets back. */
export type Outcome<T> = { ok: true; value: T } | Refusal;

/**
 * Where approvals commands act: a running gateway's admin API, or (no gateway answering) the approval
 * store on this machine, with decisions recorded in the evidence log as a `cli` enforcement point.
 * Both decide through ApprovalService.decide, so both refuse the same things.
 */
export interface ApprovalsTarget {
  /** Where the commands act, for messages. */
  where: string;
  list(filter: { state?: RequestState; limit?: number }): Promise<Outcome<ApprovalRequest[]>>;
  get(id: string): Promise<Outcome<ApprovalRequest>>;
  decide(id: string, input: VerdictInput): Promise<Outcome<ApprovalRequest>>;
  listWaivers(active: boolean): Promise<Outcome<Waiver[]>>;
  addWaiver(input: WaiverInput): Promise<Outcome<Waiver>>;
  revokeWaiver(id: string, reason: string): Promise<Outcome<Waiver>>;
  close(): Promise<void>;
}

/** How long the CLI waits for an admin API answer, and for its health check. */
const API_TIMEOUT_MS = 30_000;
const PROBE_TIMEOUT_MS = 1_500;

/** What choosing a target needs from the command line. */
export interface TargetOptions {
  config: ResolvedConfig;
  /** `--gateway URL`: the admin API, whether or not the config names one. */
  gateway?: string;
  /** `--token FILE`: an approver JWT. */
  tokenFile?: string;
}

/**
 * The admin API when `--gateway` names it, or when the config's `admin.http` answers; otherwise the
 * local store.
 */
export async function openTarget(opts: TargetOptions): Promise<ApprovalsTarget> {
  const token = tokenSource(opts);
  if (opts.gateway !== undefined) return apiTarget(baseUrl(opts.gateway), token);
  const admin = opts.config.admin?.http;
  if (admin !== undefined) {
    const url = localUrl(admin);
    if (await answers(url)) return apiTarget(url, token);
  }
  return localTarget(opts.config, token);
}

/** The token to present, read or minted when first needed (local reads need none). */
function tokenSource(opts: TargetOptions): () => Promise<string> {
  let token: Promise<string> | undefined;
  return () =>
    (token ??= (async () => {
      if (opts.tokenFile !== undefined) {
        const text = (
          await readFile(opts.tokenFile, 'utf8').catch((err: Error) => {
            throw new UsageError(`--token ${opts.tokenFile}: ${err.message}`);
          })
        ).trim();
        if (text === '') throw new UsageError(`--token ${opts.tokenFile} is empty`);
        return text;
      }
      const { approvals, state } = opts.config;
      if (approvals.local_dev.enabled)
        return mintLocalDevToken(state.dir, approvals.audience, CLI_TOKEN_SECONDS);
      throw new UsageError(
        'an approver token is needed: give --token FILE (approvals.local_dev is off in this config)',
      );
    })());
}

/** `--gateway` as given, without a trailing slash or an `/api` path. */
function baseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--gateway ${text} is not a URL (http://HOST:PORT of the admin listener)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`--gateway ${text} must be an http or https URL`);
  return url.origin;
}

/** The admin listener's URL from this machine: a wildcard address is reached on loopback. */
function localUrl(hostPort: string): string {
  const url = new URL(`http://${hostPort}`);
  if (url.hostname === '0.0.0.0') url.hostname = '127.0.0.1';
  if (url.hostname === '[::]') url.hostname = '[::1]';
  return url.origin;
}

/** Whether something answers the admin listener's health check. */
async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await res.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

/** The admin API of a running gateway. */
function apiTarget(url: string, token: () => Promise<string>): ApprovalsTarget {
  const call = async <T>(
    method: 'GET' | 'POST',
    path: string,
    pick: (body: Record<string, unknown>) => unknown,
    body?: unknown,
  ): Promise<Outcome<T>> => {
    const headers: Record<string, string> = {
      authorization: `Bearer ${await token()}`,
      'x-mcpgov-channel': 'cli',
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${url}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(API_TIMEOUT_MS),
      });
    } catch (err) {
      const cause = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
      return { ok: false, code: 'unreachable', message: `cannot reach the admin API at ${url}: ${cause}` };
    }
    let json: Record<string, unknown>;
    try {
      json = (await res.json()) as Record<string, unknown>;
    } catch {
      return {
        ok: false,
        code: 'bad_answer',
        message: `${url}${path} answered HTTP ${res.status}, not JSON`,
      };
    }
    if (!res.ok) {
      const error = json['error'] as { code?: string; message?: string } | undefined;
      return {
        ok: false,
        code: error?.code ?? `http_${res.status}`,
        message: error?.message ?? `HTTP ${res.status}`,
      };
    }
    return { ok: true, value: pick(json) as T };
  };
  const id = (value: string) => encodeURIComponent(value);
  return {
    where: `the admin API at ${url}`,
    list: ({ state, limit }) => {
      const query = new URLSearchParams();
      if (state !== undefined) query.set('state', state);
      if (limit !== undefined) query.set('limit', String(limit));
      const qs = query.size > 0 ? `?${query.toString()}` : '';
      return call('GET', `/api/approvals${qs}`, (b) => b['requests']);
    },
    get: (request) => call('GET', `/api/approvals/${id(request)}`, (b) => b['request']),
    decide: (request, input) =>
      call('POST', `/api/approvals/${id(request)}/${input.verdict}`, (b) => b['request'], {
        reason: input.reason,
        ...(input.args_digest === undefined ? {} : { args_digest: input.args_digest }),
      }),
    listWaivers: (active) => call('GET', `/api/waivers?active=${active}`, (b) => b['waivers']),
    addWaiver: (input) => call('POST', '/api/waivers', (b) => b['waiver'], input),
    revokeWaiver: (waiver, reason) =>
      call('POST', `/api/waivers/${id(waiver)}/revoke`, (b) => b['waiver'], { reason }),
    close: async () => {},
  };
}

/**
 * The approval store on this machine. Reads need no token and no lock (a pending request past its
 * expiry shows as expired). A decision or a waiver change verifies the approver's token as the admin
 * API would, then opens the evidence log (taking its folder lock, so it is refused while a gateway
 * runs on it) and goes through ApprovalService, which records it.
 */
function localTarget(config: ResolvedConfig, token: () => Promise<string>): ApprovalsTarget {
  let store: Promise<ApprovalStore> | undefined;
  const opened = () => (store ??= openApprovalStore(config.state));
  let writer: { service: ApprovalService; evidence: EvidenceLog } | undefined;
  const log = createLogger('approvals', 'warn');

  const service = async (): Promise<Outcome<{ service: ApprovalService; principal: ApproverPrincipal }>> => {
    const auth = await ApproverAuth.create({ approvals: config.approvals, stateDir: config.state.dir });
    const verified = await auth.authenticate(await token(), 'cli');
    if (!verified.ok) return verified;
    if (!writer) {
      const pep: PepInfo = { id: `cli@${hostname()}`, kind: 'cli', version: VERSION };
      let evidence: EvidenceLog;
      try {
        evidence = await openEvidenceLog(config, pep.id, log, await folderOrigin(config));
      } catch (err) {
        if (!(err instanceof EvidenceFolderLockedError)) throw err;
        const who = err.holder
          ? `${err.holder.pep} (pid ${err.holder.pid} on ${err.holder.host})`
          : 'another process';
        return {
          ok: false,
          code: 'gateway_running',
          message:
            `the evidence folder ${err.dir} is in use by ${who}: a gateway is running on this config, so ` +
            'decide through its admin API (set admin.http in the config, or give --gateway http://HOST:PORT)',
        };
      }
      const s = new ApprovalService({ store: await opened(), config: config.approvals, evidence, pep, log });
      writer = { service: s, evidence };
    }
    return { ok: true, value: { service: writer.service, principal: verified.principal } };
  };

  const now = () => Date.now();
  return {
    where: describeApprovalStore(config.state),
    list: async ({ state, limit }) => {
      const all = (await (await opened()).list()).map((r) => asOf(r, now()));
      const matching = all.filter((r) => state === undefined || r.state === state);
      return { ok: true, value: limit === undefined ? matching : matching.slice(0, limit) };
    },
    get: async (id) => {
      const request = await (await opened()).get(id);
      if (!request) return { ok: false, code: 'unknown_request', message: `no approval request ${id}` };
      return { ok: true, value: asOf(request, now()) };
    },
    decide: async (id, input) => {
      const s = await service();
      if (!s.ok) return s;
      const result = await s.value.service.decide(id, input, s.value.principal);
      return result.ok ? { ok: true, value: result.request } : result;
    },
    listWaivers: async (active) => ({
      ok: true,
      value: await (await opened()).listWaivers({ active, now: now() }),
    }),
    addWaiver: async (input) => {
      const s = await service();
      if (!s.ok) return s;
      const result = await s.value.service.addWaiver(input, s.value.principal);
      return result.ok ? { ok: true, value: result.waiver } : result;
    },
    revokeWaiver: async (id, reason) => {
      const s = await service();
      if (!s.ok) return s;
      const result = await s.value.service.revokeWaiver(id, reason, s.value.principal);
      return result.ok ? { ok: true, value: result.waiver } : result;
    },
    close: async () => {
      if (writer) {
        await writer.service.close();
        await writer.evidence.close();
      } else if (store) await (await store).close();
    },
  };
}

/** A request as it stands at `now`: pending past its expiry is expired (the next sweep records it). */
function asOf(request: ApprovalRequest, now: number): ApprovalRequest {
  return request.state === 'pending' && Date.parse(request.expires_at) <= now
    ? { ...request, state: 'expired' }
    : request;
}

/**
 * The checkpoint origin the evidence folder already uses: a log has one origin (evidence verify checks
 * it), so the CLI's records continue the enforcement point's. A new folder gets the gateway's.
 */
async function folderOrigin(config: ResolvedConfig): Promise<string> {
  const last = (await readCheckpoints(config.evidence.dir)).at(-1);
  if (last) {
    try {
      const origin = (JSON.parse(last.text) as { origin?: unknown }).origin;
      if (typeof origin === 'string' && origin !== '') return origin;
    } catch {
      // An unreadable checkpoint line: the log's own open reports it.
    }
  }
  return `mcpgov/${config.pep.id ?? `gateway@${hostname()}`}`;
}
