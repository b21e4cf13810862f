import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { loadConfig } from '../../src/config/load-config.js';
import { readEvidence } from '../../src/evidence/jsonl-store.js';
import type { EvidenceRecord } from '../../src/evidence/types.js';
import { silentLogger } from '../../src/util/log.js';
import { startSidecar, type Sidecar } from '../../mcp-sidecar/sidecar.js';
import { CLI, writeFixture, type Fixture, type FixtureSpec } from '../helpers/fixture.js';
import { callTool, textOf } from '../helpers/gateway-harness.js';
import { HOSTILE_SERVER } from '../helpers/hostile-server.js';

const MAX_RESULT_BYTES = 64 * 1024;

/** The sidecar's setup: every tool of the one server, enforce mode, a small result limit. */
const SPEC: FixtureSpec = {
  config: {
    mode: 'enforce',
    identity: { default_agent: 'dev' },
    // Results over MAX_RESULT_BYTES are read and withheld; messages over twice that are not even read.
    limits: { max_result_bytes: MAX_RESULT_BYTES, max_downstream_message_bytes: 2 * MAX_RESULT_BYTES },
  },
  tools: { tools: [{ name: '*', owner: 'p', risk_tier: 'low' }], groups: { all: ['*'] } },
  agents: { agents: [{ id: 'dev', owner: 'p', tool_groups: ['all'] }] },
};

/** Resolves at the next tools/list_changed notification the client receives. */
function nextListChange(client: Client): Promise<void> {
  return new Promise((resolve) =>
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()),
  );
}

const lastDecision = (records: EvidenceRecord[], tool: string) =>
  records.findLast((r) => r.kind === 'decision' && r.request?.tool === tool);

describe('sidecar (in-process) in front of a hostile server', () => {
  let sidecar: Sidecar;
  let client: Client;
  let fx: Fixture;
  const evidence = async () => {
    await sidecar.evidence.flush();
    return readEvidence(fx.evidenceDir);
  };

  beforeAll(async () => {
    fx = await writeFixture(SPEC);
    sidecar = await startSidecar({ config: await loadConfig(fx.configFile), log: silentLogger });
    client = new Client({ name: 'agent', version: '0' });
    // The SDK's own stdio transport: no framing limit, so the enforcer's own size check is what refuses.
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [HOSTILE_SERVER, '--rug-pull'],
      stderr: 'ignore',
    });
    await client.connect(await sidecar.govern(transport, { server: 'hostile' }));
  }, 60_000);
  afterAll(async () => {
    await client?.close();
    await sidecar?.close();
  });

  it('blocks a tool whose definition changed after the first list, and records the drift', async () => {
    const changed = nextListChange(client);
    const first = (await client.listTools()).tools.map((t) => t.name);
    expect(first).toContain('weather');
    expect(first).not.toContain('notes'); // poisoned: hidden here too
    await changed;

    const result = await callTool(client, 'weather', { city: 'Oslo' });
    expect(textOf(result)).toBe('MCP error -32602: Tool weather not found');
    expect((await client.listTools()).tools.map((t) => t.name)).not.toContain('weather');
    const records = await evidence();
    expect(lastDecision(records, 'weather')?.decision).toMatchObject({
      effect: 'deny',
      enforced: true,
      reasons: ['definition_changed'],
    });
    expect(records.filter((r) => r.drift?.tool === 'weather')).toEqual([
      expect.objectContaining({
        kind: 'drift',
        pep: expect.objectContaining({ kind: 'sidecar' }),
        drift: expect.objectContaining({ cause: 'definition_changed', server: 'hostile', action: 'blocked' }),
      }),
    ]);
  });

  it('refuses a result over limits.max_result_bytes with a tool error, and the next call works', async () => {
    const result = await callTool(client, 'huge', { bytes: 4 * MAX_RESULT_BYTES });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(
      /^Call failed: the server's result is \d+ bytes, over the 65536-byte limit .*\(reason: result_too_large, decision: /,
    );
    expect(textOf(await callTool(client, 'echo', { text: 'after' }))).toBe('after');
  });

  it('refuses a malformed result with a tool error, and the next call works', async () => {
    const result = await callTool(client, 'malformed', { kind: 'unknown-block' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/not a valid CallToolResult at content\.0.*\(reason: malformed_result/);
    const records = await evidence();
    const decision = lastDecision(records, 'malformed');
    expect(
      records.findLast((r) => r.action?.decision_id === decision?.decision?.id)?.action?.error?.code,
    ).toBe('malformed_result');
    expect(textOf(await callTool(client, 'echo', { text: 'again' }))).toBe('again');
  });
});

describe('sidecar stdio wrapper (mcpgov sidecar -- hostile server)', () => {
  let client: Client;
  let fx: Fixture;

  beforeAll(async () => {
    fx = await writeFixture(SPEC);
    client = new Client({ name: 'agent', version: '0' });
    const changed = nextListChange(client);
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [
          CLI,
          'sidecar',
          '--config',
          fx.configFile,
          '--name',
          'hostile',
          '--',
          'node',
          HOSTILE_SERVER,
          '--rug-pull',
        ],
        stderr: 'ignore',
      }),
    );
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('weather');
    await changed;
  }, 60_000);
  afterAll(async () => {
    await client?.close();
  });

  it('blocks the changed tool, as the in-process sidecar does', async () => {
    expect(textOf(await callTool(client, 'weather', { city: 'Oslo' }))).toBe(
      'MCP error -32602: Tool weather not found',
    );
    await vi.waitFor(
      async () => {
        const records = await readEvidence(fx.evidenceDir);
        expect(lastDecision(records, 'weather')?.decision?.reasons).toEqual(['definition_changed']);
        expect(records.some((r) => r.drift?.tool === 'weather')).toBe(true);
      },
      { timeout: 30_000, interval: 50 },
    );
  });

  it('refuses an oversized answer as it arrives on the wrapped server’s stdout', async () => {
    const result = await callTool(client, 'huge', { bytes: 4 * MAX_RESULT_BYTES });
    expect(textOf(result)).toMatch(
      /^Call failed: the server's answer is over the 131072-byte limit .*result_too_large/,
    );
    expect(textOf(await callTool(client, 'echo', { text: 'after' }))).toBe('after');
  });
});
