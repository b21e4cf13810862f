import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { REFERENCE_SERVERS, type FixtureSpec } from '../helpers/fixture.js';
import { callTool, runGateway, textOf, type RunningGateway } from '../helpers/gateway-harness.js';
import { freePort } from '../helpers/demo-copy.js';
import { messagesOf, openRawSession, rawRequest, sessionHeaders } from '../helpers/raw-http.js';

/** A raw HTTP POST with full control of the Host and Origin headers (fetch cannot set Host). */
function post(
  url: string,
  headers: Record<string, string>,
  body: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const initialize = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
});

describe('gateway transports', () => {
  let web: ChildProcess;
  let gw: RunningGateway;

  beforeAll(async () => {
    const port = await freePort();
    web = spawn(process.execPath, [REFERENCE_SERVERS.everything, 'streamableHttp'], {
      env: { ...process.env, PORT: String(port) },
      stdio: 'ignore',
    });
    await vi.waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/mcp`, { method: 'GET' }).catch(() => undefined);
        expect(res).toBeDefined();
      },
      { timeout: 10_000, interval: 100 },
    );
    const spec: FixtureSpec = {
      config: {
        mode: 'enforce',
        identity: { default_agent: 'dev' },
        listen: { allowed_hosts: ['gateway.internal'], allowed_origins: ['https://console.internal'] },
        servers: {
          web: { url: `http://127.0.0.1:${port}/mcp` },
          local: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] },
        },
      },
      tools: { tools: [{ name: '*', owner: 'platform', risk_tier: 'low' }], groups: { all: ['*'] } },
      agents: { agents: [{ id: 'dev', owner: 'platform', tool_groups: ['all'] }] },
    };
    gw = await runGateway(spec);
  });
  afterAll(async () => {
    await gw?.close();
    web?.kill();
  });

  it('aggregates a downstream server reached over Streamable HTTP', async () => {
    const client = await gw.client();
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('web__echo');
    expect(names).toContain('local__echo');
    expect(textOf(await callTool(client, 'web__echo', { message: 'over http' }))).toBe('Echo: over http');
  });

  it('rejects a non-local Host header with 403 unless it is configured', async () => {
    const evil = await post(gw.url, { host: 'evil.example' }, initialize);
    expect(evil.status).toBe(403);
    expect(evil.body).toContain('Host not allowed');
    const allowed = await post(gw.url, { host: 'gateway.internal' }, initialize);
    expect(allowed.status).toBe(200);
  });

  it('rejects a foreign Origin with 403 unless it is configured', async () => {
    expect((await post(gw.url, { origin: 'http://evil.example' }, initialize)).status).toBe(403);
    expect((await post(gw.url, { origin: 'https://console.internal' }, initialize)).status).toBe(200);
    expect((await post(gw.url, { origin: 'http://localhost:3000' }, initialize)).status).toBe(200);
  });

  it('propagates cancellation of a long call to the downstream request and records it', async () => {
    const client = await gw.client();
    const controller = new AbortController();
    const call = client.callTool(
      { name: 'local__trigger-long-running-operation', arguments: { duration: 30, steps: 30 } },
      undefined,
      { signal: controller.signal, onprogress: () => controller.abort() },
    );
    await expect(call).rejects.toThrow(/abort/i);
    await vi.waitFor(async () => {
      const actions = (await gw.evidence()).filter(
        (r) => r.kind === 'action' && r.action?.tool === 'local__trigger-long-running-operation',
      );
      expect(actions).toHaveLength(1);
      expect(actions[0]?.action).toMatchObject({
        forwarded: true,
        is_error: true,
        error: { code: 'downstream_error' },
      });
      expect(actions[0]?.action?.duration_ms).toBeLessThan(10_000);
    });
    // The gateway keeps serving the session after a cancelled call.
    expect(textOf(await callTool(client, 'local__echo', { message: 'after cancel' }))).toBe(
      'Echo: after cancel',
    );
  });

  it('answers a plain tools/call over HTTP as one JSON object, and a call asking for progress as an SSE stream', async () => {
    const session = await openRawSession(gw.url);
    const call = (id: number, params: Record<string, unknown>) =>
      rawRequest(gw.url, {
        headers: sessionHeaders(session),
        body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params }),
      });
    const plain = await call(2, { name: 'local__echo', arguments: { message: 'direct' } });
    expect(plain.status).toBe(200);
    expect(plain.headers['content-type']).toBe('application/json');
    expect(plain.headers['mcp-session-id']).toBe(session);
    expect(JSON.parse(await plain.text())).toEqual({
      jsonrpc: '2.0',
      id: 2,
      result: { content: [{ type: 'text', text: 'Echo: direct' }] },
    });

    const withProgress = await call(3, {
      name: 'local__echo',
      arguments: { message: 'streamed' },
      _meta: { progressToken: 'p1' },
    });
    expect(withProgress.headers['content-type']).toBe('text/event-stream');
    expect(messagesOf(await withProgress.text())).toContainEqual(
      expect.objectContaining({ id: 3, result: expect.objectContaining({ content: expect.any(Array) }) }),
    );

    // A header the SDK path refuses is refused the same way, not served directly.
    const badVersion = await rawRequest(gw.url, {
      headers: { ...sessionHeaders(session), 'mcp-protocol-version': '1999-01-01' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'local__echo' } }),
    });
    expect(badVersion.status).toBe(400);
  });

  it('cancels a call answered as JSON when the client cancels it, and records the call', async () => {
    const client = await gw.client();
    const controller = new AbortController();
    const call = client.callTool(
      { name: 'local__trigger-long-running-operation', arguments: { duration: 30, steps: 30 } },
      undefined,
      { signal: controller.signal },
    );
    setTimeout(() => controller.abort(), 300);
    await expect(call).rejects.toThrow(/abort/i);
    await vi.waitFor(async () => {
      const actions = (await gw.evidence()).filter(
        (r) => r.kind === 'action' && r.action?.tool === 'local__trigger-long-running-operation',
      );
      expect(actions).toHaveLength(2);
      expect(actions[1]?.action).toMatchObject({ forwarded: true, is_error: true });
      expect(actions[1]?.action?.duration_ms).toBeLessThan(10_000);
    });
    expect(textOf(await callTool(client, 'local__echo', { message: 'after cancel' }))).toBe(
      'Echo: after cancel',
    );
  });
});
