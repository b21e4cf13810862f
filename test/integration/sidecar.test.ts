import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { loadConfig } from '../../src/config/load-config.js';
import { readEvidence } from '../../src/evidence/jsonl-store.js';
import { readJwks } from '../../src/evidence/signer.js';
import { verifyLogDir } from '../../src/evidence/verify.js';
import { silentLogger } from '../../src/util/log.js';
import { startSidecar, type Sidecar } from '../../mcp-sidecar/sidecar.js';
import { CLI, REFERENCE_SERVERS, writeFixture, type Fixture } from '../helpers/fixture.js';
import { callTool, textOf } from '../helpers/gateway-harness.js';
import { LineStdioClientTransport } from '../../src/transport/stdio-client.js';

/**
 * The sidecar around the real filesystem server, tool names unprefixed: reads are allowed, writes only
 * inside the folder's `drafts/` part, and `move_file` is never granted (hidden).
 */
async function fixture(): Promise<{ fx: Fixture; dir: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-sidecar-fs-'));
  await writeFile(path.join(dir, 'notes.txt'), 'meeting at nine');
  const fx = await writeFixture({
    config: {
      mode: 'enforce',
      identity: { default_agent: 'writer' },
      paths: { drafts: path.join(dir, 'drafts') },
    },
    tools: {
      tools: [
        { name: 'write_file', owner: 'p', risk_tier: 'high', scopes: ['fs.write'] },
        { name: 'move_file', owner: 'p', risk_tier: 'high', scopes: ['fs.admin'] },
        { name: '*', owner: 'p', risk_tier: 'low', scopes: ['fs.read'] },
      ],
      groups: { fs: ['*'] },
    },
    agents: { agents: [{ id: 'writer', owner: 'p', tool_groups: ['fs'], scopes: ['fs.read', 'fs.write'] }] },
    rules: [
      {
        id: 'writes-in-drafts',
        description: 'writes must stay inside drafts/',
        when: {
          and: [
            { '===': [{ var: 'call.name' }, 'write_file'] },
            { '!': { path_within: [{ var: 'call.arguments.path' }, { var: 'paths.drafts' }] } },
          ],
        },
        effect: 'deny',
        reason: 'write_outside_drafts',
      },
    ],
  });
  return { fx, dir };
}

async function verified(fx: Fixture) {
  const jwks = await readJwks(path.join(fx.evidenceDir, 'keys/signing-key.jwks.json'));
  return verifyLogDir(fx.evidenceDir, jwks);
}

describe('sidecar stdio wrapper (mcpgov sidecar -- server-filesystem)', () => {
  let client: Client;
  let fx: Fixture;
  let dir: string;

  beforeAll(async () => {
    ({ fx, dir } = await fixture());
    client = new Client({ name: 'test-agent', version: '0' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [
          CLI,
          'sidecar',
          '--config',
          fx.configFile,
          '--name',
          'fs',
          '--',
          'node',
          REFERENCE_SERVERS.filesystem,
          dir,
        ],
        stderr: 'ignore',
      }),
    );
  });
  afterAll(async () => {
    await client?.close();
  });

  it("lists the server's own tool names, without the ones the agent may never call", async () => {
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('read_text_file');
    expect(names).toContain('write_file');
    expect(names).toContain('mcpgov__declare_intent');
    expect(names).not.toContain('move_file');
    expect(names.some((n) => n.startsWith('fs__'))).toBe(false);
  });

  it('passes a read, and denies a write outside drafts/ without creating the file', async () => {
    const read = await callTool(client, 'read_text_file', { path: path.join(dir, 'notes.txt') });
    expect(textOf(read)).toContain('meeting at nine');
    const target = path.join(dir, 'report.txt');
    const denied = await callTool(client, 'write_file', { path: target, content: 'x' });
    expect(denied.isError).toBe(true);
    expect(textOf(denied)).toMatch(
      /Denied by policy: writes must stay inside drafts\/ \(reason: write_outside_drafts/,
    );
    expect(existsSync(target)).toBe(false);
  });

  it('answers a call to a hidden tool as an unknown tool', async () => {
    const hidden = await callTool(client, 'move_file', {
      source: path.join(dir, 'notes.txt'),
      destination: path.join(dir, 'x.txt'),
    });
    expect(textOf(hidden)).toBe('MCP error -32602: Tool move_file not found');
    expect(existsSync(path.join(dir, 'notes.txt'))).toBe(true);
  });

  it('writes evidence of every decision in its own signed, verifiable log', async () => {
    await client.close();
    // The sidecar closes the chain and signs a checkpoint as it stops.
    for (let i = 0; i < 50 && !(await verified(fx).catch(() => undefined))?.ok; i++)
      await new Promise((r) => setTimeout(r, 100));
    const records = await readEvidence(fx.evidenceDir);
    const decisions = records.filter((r) => r.kind === 'decision');
    expect(decisions.map((d) => [d.request?.tool, d.decision?.effect, d.decision?.reasons[0]])).toEqual([
      ['read_text_file', 'allow', undefined],
      ['write_file', 'deny', 'write_outside_drafts'],
      ['move_file', 'deny', 'missing_scope'],
    ]);
    expect(decisions.every((d) => d.pep.kind === 'sidecar' && d.request?.server === 'fs')).toBe(true);
    // The wrapper's transport counted every tools/call it received: each one has its decision record.
    const closed = records.find((r) => r.chain_event?.event === 'close');
    expect(closed?.chain_event).toEqual({ event: 'close', calls: 3, received: 3 });
    expect(await verified(fx)).toMatchObject({ ok: true });
  });
});

describe('sidecar client middleware (in-process)', () => {
  let sidecar: Sidecar;
  let client: Client;
  let dir: string;
  let fx: Fixture;

  beforeAll(async () => {
    ({ fx, dir } = await fixture());
    sidecar = await startSidecar({ config: await loadConfig(fx.configFile), log: silentLogger });
    client = new Client({ name: 'agent', version: '0' });
    const transport = new LineStdioClientTransport({
      command: process.execPath,
      args: [REFERENCE_SERVERS.filesystem, dir],
    });
    // The one line an agent adds: connect through the governed transport.
    await client.connect(await sidecar.govern(transport, { server: 'fs' }));
  });
  afterAll(async () => {
    await client?.close();
    await sidecar?.close();
  });

  it('governs calls made before any tools/list, and writes inside drafts/', async () => {
    const write = await callTool(client, 'write_file', { path: path.join(dir, 'report.txt'), content: 'x' });
    expect(write.isError).toBe(true);
    expect(existsSync(path.join(dir, 'report.txt'))).toBe(false);
    await callTool(client, 'create_directory', { path: path.join(dir, 'drafts') });
    const ok = await callTool(client, 'write_file', {
      path: path.join(dir, 'drafts/a.txt'),
      content: 'draft',
    });
    expect(ok.isError).toBeFalsy();
    expect(existsSync(path.join(dir, 'drafts/a.txt'))).toBe(true);
  });

  it('records decisions and actions in the sidecar log', async () => {
    await sidecar.evidence.flush();
    const records = await readEvidence(fx.evidenceDir);
    expect(records.filter((r) => r.kind === 'decision')).toHaveLength(3);
    expect(records.filter((r) => r.kind === 'action').map((r) => r.action?.tool)).toEqual([
      'create_directory',
      'write_file',
    ]);
  });
});
