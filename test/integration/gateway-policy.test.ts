import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { readCheckpoints } from '../../src/evidence/checkpoints.js';
import { listSegments } from '../../src/evidence/jsonl-store.js';
import { verifyChainLines } from '../../src/evidence/verify-chain.js';
import { REFERENCE_SERVERS, type FixtureSpec } from '../helpers/fixture.js';
import { callTool, runGateway, textOf, type RunningGateway } from '../helpers/gateway-harness.js';

/**
 * The gateway over the real filesystem and everything servers. The filesystem server may write to two
 * folders; policy allows writes only to one of them, so a forwarded write outside it really lands.
 */
async function spec(
  mode: 'observe' | 'enforce',
): Promise<{ spec: FixtureSpec; demo: string; outside: string }> {
  const demo = await mkdtemp(path.join(tmpdir(), 'mcpgov-demo-'));
  const outside = await mkdtemp(path.join(tmpdir(), 'mcpgov-outside-'));
  await writeFile(path.join(demo, 'hello.txt'), 'hello from the demo folder');
  return {
    demo,
    outside,
    spec: {
      config: {
        mode: 'observe',
        identity: { default_agent: 'dev' },
        paths: { demo },
        servers: {
          fs: { command: 'node', args: [REFERENCE_SERVERS.filesystem, demo, outside] },
          everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] },
        },
      },
      tools: {
        tools: [
          {
            name: 'fs__write_file',
            owner: 'platform',
            risk_tier: 'high',
            scopes: ['fs.write'],
            mode,
            outcome: {
              description: 'the server reports writing the requested path',
              check: { in: [{ var: 'call.arguments.path' }, { var: 'result.content.0.text' }] },
            },
          },
          { name: 'fs__*', owner: 'platform', risk_tier: 'low', scopes: ['fs.read'] },
          {
            name: 'everything__get-sum',
            owner: 'platform',
            risk_tier: 'low',
            caps: { rate_per_minute: 30 },
            mode: 'enforce',
          },
          {
            name: 'everything__get-env',
            owner: 'security',
            risk_tier: 'critical',
            data_classes: ['secrets'],
            mode: 'enforce',
          },
          { name: 'everything__*', owner: 'platform', risk_tier: 'low' },
        ],
        groups: { fs: ['fs__*'], demo: ['everything__*'] },
      },
      agents: {
        agents: [
          {
            id: 'dev',
            owner: 'platform',
            tool_groups: ['fs', 'demo'],
            scopes: ['fs.read', 'fs.write'],
            clearance: [],
          },
        ],
      },
      rules: [
        {
          id: 'fs-write-inside-demo',
          description: 'filesystem writes must stay inside the demo folder',
          when: {
            and: [
              { '===': [{ var: 'call.name' }, 'fs__write_file'] },
              { '!': { path_within: [{ var: 'call.arguments.path' }, { var: 'paths.demo' }] } },
            ],
          },
          effect: 'deny',
          reason: 'write_outside_demo',
        },
      ],
    },
  };
}

describe('gateway in enforce mode', () => {
  let gw: RunningGateway;
  let outside: string;
  let demo: string;
  const now = Date.UTC(2026, 10, 24, 12, 0, 0);

  beforeAll(async () => {
    const s = await spec('enforce');
    outside = s.outside;
    demo = s.demo;
    gw = await runGateway(s.spec, () => now);
  });
  afterAll(() => gw.close());

  it('lists the tools of every server with <server>__<tool> names and raw schemas', async () => {
    const client = await gw.client();
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    expect(names).toContain('fs__read_text_file');
    expect(names).toContain('everything__echo');
    const echo = tools.find((t) => t.name === 'everything__echo');
    expect(echo?.inputSchema.properties).toHaveProperty('message');
  });

  it('forwards an allowed call and returns the downstream result', async () => {
    const client = await gw.client();
    const result = await callTool(client, 'fs__read_text_file', { path: path.join(demo, 'hello.txt') });
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toContain('hello from the demo folder');
  });

  it('denies a write outside the demo folder, and the file does not exist afterwards', async () => {
    const client = await gw.client();
    const target = path.join(outside, 'escaped.txt');
    const result = await callTool(client, 'fs__write_file', { path: target, content: 'should not land' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(
      /^Denied by policy: .*\(reason: write_outside_demo, decision: [0-9a-f-]{36}\)/,
    );
    expect(existsSync(target)).toBe(false);

    const records = await gw.evidence();
    const decision = records.find(
      (r) =>
        r.kind === 'decision' && r.request?.args && JSON.stringify(r.request.args).includes('escaped.txt'),
    );
    expect(decision?.decision).toMatchObject({
      effect: 'deny',
      enforced: true,
      reasons: ['write_outside_demo'],
      rules: ['fs-write-inside-demo'],
    });
    expect(records.some((r) => r.kind === 'action' && r.action?.decision_id === decision?.id)).toBe(false);
  });

  it('allows a write inside the demo folder', async () => {
    const client = await gw.client();
    const target = path.join(demo, 'written.txt');
    const result = await callTool(client, 'fs__write_file', { path: target, content: 'landed' });
    expect(result.isError).toBeFalsy();
    expect(await readFile(target, 'utf8')).toBe('landed');

    const records = await gw.evidence();
    const decision = records.find(
      (r) => r.kind === 'decision' && JSON.stringify(r.request?.args).includes('written.txt'),
    );
    const outcome = records.find((r) => r.kind === 'outcome' && r.outcome?.decision_id === decision?.id);
    expect(outcome?.outcome).toMatchObject({
      tool: 'fs__write_file',
      verified: true,
      checks: [{ check: 'the server reports writing the requested path', passed: true }],
    });
  });

  it('opens a chain per session and closes it with a checkpoint when the session ends', async () => {
    const client = await gw.client();
    await callTool(client, 'everything__echo', { message: 'in a chain' });
    const opened = (await gw.evidence()).findLast(
      (r) => r.kind === 'chain' && r.chain_event?.event === 'open',
    );
    expect(opened?.subject).toMatchObject({ agent: 'dev', verified: false });
    // A Streamable HTTP session ends when the client deletes it.
    await (client.transport as StreamableHTTPClientTransport).terminateSession();
    await vi.waitFor(async () => {
      const records = await gw.evidence();
      const closed = records.find(
        (r) => r.kind === 'chain' && r.chain === opened?.chain && r.chain_event?.event === 'close',
      );
      expect(closed?.chain_event).toEqual({ event: 'close', calls: 1, received: 1 });
      const sessionRecords = records.filter((r) => r.chain === opened?.chain).map((r) => r.kind);
      expect(sessionRecords).toEqual(['chain', 'decision', 'action', 'chain']);
      const checkpoints = await readCheckpoints(gw.fixture.evidenceDir);
      const last = JSON.parse(checkpoints[checkpoints.length - 1]!.text) as { size: number };
      expect(last.size).toBeGreaterThan(closed!.seq);
    });
  });

  it('denies the 31st call in a minute of a tool capped at 30/min with rate_limited', async () => {
    const client = await gw.client();
    for (let i = 0; i < 30; i++) {
      const ok = await callTool(client, 'everything__get-sum', { a: i, b: 1 });
      expect(ok.isError, `call ${i + 1}`).toBeFalsy();
    }
    const denied = await callTool(client, 'everything__get-sum', { a: 1, b: 1 });
    expect(denied.isError).toBe(true);
    expect(textOf(denied)).toContain('reason: rate_limited');
  });

  it('hides a tool the agent may never call, answers a call to it as an unknown tool, and records it', async () => {
    const client = await gw.client();
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).not.toContain('everything__get-env');

    const hidden = await callTool(client, 'everything__get-env');
    const missing = await callTool(client, 'everything__no-such-tool');
    expect(hidden.isError).toBe(true);
    expect(textOf(hidden)).toBe('MCP error -32602: Tool everything__get-env not found');
    expect(textOf(missing)).toBe('MCP error -32602: Tool everything__no-such-tool not found');

    const records = await gw.evidence();
    const decision = records.find((r) => r.kind === 'decision' && r.request?.tool === 'everything__get-env');
    expect(decision?.decision).toMatchObject({
      effect: 'deny',
      enforced: true,
      reasons: ['data_class_not_cleared'],
    });
  });

  it('writes an evidence log in which every line recomputes and links to the one before', async () => {
    await gw.gateway.evidence.flush();
    const lines: string[] = [];
    for (const segment of await listSegments(gw.fixture.evidenceDir)) {
      lines.push(...(await readFile(segment, 'utf8')).split('\n').filter(Boolean));
    }
    expect(lines.length).toBeGreaterThan(30);
    expect(verifyChainLines(lines)).toEqual({ ok: true, count: lines.length });
  });
});

describe('gateway in observe mode', () => {
  let gw: RunningGateway;
  let outside: string;

  beforeAll(async () => {
    const s = await spec('observe');
    outside = s.outside;
    gw = await runGateway(s.spec);
  });
  afterAll(() => gw.close());

  it('forwards a write outside the demo folder and records the deny with enforced:false', async () => {
    const client = await gw.client();
    const target = path.join(outside, 'observed.txt');
    const result = await callTool(client, 'fs__write_file', {
      path: target,
      content: 'observed, not blocked',
    });
    expect(result.isError).toBeFalsy();
    expect(await readFile(target, 'utf8')).toBe('observed, not blocked');

    const records = await gw.evidence();
    const decision = records.find((r) => r.kind === 'decision' && r.request?.tool === 'fs__write_file');
    expect(decision?.decision).toMatchObject({
      effect: 'deny',
      mode: 'observe',
      enforced: false,
      reasons: ['write_outside_demo'],
    });
    const action = records.find((r) => r.kind === 'action' && r.action?.decision_id === decision?.id);
    expect(action?.action).toMatchObject({ forwarded: true, is_error: false });
    // The decision is on disk before the call's outcome: it precedes the action in the log.
    expect(decision!.seq).toBeLessThan(action!.seq);
  });
});
