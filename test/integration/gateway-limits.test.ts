import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REFERENCE_SERVERS, type FixtureSpec } from '../helpers/fixture.js';
import { callTool, runGateway, textOf, type RunningGateway } from '../helpers/gateway-harness.js';
import { INITIALIZE, messagesOf, openRawSession, rawRequest, sessionHeaders } from '../helpers/raw-http.js';

const ISSUER = 'https://idp.test';
const AUDIENCE = 'mcpgov-gateway';

function spec(limits: Record<string, unknown>, identity: Record<string, unknown> = {}): FixtureSpec {
  return {
    // Observe mode: limits hold whatever the mode.
    config: {
      mode: 'observe',
      identity: { default_agent: 'dev', ...identity },
      limits,
      servers: { everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] } },
    },
    tools: {
      tools: [{ name: 'everything__*', owner: 'platform', risk_tier: 'low' }],
      groups: { all: ['everything__*'] },
    },
    agents: {
      agents: [
        { id: 'dev', owner: 'platform', tool_groups: ['all'] },
        { id: 'ci', owner: 'platform', tool_groups: ['all'], sub: 'ci-bot' },
      ],
    },
  };
}

const call = (id: number, name: string, args: Record<string, unknown>, progress = false) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name, arguments: args, ...(progress ? { _meta: { progressToken: `p${id}` } } : {}) },
  });

/** A call that runs 4 s and reports progress every half second: in flight once progress arrives. */
const LONG = { duration: 4, steps: 8 };

describe('gateway limits on calls', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await runGateway(spec({ max_result_bytes: 2048, max_concurrent_calls_per_session: 1 }));
  });
  afterAll(() => gw?.close());

  it('denies and records arguments nested past the limit instead of failing with -32603', async () => {
    const client = await gw.client();
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 600; i++) deep = { a: deep };
    const result = await callTool(client, 'everything__echo', { message: 'deep', deep });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/reason: arguments_too_deep/);
    // Far deeper than any recursive walker survives, sent raw.
    const session = await openRawSession(gw.url);
    const hostile = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"everything__echo","arguments":{"message":"x","d":${'['.repeat(100_000)}${']'.repeat(100_000)}}}}`;
    const raw = await rawRequest(gw.url, { headers: sessionHeaders(session), body: hostile });
    expect(messagesOf(await raw.text())).toEqual([
      expect.objectContaining({ id: 2, result: expect.objectContaining({ isError: true }) }),
    ]);
    const denied = (await gw.evidence()).filter(
      (r) => r.kind === 'decision' && r.decision?.reasons[0] === 'arguments_too_deep',
    );
    expect(denied).toHaveLength(2);
    expect(denied.every((r) => r.decision?.enforced && r.request?.masked[0] === '')).toBe(true);
    expect(textOf(await callTool(client, 'everything__echo', { message: 'next' }))).toBe('Echo: next');
  });

  it('refuses a tool result over max_result_bytes with a tool error; the action record says why', async () => {
    const client = await gw.client();
    const result = await callTool(client, 'everything__echo', { message: 'x'.repeat(3000) });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/over the 2048-byte limit .*reason: result_too_large/);
    const actions = (await gw.evidence()).filter((r) => r.action?.error?.code === 'result_too_large');
    expect(actions).toHaveLength(1);
    expect(actions[0]?.action).toMatchObject({ forwarded: true, is_error: true, tool: 'everything__echo' });
    expect(actions[0]?.action?.result_bytes).toBeGreaterThan(3000);
  });

  it('answers a second call in flight in one session with -32029 and records nothing for it', async () => {
    const client = await gw.client();
    const controller = new AbortController();
    let inFlight!: () => void;
    const started = new Promise<void>((resolve) => (inFlight = resolve));
    const long = client.callTool(
      { name: 'everything__trigger-long-running-operation', arguments: LONG },
      undefined,
      { signal: controller.signal, onprogress: () => inFlight() },
    );
    await started;
    const second = callTool(client, 'everything__echo', { message: 'one too many' });
    await expect(second).rejects.toBeInstanceOf(McpError);
    await expect(second).rejects.toMatchObject({
      code: -32029,
      data: { reason: 'too_many_calls', scope: 'session', limit: 1 },
    });
    // Another session is not held back.
    expect(textOf(await callTool(await gw.client(), 'everything__echo', { message: 'other' }))).toBe(
      'Echo: other',
    );
    controller.abort();
    await expect(long).rejects.toThrow(/abort/i);
    const records = await gw.evidence();
    expect(records.some((r) => JSON.stringify(r.request?.args ?? '').includes('one too many'))).toBe(false);
  });

  it('refuses a request reusing the id of one in flight with -32600, and still answers the first', async () => {
    const session = await openRawSession(gw.url);
    const headers = sessionHeaders(session);
    const first = await rawRequest(gw.url, {
      headers,
      body: call(7, 'everything__trigger-long-running-operation', LONG, true),
    });
    await first.until('notifications/progress');
    const dup = await rawRequest(gw.url, { headers, body: call(7, 'everything__echo', { message: 'dup' }) });
    expect(dup.status).toBe(400);
    expect(JSON.parse(await dup.text())).toEqual({
      jsonrpc: '2.0',
      id: 7,
      error: { code: -32600, message: 'Invalid Request: request id 7 is already in flight' },
    });
    const answers = messagesOf(await first.text()).filter((m) => (m as { id?: unknown }).id === 7);
    expect(answers).toEqual([
      expect.objectContaining({
        result: expect.objectContaining({
          content: [
            expect.objectContaining({ text: expect.stringMatching(/Long running operation completed/) }),
          ],
        }),
      }),
    ]);
    // Answered, the id may be used again.
    const again = await rawRequest(gw.url, {
      headers,
      body: call(7, 'everything__echo', { message: 'again' }),
    });
    expect(await again.text()).toContain('Echo: again');
  });
});

describe('gateway limits on sessions', () => {
  let gw: RunningGateway;
  let token: string;
  beforeAll(async () => {
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k', alg: 'EdDSA', use: 'sig' };
    token = await new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA', kid: 'k' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject('ci-bot')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    gw = await runGateway({
      ...spec(
        { max_sessions: 3, max_sessions_per_caller: 2 },
        { jwks: './jwks.json', issuer: ISSUER, audience: AUDIENCE },
      ),
      files: { 'jwks.json': JSON.stringify({ keys: [jwk] }) },
    });
  });
  afterAll(() => gw?.close());

  const chainOpens = async () =>
    (await gw.evidence()).filter((r) => r.kind === 'chain' && r.chain_event?.event === 'open').length;

  it('refuses sessions past the per-caller and total caps without a chain record, until one closes', async () => {
    const bearer = { authorization: `Bearer ${token}` };
    const first = await openRawSession(gw.url);
    await openRawSession(gw.url);
    // A third session from the same address, unverified: 429.
    const third = await rawRequest(gw.url, { body: INITIALIZE });
    expect(third.status).toBe(429);
    expect(third.headers['retry-after']).toMatch(/^\d+$/);
    expect(JSON.parse(await third.text())).toMatchObject({
      jsonrpc: '2.0',
      id: 1,
      error: { code: -32029, message: /max_sessions_per_caller/, data: { reason: 'too_many_sessions' } },
    });
    // A verified caller counts on its own, up to the total.
    await openRawSession(gw.url, bearer);
    const full = await rawRequest(gw.url, { headers: bearer, body: INITIALIZE });
    expect(full.status).toBe(503);
    expect(JSON.parse(await full.text())).toMatchObject({
      error: { code: -32029, message: /max_sessions\)/ },
    });
    expect(await chainOpens()).toBe(3);
    // Closing one makes room.
    const closed = await rawRequest(gw.url, { method: 'DELETE', headers: sessionHeaders(first) });
    expect(closed.status).toBe(200);
    await closed.text();
    await openRawSession(gw.url);
    expect(await chainOpens()).toBe(4);
  });
});
