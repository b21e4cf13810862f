import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CompactSign, exportJWK, generateKeyPair, importJWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkpointBody, CHECKPOINT_TYP } from '../../src/evidence/checkpoints.js';
import { JsonlEvidenceStore, listSegments } from '../../src/evidence/jsonl-store.js';
import { LocalEd25519Signer } from '../../src/evidence/signer.js';
import { EVIDENCE_VERSION } from '../../src/evidence/types.js';
import { CLI, REFERENCE_SERVERS, REPO } from '../helpers/fixture.js';
import { callTool, runGateway } from '../helpers/gateway-harness.js';

const run = promisify(execFile);

async function verify(dir: string, jwks: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, 'evidence', 'verify', dir, '--jwks', jwks], {
      cwd: REPO,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const r = e as { code: number; stdout: string; stderr: string };
    return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  }
}

describe('mcpgov evidence verify on a gateway-written folder', () => {
  let original: string;
  let jwks: string;
  let segment: () => Promise<string>;

  /** A fresh copy of the untouched folder, for one tamper case. */
  async function copy(): Promise<string> {
    const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-tamper-'));
    await cp(original, dir, { recursive: true });
    return dir;
  }
  async function lines(file: string): Promise<string[]> {
    return (await readFile(file, 'utf8')).split('\n').filter(Boolean);
  }
  async function rewrite(file: string, edit: (lines: string[]) => string[]): Promise<void> {
    await writeFile(file, `${edit(await lines(file)).join('\n')}\n`);
  }

  beforeAll(async () => {
    const gw = await runGateway({
      config: {
        mode: 'enforce',
        identity: { default_agent: 'dev' },
        evidence: { dir: './evidence', fsync: 'batch', checkpoint: { every_records: 10, every_seconds: 60 } },
        servers: { everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] } },
      },
      tools: {
        tools: [{ name: 'everything__*', owner: 'platform', risk_tier: 'low' }],
        groups: { all: ['everything__*'] },
      },
      agents: { agents: [{ id: 'dev', owner: 'platform', tool_groups: ['all'] }] },
    });
    const client = await gw.client();
    for (let i = 0; i < 15; i++) await callTool(client, 'everything__echo', { message: `call ${i}` });
    await gw.close();
    original = gw.fixture.evidenceDir;
    // The auditor's pinned key: a copy outside the folder being verified.
    jwks = path.join(await mkdtemp(path.join(tmpdir(), 'mcpgov-keys-')), 'pinned.jwks.json');
    await cp(path.join(original, 'keys/signing-key.jwks.json'), jwks);
    segment = async () => (await listSegments(original)).map((f) => path.basename(f))[0]!;
  });

  it('accepts the untouched folder', async () => {
    const { code, stdout } = await verify(original, jwks);
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /^ok: .*: \d+ records in 1 segment, [3-9] checkpoints; the last covers every record/,
    );
  });

  it('names the record with a flipped byte', async () => {
    const dir = await copy();
    const file = path.join(dir, await segment());
    const target = (await lines(file)).findIndex((line) => line.includes('"call 3"'));
    await rewrite(file, (l) =>
      l.map((line, i) => (i === target ? line.replace('"call 3"', '"call 4"') : line)),
    );
    const { code, stderr } = await verify(dir, jwks);
    expect(code).toBe(1);
    expect(stderr).toContain(
      `${file}:${target + 1} (seq ${target}): hash does not match the record: it was altered`,
    );
  });

  it('detects a deleted line', async () => {
    const dir = await copy();
    const file = path.join(dir, await segment());
    await rewrite(file, (l) => l.filter((_, i) => i !== 6));
    const { code, stderr } = await verify(dir, jwks);
    expect(code).toBe(1);
    expect(stderr).toContain(`${file}:7 (seq 7): seq 7 where 6 was expected`);
  });

  it('detects two swapped lines', async () => {
    const dir = await copy();
    const file = path.join(dir, await segment());
    await rewrite(file, (l) => {
      [l[2], l[3]] = [l[3]!, l[2]!];
      return l;
    });
    const { code, stderr } = await verify(dir, jwks);
    expect(code).toBe(1);
    expect(stderr).toContain(`${file}:3 (seq 3): seq 3 where 2 was expected`);
  });

  it('detects a tail truncated past the last checkpoint', async () => {
    const dir = await copy();
    const file = path.join(dir, await segment());
    const count = (await lines(file)).length;
    await rewrite(file, (l) => l.slice(0, -3));
    const { code, stderr } = await verify(dir, jwks);
    expect(code).toBe(1);
    expect(stderr).toContain(
      `checkpoint covers ${count} records but the log has ${count - 3}: records were removed from the end`,
    );
  });

  it('detects records appended after the last checkpoint', async () => {
    const dir = await copy();
    const store = await JsonlEvidenceStore.open({ dir, fsync: 'always' });
    await store.append({
      v: EVIDENCE_VERSION,
      id: 'late',
      kind: 'decision',
      chain: 'x',
      time: new Date().toISOString(),
      pep: { id: 'p', kind: 'gateway', version: '0' },
    });
    await store.close();
    const { code, stderr } = await verify(dir, jwks);
    expect(code).toBe(1);
    expect(stderr).toMatch(/records from seq \d+ on are not covered by a signed checkpoint/);
  });

  it('detects a replaced checkpoint whose fields differ from what was signed', async () => {
    const dir = await copy();
    const file = path.join(dir, 'checkpoints.jsonl');
    await rewrite(file, (l) => l.map((line, i) => (i === 1 ? line.replace(/"size":\d+/, '"size":3') : line)));
    const { code, stderr } = await verify(dir, jwks);
    expect(code).toBe(1);
    expect(stderr).toContain(`${file}:2: checkpoint fields differ from the body that was signed`);
  });

  it('detects a checkpoint signed by an unknown key, and one forged under the known key id', async () => {
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const strangerJwk = await exportJWK(privateKey);
    const stranger = await LocalEd25519Signer.fromJwk(strangerJwk);
    const strangerKey = await importJWK({ ...strangerJwk, alg: 'EdDSA' }, 'EdDSA');
    const cases = [
      {
        sign: (p: Uint8Array) => stranger.sign(p, CHECKPOINT_TYP),
        want: `checkpoint signed by an unknown key (kid ${stranger.kid})`,
      },
      {
        // The real key's id in the header, the stranger's signature underneath.
        sign: (p: Uint8Array, kid: string) =>
          new CompactSign(p).setProtectedHeader({ alg: 'EdDSA', kid, typ: CHECKPOINT_TYP }).sign(strangerKey),
        want: 'checkpoint signature does not verify',
      },
    ];
    for (const { sign, want } of cases) {
      const dir = await copy();
      const file = path.join(dir, 'checkpoints.jsonl');
      const [first, ...others] = await lines(file);
      const cp = JSON.parse(first!) as {
        origin: string;
        size: number;
        root: string;
        kid: string;
        jws: string;
      };
      cp.jws = await sign(Buffer.from(checkpointBody(cp.origin, cp.size, cp.root)), cp.kid);
      await writeFile(file, `${[JSON.stringify(cp), ...others].join('\n')}\n`);
      const { code, stderr } = await verify(dir, jwks);
      expect(code).toBe(1);
      expect(stderr).toContain(`${file}:1: ${want}`);
    }
  });

  it('requires pinned keys', async () => {
    const r = await run(process.execPath, [CLI, 'evidence', 'verify', original], { cwd: REPO }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(r).toMatchObject({ code: 2, stderr: expect.stringContaining('--jwks FILE is required') });
  });
});
