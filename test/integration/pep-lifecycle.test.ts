import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterEach, describe, expect, it } from 'vitest';
import { readCheckpoints } from '../../src/evidence/checkpoints.js';
import { readEvidence } from '../../src/evidence/jsonl-store.js';
import { CLI, REFERENCE_SERVERS, REPO, writeFixture, type Fixture } from '../helpers/fixture.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';

const run = promisify(execFile);

async function echoFixture(): Promise<Fixture> {
  return writeFixture({
    config: {
      mode: 'enforce',
      identity: { default_agent: 'dev' },
      servers: { everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] } },
    },
    tools: {
      tools: [{ name: 'everything__*', owner: 'platform', risk_tier: 'low' }],
      groups: { all: ['everything__*'] },
    },
    agents: { agents: [{ id: 'dev', owner: 'platform', tool_groups: ['all'] }] },
  });
}

/** `mcpgov evidence verify` on a folder, with the key the gateway generated there. */
async function verify(evidenceDir: string): Promise<string> {
  const jwks = path.join(evidenceDir, 'keys/signing-key.jwks.json');
  const { stdout } = await run(process.execPath, [CLI, 'evidence', 'verify', evidenceDir, '--jwks', jwks], {
    cwd: REPO,
  });
  return stdout;
}

/** Every chain that opened has its close record, and the last signed checkpoint covers every record. */
async function expectSealed(evidenceDir: string): Promise<void> {
  const records = await readEvidence(evidenceDir);
  const events = (chain: string) =>
    records.filter((r) => r.kind === 'chain' && r.chain === chain).map((r) => r.chain_event?.event);
  const chains = [...new Set(records.filter((r) => r.kind === 'chain').map((r) => r.chain))];
  expect(chains.length).toBeGreaterThan(0);
  for (const chain of chains) expect(events(chain)).toEqual(['open', 'close']);
  const checkpoints = await readCheckpoints(evidenceDir);
  const last = JSON.parse(checkpoints.at(-1)!.text) as { size: number };
  expect(last.size).toBe(records.length);
}

async function connect(url: string): Promise<Client> {
  const client = new Client({ name: 'lifecycle', version: '0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

// Gateway processes started, signalled and killed: on a loaded machine a case takes well over 30 s.
describe('one writer per evidence folder', { timeout: 120_000 }, () => {
  const started: GatewayProcess[] = [];
  afterEach(() => {
    for (const g of started.splice(0)) g.child.kill('SIGKILL');
  });

  it('refuses a second gateway on the folder, naming the holder; takes over after the holder is killed', async () => {
    const fixture = await echoFixture();
    const first = await startGatewayProcess(fixture.configFile);
    started.push(first);
    const client = await connect(first.url);
    await client.callTool({ name: 'everything__echo', arguments: { message: 'one' } });

    const second = spawn(
      process.execPath,
      [CLI, 'gateway', '--config', fixture.configFile, '--http', '127.0.0.1:0'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    second.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => second.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain(`evidence folder ${fixture.evidenceDir} is in use by gateway@`);
    expect(stderr).toContain(`pid ${first.child.pid}`);
    expect(stderr).toContain('set evidence.dir');
    expect(stderr).not.toMatch(/^ {4}at /m); // a message, not a stack trace

    first.child.kill('SIGKILL');
    await first.exited;
    const third = await startGatewayProcess(fixture.configFile);
    started.push(third);
    expect(third.stderr()).toContain('took over the evidence folder');
    const again = await connect(third.url);
    await again.callTool({ name: 'everything__echo', arguments: { message: 'three' } });
    await again.close();
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
    expect(await verify(fixture.evidenceDir)).toMatch(/^ok: /);
  });
});

// Gateway processes started, signalled and killed: on a loaded machine a case takes well over 30 s.
describe('shutdown on SIGTERM', { timeout: 120_000 }, () => {
  it('gateway: every open session gets its chain-close record and the last checkpoint covers the log', async () => {
    const fixture = await echoFixture();
    const gateway = await startGatewayProcess(fixture.configFile);
    try {
      // Three sessions stay open: their callers never disconnect.
      const clients = await Promise.all([1, 2, 3].map(() => connect(gateway.url)));
      for (const [i, client] of clients.entries()) {
        await client.callTool({ name: 'everything__echo', arguments: { message: `session ${i}` } });
      }
      gateway.child.kill('SIGTERM');
      expect(await gateway.exited).toBe(0);
    } finally {
      gateway.child.kill('SIGKILL');
    }
    await expectSealed(fixture.evidenceDir);
    expect(await verify(fixture.evidenceDir)).toMatch(/^ok: /);
  });

  it('sidecar: the wrapped session gets its chain-close record and the last checkpoint covers the log', async () => {
    const fixture = await echoFixture();
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [
        CLI,
        'sidecar',
        '-c',
        fixture.configFile,
        '--name',
        'everything',
        '--prefix',
        'node',
        REFERENCE_SERVERS.everything,
        'stdio',
      ],
      stderr: 'ignore',
    });
    const client = new Client({ name: 'lifecycle', version: '0' });
    await client.connect(transport);
    await client.callTool({ name: 'everything__echo', arguments: { message: 'sidecar' } });
    const pid = transport.pid!;
    const exited = new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        try {
          process.kill(pid, 0);
        } catch {
          clearInterval(poll);
          resolve();
        }
      }, 20);
    });
    process.kill(pid, 'SIGTERM');
    await exited;
    await client.close().catch(() => {});
    await expectSealed(fixture.evidenceDir);
    expect(await verify(fixture.evidenceDir)).toMatch(/^ok: /);
  });
});
