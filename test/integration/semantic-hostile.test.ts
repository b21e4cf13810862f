import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { CLI, REFERENCE_SERVERS, writeFixture } from '../helpers/fixture.js';
import { textOf } from '../helpers/gateway-harness.js';

/** Generous, for a shared two-core machine: the write must be answered well inside it. */
const SEMANTIC_TIMEOUT_MS = 5000;
/** 1,000,000 characters of one letter: under the 1 MiB argument limit. */
const HOSTILE = 'a'.repeat(1_000_000);

/**
 * One unauthenticated message must not hold the gateway. The built gateway runs as its own process
 * (as `mcpgov gateway` does), so that a gateway whose event loop is held cannot hold this test too.
 */
describe('semantic stage through the gateway: a hostile 1 MB argument', () => {
  let gateway: ChildProcess;
  let url: string;
  const clients: Client[] = [];

  const connect = async (): Promise<Client> => {
    const client = new Client({ name: 'test-agent', version: '0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url)));
    clients.push(client);
    return client;
  };
  const call = (client: Client, name: string, args: Record<string, unknown>, timeout: number) =>
    client.request({ method: 'tools/call', params: { name, arguments: args } }, CallToolResultSchema, {
      timeout,
    });

  beforeAll(async () => {
    const demo = await mkdtemp(path.join(tmpdir(), 'mcpgov-hostile-'));
    const fixture = await writeFixture({
      config: {
        mode: 'enforce',
        identity: { default_agent: 'assistant' },
        semantic: { verifier: 'heuristic', timeout_ms: SEMANTIC_TIMEOUT_MS },
        // The argument limit (256 KiB by default) would refuse the 1 MB write before stage 2: raised
        // here, so the test shows the verifier itself cannot stall the gateway.
        limits: { max_argument_bytes: 2 * 1024 * 1024, max_message_bytes: 4 * 1024 * 1024 },
        servers: {
          fs: { command: 'node', args: [REFERENCE_SERVERS.filesystem, demo] },
          everything: { command: 'node', args: [REFERENCE_SERVERS.everything] },
        },
      },
      tools: {
        tools: [
          { name: 'fs__write_file', owner: 'p', risk_tier: 'high', semantic: 'required' },
          { name: '*', owner: 'p', risk_tier: 'low' },
        ],
        groups: { all: ['*'] },
      },
      agents: { agents: [{ id: 'assistant', owner: 'p', tool_groups: ['all'] }] },
    });
    gateway = spawn(
      process.execPath,
      [CLI, 'gateway', '--config', fixture.configFile, '--http', '127.0.0.1:0'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    url = await new Promise<string>((resolve, reject) => {
      const stderr: string[] = [];
      createInterface({ input: gateway.stderr! }).on('line', (line) => {
        stderr.push(line);
        const entry = line.startsWith('{') ? (JSON.parse(line) as { msg?: string; url?: string }) : {};
        if (entry.msg === 'serving Streamable HTTP' && entry.url) resolve(entry.url);
      });
      gateway.once('exit', (code) => reject(new Error(`gateway exited with ${code}:\n${stderr.join('\n')}`)));
    });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    // A gateway whose event loop is held ignores SIGTERM: end it for sure.
    if (gateway && gateway.exitCode === null) {
      const exited = new Promise((resolve) => gateway.once('exit', resolve));
      gateway.kill('SIGKILL');
      await exited;
    }
  });

  it('refuses or holds the write within the semantic timeout while another session is served', async () => {
    const attacker = await connect();
    const other = await connect();
    // How responsive the gateway is to the other session: MCP ping, which the gateway answers itself
    // (no downstream server, no disk), so what it measures is the gateway's own event loop. The
    // baseline is taken on this machine just before the write (a shared two-core machine can be slow
    // by itself); what the write adds to it is what is measured.
    const ping = async (timeout: number): Promise<number> => {
      const start = performance.now();
      await other.ping({ timeout });
      return performance.now() - start;
    };
    const baseline: number[] = [];
    for (let i = 0; i < 10; i++) baseline.push(await ping(10_000));

    const sent = performance.now();
    let answeredAt = 0;
    const write = call(attacker, 'fs__write_file', { path: 'big.txt', content: HOSTILE }, 60_000).then(
      (result: CallToolResult) => {
        answeredAt = performance.now();
        return result;
      },
    );
    // The other session pings every 10 ms until the write is answered, each ping on its own. A ping
    // that waits out the semantic timeout means the gateway is not serving: stop there (before the fix,
    // the event loop was held for minutes).
    const during: Promise<number>[] = [];
    let stalled = false;
    while (answeredAt === 0 && !stalled && performance.now() - sent < 2 * SEMANTIC_TIMEOUT_MS) {
      during.push(
        ping(SEMANTIC_TIMEOUT_MS).catch(() => {
          stalled = true;
          return Infinity;
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const times = await Promise.all(during);
    expect(times.length).toBeGreaterThan(0);
    expect(
      Math.max(...times),
      'a ping waited out the semantic timeout: the gateway is not serving',
    ).toBeLessThan(SEMANTIC_TIMEOUT_MS);
    // While the verifier works (in its worker thread, below the event loop's priority), the other
    // session is answered within 100 ms of its usual time.
    expect(Math.min(...times) - Math.min(...baseline)).toBeLessThan(100);

    const result = await write;
    expect(answeredAt - sent).toBeLessThan(SEMANTIC_TIMEOUT_MS);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/semantic_(escalated|denied|failed)/);
  });
});
