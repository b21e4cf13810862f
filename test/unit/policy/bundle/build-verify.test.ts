import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { LocalEd25519Signer, readJwks } from '../../../../src/evidence/signer.js';
import { canonicalJson } from '../../../../src/evidence/hash.js';
import { buildBundle, BuildRefused } from '../../../../src/policy/release/build.js';
import { readBundleDir, type BundleFiles } from '../../../../src/policy/bundle/files.js';
import { signBundle } from '../../../../src/policy/release/sign.js';
import { verifyBundle } from '../../../../src/policy/bundle/verify.js';
import { demoSources, makeKeys, type LifecycleKeys } from '../../../helpers/policy-lifecycle.js';

const DAY = 24 * 3600 * 1000;

describe('policy bundles: build, sign, verify', () => {
  let dir: string;
  let keys: LifecycleKeys;
  let files: BundleFiles;
  let builder: LocalEd25519Signer;
  const now = Date.UTC(2026, 0, 5, 12);

  const src = () => ({
    registries: path.join(dir, 'registries'),
    policies: path.join(dir, 'policies'),
    name: 'demo',
  });
  const signed = async (
    f: BundleFiles,
    opts: { scope?: string; expires?: number; signer?: LocalEd25519Signer } = {},
  ) => {
    const jws = await signBundle(f, opts.signer ?? builder, {
      scope: opts.scope ?? 'demo',
      expires: new Date(opts.expires ?? now + 30 * DAY),
      now: new Date(now),
    });
    return new Map(f).set('.signatures.json', Buffer.from(canonicalJson({ signatures: [jws] })));
  };
  const verify = async (f: BundleFiles, scope = 'demo') =>
    verifyBundle(f, { signers: await readJwks(keys.build.publicJwks), scope, now, name: 'demo' });

  beforeAll(async () => {
    dir = await demoSources();
    keys = await makeKeys(dir);
    builder = await LocalEd25519Signer.fromFile(keys.build.privateKey);
    const built = await buildBundle(src(), { out: path.join(dir, 'b1'), seq: 7 });
    files = await readBundleDir(built.dir);
  });

  it('carries an eval report and its scores in the manifest, and refuses a report of another shape', async () => {
    const report = {
      cases: 3,
      confusion: { allow: { allow: 1 }, escalate: { escalate: 2 } },
      metrics: { precision: 1, recall: 1, f1: 1, fpr: 0, accuracy: 1 },
      latency_ms: { p50: 0.1, p99: 0.2 },
      results: [],
    };
    const built = await buildBundle(src(), { out: path.join(dir, 'b-evals'), seq: 8, evalReport: report });
    const withEvals = await readBundleDir(built.dir);
    const bytes = withEvals.get('evals/report.json')!;
    expect(JSON.parse(bytes.toString('utf8'))).toEqual(report);
    expect(built.manifest.evals).toEqual({
      report: 'evals/report.json',
      digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
      cases: 3,
      metrics: report.metrics,
    });
    // Signed like any other file: the report cannot be swapped without breaking the signature.
    const v = await verify(await signed(withEvals));
    expect(v).toMatchObject({ ok: true });
    await expect(
      buildBundle(src(), { out: path.join(dir, 'b-bad-evals'), seq: 9, evalReport: { cases: 'many' } }),
    ).rejects.toBeInstanceOf(BuildRefused);
  });

  it('compiles sources into canonical JSON files with a manifest naming the build and its tests', async () => {
    expect([...files.keys()].sort()).toEqual([
      '.manifest',
      'registries/agents.json',
      'registries/tools.json',
      'rules/demo.json',
      'tests/cases/demo.json',
      'tests/report.json',
    ]);
    for (const [name, bytes] of files) {
      const text = bytes.toString('utf8');
      expect(canonicalJson(JSON.parse(text)), name).toBe(text);
    }
    const manifest = JSON.parse(files.get('.manifest')!.toString('utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({
      spec: 'mcpgov.bundle/v1',
      name: 'demo',
      revision: 'unversioned',
      seq: 7,
      engine: 'mcpgov-json-logic/v1',
      source: { policies: 'policies', registries: 'registries' },
      files: { rules: ['rules/demo.json'], tests: ['tests/cases/demo.json'] },
      tests: { failed: 0, report: 'tests/report.json' },
    });
    expect((manifest['tests'] as { passed: number }).passed).toBeGreaterThan(10);
  });

  it('builds the same digest from the same sources and seq', async () => {
    const a = await buildBundle(src(), { out: path.join(dir, 'again-a'), seq: 3 });
    const b = await buildBundle(src(), { out: path.join(dir, 'again-b'), seq: 3 });
    expect(a.digest).toBe(b.digest);
    expect(a.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('refuses to build, and writes nothing, when a policy test fails', async () => {
    const tests = path.join(dir, 'policies/tests/demo.yaml');
    const original = await readFile(tests, 'utf8');
    await writeFile(
      tests,
      original.replace(
        'expect: { effect: allow, mode: enforce }',
        'expect: { effect: deny, reason: write_outside_demo }',
      ),
    );
    try {
      const out = path.join(dir, 'refused');
      const error = await buildBundle(src(), { out, seq: 8 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BuildRefused);
      expect((error as BuildRefused).message).toBe(
        `1 of ${(error as BuildRefused).report!.cases} policy tests failed`,
      );
      expect(existsSync(out)).toBe(false);
    } finally {
      await writeFile(tests, original);
    }
  });

  it('verifies a signed bundle: pinned key, files, hashes, scope and expiry', async () => {
    const checked = await verify(await signed(files));
    expect(checked.ok).toBe(true);
    if (!checked.ok) return;
    expect(checked.value.manifest.seq).toBe(7);
    expect(checked.value.signature.kid).toBe(keys.build.kid);
    expect(checked.value.signature.files.map((f) => f.name)).toContain('.manifest');
  });

  it('refuses an unsigned bundle', async () => {
    expect(await verify(files)).toEqual({
      ok: false,
      code: 'bundle_unsigned',
      message: 'the bundle has no .signatures.json',
    });
  });

  it('refuses a bundle with one changed byte, naming the file', async () => {
    const good = await signed(files);
    const rules = Buffer.from(good.get('rules/demo.json')!);
    rules[rules.indexOf('deny')] = 'D'.charCodeAt(0);
    const checked = await verify(new Map(good).set('rules/demo.json', rules));
    expect(checked).toMatchObject({ ok: false, code: 'bundle_hash_mismatch' });
    expect(!checked.ok && checked.message).toMatch(
      /^rules\/demo\.json: SHA-256 [0-9a-f]{64} is not the signed [0-9a-f]{64}$/,
    );
  });

  it('refuses a changed manifest as a changed file', async () => {
    const good = await signed(files);
    const manifest = good.get('.manifest')!.toString('utf8').replace('"seq":7', '"seq":9');
    const checked = await verify(new Map(good).set('.manifest', Buffer.from(manifest)));
    expect(checked).toMatchObject({ ok: false, code: 'bundle_hash_mismatch' });
  });

  it('refuses a bundle with a missing file', async () => {
    const good = await signed(files);
    const missing = new Map(good);
    missing.delete('tests/report.json');
    expect(await verify(missing)).toEqual({
      ok: false,
      code: 'bundle_file_missing',
      message: 'signed file tests/report.json is missing',
    });
  });

  it('refuses a bundle with an extra file', async () => {
    const extra = new Map(await signed(files)).set('rules/allow-all.json', Buffer.from('{"rules":[]}'));
    expect(await verify(extra)).toEqual({
      ok: false,
      code: 'bundle_file_unexpected',
      message: 'file rules/allow-all.json is not listed in the signature',
    });
  });

  it('refuses a bundle signed by a key that is not pinned', async () => {
    const stranger = await LocalEd25519Signer.fromFile(keys.release.privateKey);
    const checked = await verify(await signed(files, { signer: stranger }));
    expect(checked).toEqual({
      ok: false,
      code: 'bundle_unknown_key',
      message: `bundle signed by an unpinned key: kid ${keys.release.kid} is not pinned`,
    });
  });

  it('refuses a signature whose payload was altered', async () => {
    const good = await signed(files);
    const [jws] = (JSON.parse(good.get('.signatures.json')!.toString('utf8')) as { signatures: string[] })
      .signatures;
    const [header, payload, sig] = jws!.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as { scope: string };
    claims.scope = 'prod';
    const forged = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${sig}`;
    const checked = await verify(
      new Map(good).set('.signatures.json', Buffer.from(JSON.stringify({ signatures: [forged] }))),
      'prod',
    );
    expect(checked).toEqual({
      ok: false,
      code: 'bundle_bad_signature',
      message: 'bundle signature rejected: signature does not verify',
    });
  });

  it('refuses a bundle signed for another scope', async () => {
    const checked = await verify(await signed(files, { scope: 'staging' }));
    expect(checked).toEqual({
      ok: false,
      code: 'bundle_scope_mismatch',
      message: 'bundle signed for scope "staging", required "demo"',
    });
  });

  it('refuses an expired signature', async () => {
    const checked = await verify(await signed(files, { expires: now - 1000 }));
    expect(checked).toEqual({
      ok: false,
      code: 'bundle_expired',
      message: `bundle signature expired at ${new Date(Math.floor((now - 1000) / 1000) * 1000).toISOString()}`,
    });
  });
});
