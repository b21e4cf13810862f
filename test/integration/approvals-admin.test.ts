import { access, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintLocalDevToken } from '../../src/approvals/local-dev.js';
import type { ApprovalRequest } from '../../src/approvals/types.js';
import { loadConfig } from '../../src/config/load-config.js';
import { APPROVER_ISSUER, approverKeys, type ApproverKeys } from '../helpers/approver-tokens.js';
import { REFERENCE_SERVERS } from '../helpers/fixture.js';
import { callTool, runGateway, textOf, type RunningGateway } from '../helpers/gateway-harness.js';
import { rawRequest } from '../helpers/raw-http.js';

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Record<string, unknown>;
}

let gw: RunningGateway;
let keys: ApproverKeys;
let client: Client;
let root: string;
let admin: string;
let stateDir: string;
let files = 0;

/** One request to the admin listener; `body` objects are sent as JSON, strings as they are. */
async function api(
  method: string,
  route: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== undefined) headers['authorization'] = `Bearer ${opts.token}`;
  const body =
    opts.body === undefined
      ? undefined
      : typeof opts.body === 'string'
        ? opts.body
        : JSON.stringify(opts.body);
  const res = await rawRequest(`${admin}${route}`, { method, headers, body });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON: the console's files
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Alice: an approver for every tier, freshly authenticated with MFA. */
const alice = () => keys.sign();

/** A new file under the server's root and where a move would put it. */
async function newFile(): Promise<{ source: string; destination: string }> {
  const n = ++files;
  const source = path.join(root, `file-${n}.txt`);
  await writeFile(source, `content ${n}\n`);
  return { source, destination: path.join(root, `moved-${n}.txt`) };
}

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

/** The request id of an `approval_pending` answer. */
function pendingRequest(result: CallToolResult): string {
  const meta = result._meta?.['mcpgov/decision'] as { reason?: string; request?: string } | undefined;
  expect(meta?.reason, textOf(result)).toBe('approval_pending');
  return meta?.request ?? '';
}

/** Moves a new file; the call is escalated, and its request is returned with the move's arguments. */
async function pendingMove(tool = 'fs__move_file') {
  const args = await newFile();
  const id = pendingRequest(await callTool(client, tool, args));
  const shown = await api('GET', `/api/approvals/${id}`, { token: await alice() });
  return { id, args, request: shown.json['request'] as ApprovalRequest };
}

/** What the store holds for a request, read through the API. */
async function stored(id: string): Promise<ApprovalRequest> {
  return (await api('GET', `/api/approvals/${id}`, { token: await alice() })).json[
    'request'
  ] as ApprovalRequest;
}

beforeAll(async () => {
  keys = await approverKeys();
  root = await mkdtemp(path.join(tmpdir(), 'mcpgov-admin-root-'));
  const escalate = (tool: string, approval: Record<string, unknown>) => ({
    id: `${tool}-needs-approval`,
    description: `${tool} needs a person`,
    when: { '===': [{ var: 'call.name' }, tool] },
    effect: 'escalate',
    reason: 'needs_approval',
    approval,
  });
  gw = await runGateway({
    config: {
      mode: 'enforce',
      identity: { default_agent: 'dev' },
      servers: { fs: { command: 'node', args: [REFERENCE_SERVERS.filesystem, root], roots: [root] } },
      admin: { http: '127.0.0.1:0' },
      approvals: {
        jwks: keys.jwks,
        issuer: APPROVER_ISSUER,
        approvers: [
          { sub: 'alice', name: 'Alice', teams: ['security'] },
          { sub: 'bob', teams: ['dev-team'] },
          { sub: 'carol', teams: ['ops'], tiers: ['low', 'medium'] },
        ],
        step_up: { amr: ['mfa'], max_auth_age_seconds: 300 },
        local_dev: { enabled: true },
      },
    },
    tools: {
      tools: [
        { name: 'fs__move_file', owner: 'storage', risk_tier: 'critical' },
        { name: 'fs__*', owner: 'storage', risk_tier: 'low' },
      ],
      groups: { fs: ['fs__*'] },
    },
    agents: { agents: [{ id: 'dev', owner: 'dev-team', tool_groups: ['fs'] }] },
    rules: [
      escalate('fs__move_file', { mode: 'return' }),
      // A request that expires at once, for the expired refusal.
      escalate('fs__write_file', { mode: 'return', timeout: 1, tier: 'low' }),
    ],
  });
  admin = gw.gateway.adminUrl ?? '';
  stateDir = (await loadConfig(gw.fixture.configFile)).state.dir;
  client = await gw.client();
});
afterAll(async () => gw?.close());

describe('admin listener', () => {
  it('serves on its own port, never the MCP one', () => {
    expect(admin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(new URL(admin).port).not.toBe(new URL(gw.url).port);
  });

  it('sends the Content-Security-Policy and the other security headers on every response', async () => {
    for (const [method, route, status] of [
      ['GET', '/', 200],
      ['GET', '/console.js', 200],
      ['GET', '/console.css', 200],
      ['GET', '/healthz', 200],
      ['GET', '/api/approvals', 401],
      ['GET', '/nowhere', 404],
    ] as const) {
      const res = await api(method, route);
      expect(res.status, route).toBe(status);
      expect(res.headers['content-security-policy'], route).toBe(CSP);
      expect(res.headers['x-content-type-options'], route).toBe('nosniff');
      expect(res.headers['referrer-policy'], route).toBe('no-referrer');
      expect(res.headers['cache-control'], route).toBe('no-store');
    }
    expect((await api('GET', '/')).headers['content-type']).toMatch(/^text\/html/);
  });

  it('refuses a Host it does not serve and a foreign Origin (DNS rebinding)', async () => {
    const host = await api('GET', '/', { headers: { host: 'attacker.example:8788' } });
    expect(host.status).toBe(403);
    expect(host.json).toEqual({ error: { code: 'forbidden', message: 'forbidden: Host not allowed' } });
    expect(host.headers['content-security-policy']).toBe(CSP);
    const origin = await api('GET', '/api/whoami', {
      token: await alice(),
      headers: { origin: 'http://attacker.example' },
    });
    expect(origin.status).toBe(403);
    const same = await api('GET', '/api/whoami', { token: await alice(), headers: { origin: admin } });
    expect(same.status).toBe(200);
  });

  it('answers 401 with a Bearer challenge without a token, and tells whoami with one', async () => {
    const res = await api('GET', '/api/approvals');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
    expect(res.json).toEqual({
      error: { code: 'unauthenticated', message: 'an approver bearer token is required' },
    });
    const me = await api('GET', '/api/whoami', { token: await alice() });
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({
      approver: { sub: 'alice', name: 'Alice', iss: APPROVER_ISSUER, via: 'api', amr: ['mfa'] },
      teams: ['security'],
      owners: ['*'],
      tiers: ['low', 'medium', 'high', 'critical'],
    });
  });

  it('refuses tokens that are expired, from an unknown key, for another audience, or of no approver', async () => {
    const cases = [
      [await keys.sign({ expiresIn: -3600 }), 401, 'invalid_token', /expired/],
      [await keys.signWithUnknownKey(), 401, 'invalid_token', /unknown key/],
      [await keys.sign({ aud: 'mcp-gateway' }), 401, 'invalid_token', /audience "mcp-gateway"/],
      [await keys.sign({ sub: 'mallory' }), 403, 'not_an_approver', /mallory is not an approver/],
    ] as const;
    for (const [token, status, code, message] of cases) {
      const res = await api('GET', '/api/approvals', { token });
      expect(res.status).toBe(status);
      expect(res.json['error']).toMatchObject({ code, message: expect.stringMatching(message) });
      if (status === 401) expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/);
    }
  });

  it('answers 404 for an unknown route and 405 with Allow for a wrong method', async () => {
    expect((await api('GET', '/api/nothing', { token: await alice() })).status).toBe(404);
    const wrong = await api('DELETE', '/api/approvals', { token: await alice() });
    expect(wrong.status).toBe(405);
    expect(wrong.headers['allow']).toBe('GET');
  });
});

describe('approval requests through the admin API', () => {
  it('lists and shows a pending request: masked arguments, reasons, binding, tier', async () => {
    const { id, args } = await pendingMove();
    const list = await api('GET', '/api/approvals?state=pending', { token: await alice() });
    expect(list.status).toBe(200);
    const requests = list.json['requests'] as ApprovalRequest[];
    expect(requests.map((r) => r.id)).toContain(id);
    expect(requests.every((r) => r.state === 'pending')).toBe(true);
    const limited = await api('GET', '/api/approvals?limit=1', { token: await alice() });
    expect(limited.json['requests']).toHaveLength(1);
    const request = await stored(id);
    expect(request).toMatchObject({
      id,
      state: 'pending',
      tier: 'critical',
      owner: 'storage',
      agent_owner: 'dev-team',
      mode: 'return',
      reasons: ['needs_approval'],
      binding: { agent: 'dev', tool: 'fs__move_file', args_digest: expect.stringMatching(/^sha256:/) },
      args,
    });
    expect((await api('GET', '/api/approvals/no-such-id', { token: await alice() })).status).toBe(404);
  });

  it('approves a return-mode request; the same call then moves the file once, a second retry does not', async () => {
    const { id, args, request } = await pendingMove();
    const approved = await api('POST', `/api/approvals/${id}/approve`, {
      token: await alice(),
      body: { reason: 'moving the quarterly report is expected', args_digest: request.binding.args_digest },
    });
    expect(approved.status).toBe(200);
    expect(approved.json['request']).toMatchObject({
      state: 'approved',
      verdict: { verdict: 'approve', approver: { sub: 'alice', via: 'api', amr: ['mfa'] } },
    });

    const retry = await callTool(client, 'fs__move_file', args);
    expect(retry.isError, textOf(retry)).toBeFalsy();
    expect(await exists(args.destination)).toBe(true);
    expect(await exists(args.source)).toBe(false);

    // The same file again at the source: a second retry of the same call is a new request, not a move.
    await writeFile(args.source, 'again\n');
    const second = await callTool(client, 'fs__move_file', { ...args, destination: args.destination });
    const next = pendingRequest(second);
    expect(next).not.toBe(id);
    expect(await exists(args.source)).toBe(true);
    expect((await stored(id)).grant?.used_at).toBeDefined();

    const events = (await gw.evidence())
      .filter((r) => r.kind === 'approval' && r.approval?.request === id)
      .map((r) => r.approval?.event);
    expect(events).toEqual(['created', 'decided', 'grant_used']);
  });

  it('denies a request with a reason; the call is not executed', async () => {
    const { id, args } = await pendingMove();
    const denied = await api('POST', `/api/approvals/${id}/deny`, {
      token: await alice(),
      headers: { 'x-mcpgov-channel': 'console' },
      body: { reason: 'not during the freeze' },
    });
    expect(denied.status).toBe(200);
    expect(denied.json['request']).toMatchObject({
      state: 'denied',
      verdict: {
        verdict: 'deny',
        reason: 'not during the freeze',
        approver: { sub: 'alice', via: 'console' },
      },
    });
    const retry = await callTool(client, 'fs__move_file', args);
    expect(pendingRequest(retry)).not.toBe(id);
    expect(await exists(args.source)).toBe(true);
    expect(await exists(args.destination)).toBe(false);
  });

  it('refuses bad verdicts with a clear error, and none of them changes the request or moves the file', async () => {
    const { id, args, request } = await pendingMove();
    const decide = async (token: string, body: unknown, headers?: Record<string, string>) =>
      api('POST', `/api/approvals/${id}/approve`, { token, body, headers });
    const now = Math.floor(Date.now() / 1000);
    const refusals: [Answer, number, string, RegExp][] = [
      [
        await decide(await alice(), { reason: 'ok', args_digest: `sha256:${'0'.repeat(64)}` }),
        409,
        'binding_changed',
        new RegExp(`bound to arguments ${request.binding.args_digest}, not the sha256:0+ you were shown`),
      ],
      [
        await decide(await keys.sign({ amr: ['pwd'] }), { reason: 'ok' }),
        403,
        'step_up_required',
        /critical-tier approvals need a step-up authentication: the token carries none of amr mfa/,
      ],
      [
        await decide(await keys.sign({ auth_time: now - 3600 }), { reason: 'ok' }),
        403,
        'step_up_required',
        /within the last 300 s; this token's auth_time is 3\d\d\d s old: sign in again/,
      ],
      [
        await decide(await keys.sign({ sub: 'bob' }), { reason: 'ok' }),
        403,
        'not_allowed',
        /separation of duties: bob belongs to dev-team, which owns agent dev; another approver must decide/,
      ],
      [
        await decide(await keys.sign({ sub: 'carol' }), { reason: 'ok' }),
        403,
        'not_allowed',
        /carol may not decide critical-tier requests/,
      ],
      [
        await decide(await mintLocalDevToken(stateDir, 'mcpgov-approvals', 300), { reason: 'ok' }),
        403,
        'not_allowed',
        /local-dev-approver may not decide critical-tier requests/,
      ],
      [
        await decide(await keys.sign({ expiresIn: -3600 }), { reason: 'ok' }),
        401,
        'invalid_token',
        /expired/,
      ],
      [await decide(await keys.signWithUnknownKey(), { reason: 'ok' }), 401, 'invalid_token', /unknown key/],
      [await decide(await keys.sign({ aud: 'x' }), { reason: 'ok' }), 401, 'invalid_token', /audience "x"/],
      [await decide('', { reason: 'ok' }), 401, 'unauthenticated', /token is required/],
    ];
    for (const [res, status, code, message] of refusals) {
      expect(res.status, JSON.stringify(res.json)).toBe(status);
      expect(res.json).toEqual({ error: { code, message: expect.stringMatching(message) } });
    }

    const malformed: [unknown, RegExp][] = [
      ['{"reason": "ok"', /not JSON/],
      ['', /not JSON/],
      ['[]', /body: /],
      [{}, /reason: /],
      [{ reason: '   ' }, /reason: /],
      [{ reason: 42 }, /reason: /],
      [{ reason: 'ok', args_digest: 'abc' }, /args_digest: must be sha256/],
      [{ reason: 'ok', verdict: 'deny' }, /verdict/],
      [{ reason: 'x'.repeat(70 * 1024) }, /over the 65536-byte limit/],
    ];
    for (const [body, message] of malformed) {
      const res = await decide(await alice(), body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(res.json).toEqual({ error: { code: 'malformed', message: expect.stringMatching(message) } });
    }
    const channel = await decide(await alice(), { reason: 'ok' }, { 'x-mcpgov-channel': 'carrier-pigeon' });
    expect(channel.status).toBe(400);

    const after = await stored(id);
    expect(after.state).toBe('pending');
    expect(after.verdict).toBeUndefined();
    const decided = (await gw.evidence()).filter(
      (r) => r.kind === 'approval' && r.approval?.request === id && r.approval.event !== 'created',
    );
    expect(decided).toEqual([]);
    expect(await exists(args.source)).toBe(true);
    expect(await exists(args.destination)).toBe(false);

    // Decided once, it cannot be decided again.
    const denied = await api('POST', `/api/approvals/${id}/deny`, {
      token: await alice(),
      body: { reason: 'no' },
    });
    expect(denied.status).toBe(200);
    const again = await decide(await alice(), { reason: 'changed my mind' });
    expect(again.status).toBe(409);
    expect(again.json).toEqual({
      error: { code: 'not_pending', message: `request ${id} is already denied` },
    });
    expect((await stored(id)).verdict?.verdict).toBe('deny');
  });

  it('refuses an unknown or an expired request', async () => {
    const unknown = await api('POST', '/api/approvals/no-such-id/approve', {
      token: await alice(),
      body: { reason: 'ok' },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({
      error: { code: 'unknown_request', message: 'no approval request no-such-id' },
    });

    const target = path.join(root, `written-${++files}.txt`);
    const id = pendingRequest(await callTool(client, 'fs__write_file', { path: target, content: 'x' }));
    // The request's timeout is one second: wait until the gateway's sweep has expired it.
    await expect
      .poll(async () => (await stored(id)).state, { timeout: 20_000, interval: 200 })
      .toBe('expired');
    const late = await api('POST', `/api/approvals/${id}/approve`, {
      token: await alice(),
      body: { reason: 'ok' },
    });
    expect(late.status).toBe(409);
    expect(late.json['error']).toMatchObject({ code: 'expired' });
    expect(await exists(target)).toBe(false);
  });

  it('rejects a bad list query', async () => {
    const state = await api('GET', '/api/approvals?state=maybe', { token: await alice() });
    expect(state.status).toBe(400);
    expect(state.json['error']).toMatchObject({
      code: 'malformed',
      message: expect.stringMatching(/^state must be/),
    });
    expect((await api('GET', '/api/approvals?limit=0', { token: await alice() })).status).toBe(400);
  });
});

describe('waivers through the admin API', () => {
  it('creates, lists and revokes a waiver; a matching call goes through while it is active', async () => {
    const created = await api('POST', '/api/waivers', {
      token: await alice(),
      body: {
        agent: 'dev',
        tool: 'fs__move_file',
        args_match: { in: ['waived', { var: 'call.arguments.source' }] },
        until: '1h',
        reason: 'bulk reorganisation this afternoon',
        compensating: 'the storage team reviews the evidence export tonight',
      },
    });
    expect(created.status).toBe(201);
    const waiver = created.json['waiver'] as { id: string; by: { sub: string }; until: string };
    expect(waiver.by.sub).toBe('alice');

    const listed = await api('GET', '/api/waivers?active=true', { token: await alice() });
    expect((listed.json['waivers'] as { id: string }[]).map((w) => w.id)).toContain(waiver.id);

    const source = path.join(root, 'waived-1.txt');
    await writeFile(source, 'w\n');
    const moved = await callTool(client, 'fs__move_file', {
      source,
      destination: path.join(root, 'waived-2.txt'),
    });
    expect(moved.isError, textOf(moved)).toBeFalsy();

    const revoked = await api('POST', `/api/waivers/${waiver.id}/revoke`, {
      token: await alice(),
      body: { reason: 'done' },
    });
    expect(revoked.status).toBe(200);
    expect(revoked.json['waiver']).toMatchObject({
      id: waiver.id,
      revoked: { reason: 'done', by: { sub: 'alice' } },
    });
    const active = await api('GET', '/api/waivers?active=true', { token: await alice() });
    expect((active.json['waivers'] as { id: string }[]).map((w) => w.id)).not.toContain(waiver.id);
    const all = await api('GET', '/api/waivers', { token: await alice() });
    expect((all.json['waivers'] as { id: string }[]).map((w) => w.id)).toContain(waiver.id);

    await writeFile(path.join(root, 'waived-3.txt'), 'w\n');
    pendingRequest(
      await callTool(client, 'fs__move_file', {
        source: path.join(root, 'waived-3.txt'),
        destination: path.join(root, 'waived-4.txt'),
      }),
    );
    expect(await exists(path.join(root, 'waived-3.txt'))).toBe(true);
  });

  it('refuses a waiver that is too long, malformed, without step-up, or by an approver of lower tiers', async () => {
    const body = { agent: 'dev', tool: 'fs__*', until: '2h', reason: 'r', compensating: 'c' };
    const cases: [string, unknown, number, string][] = [
      [await alice(), { ...body, until: '90d' }, 400, 'too_long'],
      [await alice(), { ...body, until: 'tomorrow' }, 400, 'invalid'],
      [await alice(), { ...body, compensating: undefined }, 400, 'malformed'],
      [await alice(), { ...body, args_match: { nope: [1] } }, 400, 'invalid'],
      [await keys.sign({ amr: [] }), body, 403, 'step_up_required'],
      [await keys.sign({ sub: 'carol' }), body, 403, 'not_allowed'],
    ];
    const before = await api('GET', '/api/waivers', { token: await alice() });
    for (const [token, waiver, status, code] of cases) {
      const res = await api('POST', '/api/waivers', { token, body: waiver });
      expect(res.status, JSON.stringify(res.json)).toBe(status);
      expect(res.json['error']).toMatchObject({ code });
    }
    const after = await api('GET', '/api/waivers', { token: await alice() });
    expect(after.json['waivers']).toEqual(before.json['waivers']);
    const unknown = await api('POST', '/api/waivers/no-such-waiver/revoke', {
      token: await alice(),
      body: { reason: 'x' },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.json['error']).toMatchObject({ code: 'unknown_waiver' });
  });
});
