import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, REFERENCE_SERVERS, REPO } from '../helpers/fixture.js';
import { callTool, runGateway } from '../helpers/gateway-harness.js';

const run = promisify(execFile);

async function mcpgov(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { cwd: REPO });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const r = e as { code: number; stdout: string; stderr: string };
    return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  }
}

describe('evidence packs', () => {
  let configFile: string;
  let chain: string;
  let otherChain: string;
  let evidenceDir: string;

  beforeAll(async () => {
    const gw = await runGateway({
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
    const a = await gw.client();
    const b = await gw.client();
    for (let i = 0; i < 3; i++) {
      await callTool(a, 'everything__echo', { message: `a${i}` });
      await callTool(b, 'everything__echo', { message: `b${i}` });
    }
    chain = (a.transport as StreamableHTTPClientTransport).sessionId!;
    otherChain = (b.transport as StreamableHTTPClientTransport).sessionId!;
    await (a.transport as StreamableHTTPClientTransport).terminateSession();
    await gw.close();
    configFile = gw.fixture.configFile;
    evidenceDir = gw.fixture.evidenceDir;
  });

  /** Packs the session, then moves the pack and the public key alone into a fresh folder. */
  async function packInFreshFolder(): Promise<{ pack: string; jwks: string }> {
    const out = path.join(await mkdtemp(path.join(tmpdir(), 'mcpgov-pack-')), 'pack');
    const packed = await mcpgov('evidence', 'pack', '--chain', chain, '--out', out, '--config', configFile);
    expect(packed.code, packed.stderr).toBe(0);
    const fresh = await mkdtemp(path.join(tmpdir(), 'mcpgov-auditor-'));
    await cp(out, path.join(fresh, 'pack'), { recursive: true });
    await cp(path.join(evidenceDir, 'keys/signing-key.jwks.json'), path.join(fresh, 'pinned.jwks.json'));
    return { pack: path.join(fresh, 'pack'), jwks: path.join(fresh, 'pinned.jwks.json') };
  }

  it("holds one session's records and verifies in a fresh folder with only the pack and the key", async () => {
    const { pack, jwks } = await packInFreshFolder();
    expect((await readdir(pack)).sort()).toEqual([
      'bundles.json',
      'checkpoint.json',
      'keys.jwks.json',
      'manifest.json',
      'manifest.jws',
      'proofs.jsonl',
      'records.jsonl',
    ]);
    const records = (await readFile(path.join(pack, 'records.jsonl'), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { chain: string; kind: string });
    expect(new Set(records.map((r) => r.chain))).toEqual(new Set([chain]));
    expect(records.map((r) => r.kind)).toEqual([
      'chain',
      'decision',
      'action',
      'decision',
      'action',
      'decision',
      'action',
      'chain',
    ]);
    expect(JSON.stringify(records)).not.toContain(otherChain);
    const { code, stdout } = await mcpgov('evidence', 'verify', pack, '--jwks', jwks);
    expect(code).toBe(0);
    expect(stdout).toContain(`8 records of chain ${chain}, each proven in the signed checkpoint`);
  });

  it('refuses a pack whose record was altered, whose manifest was edited, or that gained a file', async () => {
    const altered = await packInFreshFolder();
    const records = path.join(altered.pack, 'records.jsonl');
    await writeFile(records, (await readFile(records, 'utf8')).replace('"a1"', '"a9"'));
    expect((await mcpgov('evidence', 'verify', altered.pack, '--jwks', altered.jwks)).stderr).toContain(
      'records.jsonl: file hash differs from the manifest',
    );

    const edited = await packInFreshFolder();
    const manifest = path.join(edited.pack, 'manifest.json');
    await writeFile(manifest, (await readFile(manifest, 'utf8')).replace(/"records": \d+/, '"records": 99'));
    expect((await mcpgov('evidence', 'verify', edited.pack, '--jwks', edited.jwks)).stderr).toContain(
      'manifest.json: manifest differs from what was signed',
    );

    const extra = await packInFreshFolder();
    await mkdir(path.join(extra.pack, 'more'));
    const r = await mcpgov('evidence', 'verify', extra.pack, '--jwks', extra.jwks);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('more: file is not in the manifest');
  });

  it('refuses to pack a chain it does not have', async () => {
    const out = path.join(await mkdtemp(path.join(tmpdir(), 'mcpgov-pack-')), 'pack');
    const r = await mcpgov(
      'evidence',
      'pack',
      '--chain',
      'no-such-chain',
      '--out',
      out,
      '--config',
      configFile,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no records of chain "no-such-chain"');
  });
});
