import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { readEvidence } from '../../src/evidence/jsonl-store.js';
import { CLI, REFERENCE_SERVERS, REPO, writeFixture } from '../helpers/fixture.js';
import { startGatewayProcess } from '../helpers/gateway-process.js';

const run = promisify(execFile);

// Gateway processes started, signalled and killed: on a loaded machine a case takes well over 30 s.
describe('evidence after a crash', { timeout: 120_000 }, () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
  });

  it('verifies after SIGKILL under 16 concurrent clients, with a decision record for every call the server saw', async () => {
    const demo = await mkdtemp(path.join(tmpdir(), 'mcpgov-crash-demo-'));
    const fixture = await writeFixture({
      config: {
        mode: 'enforce',
        identity: { default_agent: 'dev' },
        evidence: { dir: './evidence', fsync: 'batch', checkpoint: { every_records: 50, every_seconds: 1 } },
        servers: { fs: { command: 'node', args: [REFERENCE_SERVERS.filesystem, demo] } },
      },
      tools: { tools: [{ name: 'fs__*', owner: 'platform', risk_tier: 'low' }], groups: { all: ['fs__*'] } },
      agents: { agents: [{ id: 'dev', owner: 'platform', tool_groups: ['all'] }] },
    });

    const first = await startGatewayProcess(fixture.configFile);
    children.push(first.child);
    const clients = await Promise.all(
      Array.from({ length: 16 }, async () => {
        const client = new Client({ name: 'load', version: '0' });
        await client.connect(new StreamableHTTPClientTransport(new URL(first.url)));
        return client;
      }),
    );
    let stop = false;
    const load = clients.map(async (client, c) => {
      for (let i = 0; !stop; i++) {
        const file = path.join(demo, `c${c}-${i}.txt`);
        await client
          .request(
            {
              method: 'tools/call',
              params: { name: 'fs__write_file', arguments: { path: file, content: `${c}/${i}` } },
            },
            CallToolResultSchema,
            // A call in flight when the gateway dies is never answered: give up on it.
            { timeout: 2000 },
          )
          .catch(() => (stop = true));
      }
    });
    await vi.waitFor(async () => expect((await readdir(demo)).length).toBeGreaterThan(200), {
      timeout: 20_000,
      interval: 20,
    });
    first.child.kill('SIGKILL');
    stop = true;
    await Promise.allSettled(load);
    await Promise.allSettled(clients.map((c) => c.close()));

    // Restart: the gateway repairs a torn tail, signs a checkpoint over what it found, and serves again.
    const second = await startGatewayProcess(fixture.configFile);
    children.push(second.child);
    const exited = new Promise((resolve) => second.child.once('exit', resolve));
    second.child.kill('SIGTERM');
    await exited;

    const jwks = path.join(fixture.evidenceDir, 'keys/signing-key.jwks.json');
    const { stdout } = await run(
      process.execPath,
      [CLI, 'evidence', 'verify', fixture.evidenceDir, '--jwks', jwks],
      { cwd: REPO },
    );
    expect(stdout).toMatch(/^ok: /);

    const allowed = new Set(
      (await readEvidence(fixture.evidenceDir))
        .filter((r) => r.kind === 'decision' && r.decision?.effect === 'allow')
        .map((r) => (r.request?.args as { path?: string } | undefined)?.path),
    );
    const written = (await readdir(demo)).map((f) => path.join(demo, f));
    expect(written.length).toBeGreaterThan(200);
    expect(written.filter((f) => !allowed.has(f))).toEqual([]);
  });
});
