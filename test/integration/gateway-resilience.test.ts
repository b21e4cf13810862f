import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { REFERENCE_SERVERS, type FixtureSpec } from '../helpers/fixture.js';
import { callTool, runGateway, textOf, type RunningGateway } from '../helpers/gateway-harness.js';

const ISSUER = 'https://idp.test';
const AUDIENCE = 'mcpgov-gateway';

function spec(jwks: string, memoryFile: string): FixtureSpec {
  return {
    config: {
      mode: 'enforce',
      identity: { default_agent: 'dev', jwks, issuer: ISSUER, audience: AUDIENCE },
      limits: { max_message_bytes: 64 * 1024 },
      servers: {
        memory: { command: 'node', args: [REFERENCE_SERVERS.memory], env: { MEMORY_FILE_PATH: memoryFile } },
        everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] },
      },
    },
    tools: {
      tools: [
        { name: 'memory__*', owner: 'knowledge', risk_tier: 'low' },
        { name: 'everything__*', owner: 'platform', risk_tier: 'low' },
      ],
      groups: { all: ['memory__*', 'everything__*'] },
    },
    agents: {
      agents: [
        { id: 'dev', owner: 'platform', tool_groups: ['all'] },
        { id: 'ci', owner: 'platform', tool_groups: ['all'], sub: 'ci-bot' },
      ],
    },
  };
}

describe('gateway identity, failure and protocol handling', () => {
  let gw: RunningGateway;
  let sign: (sub: string) => Promise<string>;

  beforeAll(async () => {
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'EdDSA', use: 'sig' };
    sign = (sub) =>
      new SignJWT({ scope: '' })
        .setProtectedHeader({ alg: 'EdDSA', kid: 'test-key' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject(sub)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);
    const fixtureSpec = spec('./jwks.json', '${config_dir}/memory.jsonl');
    gw = await runGateway({ ...fixtureSpec, files: { 'jwks.json': JSON.stringify({ keys: [jwk] }) } });
  });
  afterAll(() => gw.close());

  it('denies a verified caller that maps to no registered agent', async () => {
    const client = await gw.client(await sign('stranger'));
    const result = await callTool(client, 'everything__echo', { message: 'hi' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('reason: unknown_agent');
    const records = await gw.evidence();
    const decision = records.findLast((r) => r.kind === 'decision');
    expect(decision?.subject).toMatchObject({ verified: true, sub: 'stranger' });
  });

  it('maps a verified token to its agent by sub and records the caller as verified', async () => {
    const client = await gw.client(await sign('ci-bot'));
    const result = await callTool(client, 'everything__echo', { message: 'from ci' });
    expect(textOf(result)).toBe('Echo: from ci');
    const decision = (await gw.evidence()).findLast((r) => r.kind === 'decision');
    expect(decision?.subject).toMatchObject({ verified: true, agent: 'ci', sub: 'ci-bot' });
  });

  it('refuses a token signed by an unknown key with 401, never falling back to the default agent', async () => {
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA', kid: 'test-key' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject('ci-bot')
      .setExpirationTime('5m')
      .sign(privateKey);
    await expect(gw.client(forged)).rejects.toMatchObject({
      code: 401,
      message: expect.stringMatching(/token rejected/),
    });
  });

  it('records callers without a token as the default agent, unverified', async () => {
    const client = await gw.client();
    expect(textOf(await callTool(client, 'everything__echo', { message: 'anon' }))).toBe('Echo: anon');
    const decision = (await gw.evidence()).findLast((r) => r.kind === 'decision');
    expect(decision?.subject).toMatchObject({ verified: false, agent: 'dev' });
  });

  it('keeps the other servers answering while a killed server restarts, then serves its tools again', async () => {
    const client = await gw.client();
    expect((await callTool(client, 'memory__read_graph')).isError).toBeFalsy();
    const memory = gw.gateway.downstreams.get('memory');
    const pid = memory?.pid;
    expect(pid).toBeTypeOf('number');
    process.kill(pid!, 'SIGKILL');
    await vi.waitFor(() => expect(memory?.state).not.toBe('up'), { timeout: 5000 });

    const during = await callTool(client, 'memory__read_graph');
    expect(during.isError).toBe(true);
    expect(textOf(during)).toMatch(/memory.*unavailable.*reason: server_unavailable/);
    expect(textOf(await callTool(client, 'everything__echo', { message: 'still here' }))).toBe(
      'Echo: still here',
    );

    await vi.waitFor(() => expect(memory?.state).toBe('up'), { timeout: 15_000, interval: 100 });
    const after = await callTool(client, 'memory__read_graph');
    expect(after.isError).toBeFalsy();
  });

  it('answers malformed JSON with a parse error and keeps serving', async () => {
    const response = await fetch(gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: '{"jsonrpc": "2.0", "id": 1, "method": ',
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: number } }).error.code).toBe(-32700);
    const client = await gw.client();
    expect(textOf(await callTool(client, 'everything__echo', { message: 'after bad input' }))).toBe(
      'Echo: after bad input',
    );
  });

  it('rejects oversized arguments with a clear error and keeps serving', async () => {
    const client = await gw.client();
    const big = 'x'.repeat(100 * 1024);
    await expect(callTool(client, 'everything__echo', { message: big })).rejects.toThrow(/too large|413/i);
    expect(textOf(await callTool(client, 'everything__echo', { message: 'small' }))).toBe('Echo: small');
  });

  it('forwards progress notifications of a long-running call', async () => {
    const client = await gw.client();
    const progress: number[] = [];
    const result = await client.callTool(
      { name: 'everything__trigger-long-running-operation', arguments: { duration: 1, steps: 3 } },
      undefined,
      { onprogress: (p) => progress.push(p.progress) },
    );
    expect(result.isError).toBeFalsy();
    expect(progress.length).toBeGreaterThanOrEqual(2);
  });

  it('forwards prompts and resources, namespaced by server', async () => {
    const client = await gw.client();
    const { prompts } = await client.listPrompts();
    const simple = prompts.find((p) => p.name.startsWith('everything__'));
    expect(simple).toBeDefined();
    const { resources } = await client.listResources();
    expect(resources.every((r) => /^(memory|everything)__/.test(r.name))).toBe(true);
    const fromEverything = resources.find((r) => r.name.startsWith('everything__'));
    expect(fromEverything).toBeDefined();
    // URIs are not rewritten: links in tool results stay readable through the gateway.
    const read = await client.readResource({ uri: fromEverything!.uri });
    expect(read.contents[0]?.uri).toBe(fromEverything!.uri);
    const prompt = await client.getPrompt({ name: simple!.name, arguments: {} }).catch((e: Error) => e);
    expect(prompt).not.toBeInstanceOf(Error);
  });
});
