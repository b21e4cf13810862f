import { cp, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../../src/config/load-config.js';
import { ConfigSchema, type PoliciesConfig } from '../../../../src/config/schema.js';
import { LocalEd25519Signer } from '../../../../src/evidence/signer.js';
import { addApproval, signApproval } from '../../../../src/policy/bundle/approvals.js';
import { buildBundle } from '../../../../src/policy/release/build.js';
import { PolicyCache } from '../../../../src/policy/runtime/cache.js';
import { signPointer } from '../../../../src/policy/bundle/channel.js';
import { readBundleDir } from '../../../../src/policy/bundle/files.js';
import { PolicyManager } from '../../../../src/policy/runtime/manager.js';
import { publishBundle, type ReleaseContext } from '../../../../src/policy/release/publish.js';
import { RegistryStore } from '../../../../src/policy/release/registry-store.js';
import { readManifest, signBundle, writeSignature } from '../../../../src/policy/release/sign.js';
import { createBundleSource } from '../../../../src/policy/runtime/source.js';
import { loadTrust, type Trust } from '../../../../src/policy/bundle/trust.js';
import { silentLogger } from '../../../../src/util/log.js';
import {
  demoSources,
  lifecyclePolicies,
  makeKeys,
  type LifecycleKeys,
} from '../../../helpers/policy-lifecycle.js';
import { memorySink } from '../../../helpers/memory-sink.js';

const DAY = 24 * 3600 * 1000;
const pep = { id: 'test-pep', kind: 'gateway' as const, version: '0' };

describe('policy manager', () => {
  let dir: string;
  let keys: LifecycleKeys;
  let policy: PoliciesConfig;
  let trust: Trust;
  let release: ReleaseContext;
  let now: number;
  let seq = 0;

  /** Builds a signed bundle of the current sources, approved by the given approvers. */
  const bundle = async (approvers: ('ciso' | 'grc' | 'secarch')[] = ['ciso', 'grc']) => {
    seq += 1;
    const built = await buildBundle(
      { registries: path.join(dir, 'registries'), policies: path.join(dir, 'policies'), name: 'demo' },
      { out: path.join(dir, `bundles/${seq}`), seq },
    );
    const files = await readBundleDir(built.dir);
    const builder = await LocalEd25519Signer.fromFile(keys.build.privateKey);
    await writeSignature(
      built.dir,
      await signBundle(files, builder, {
        scope: 'demo',
        expires: new Date(now + 60 * DAY),
        now: new Date(now),
      }),
    );
    for (const who of approvers) {
      const approver = await LocalEd25519Signer.fromFile(keys[who].privateKey);
      await addApproval(
        built.dir,
        await signApproval({ digest: built.digest, manifest: readManifest(files) }, approver, who),
        who,
      );
    }
    return { dir: built.dir, digest: built.digest, files: await readBundleDir(built.dir) };
  };
  const publish = async (b: { files: Map<string, Buffer> }) => {
    const published = await publishBundle(
      b.files,
      'prod',
      await LocalEd25519Signer.fromFile(keys.release.privateKey),
      {
        ...release,
        now,
      },
    );
    if (!published.ok) throw new Error(published.message);
    return published.value;
  };
  const manager = (evidence = memorySink(), activated: string[] = [], config = policy) =>
    Object.assign(
      new PolicyManager({
        policy: config,
        trust,
        source: createBundleSource(config),
        cache: new PolicyCache(config.cache),
        evidence,
        pep,
        log: silentLogger,
        clock: () => now,
        onActivate: (a) => activated.push(a.policy.bundle.digest),
      }),
      { evidence, activated },
    );

  beforeAll(async () => {
    dir = await demoSources();
    keys = await makeKeys(dir);
    const config = resolveConfig(
      ConfigSchema.parse({ policies: lifecyclePolicies({ channel: 'prod' }) }),
      path.join(dir, 'mcpgov.yaml'),
    );
    policy = config.policy;
    trust = await loadTrust(policy);
    release = { policy, trust, store: await RegistryStore.open(policy.registry), now: 0 };
  });
  beforeEach(() => {
    now = Date.UTC(2026, 0, 5, 12);
  });

  it('starts on the channel bundle, records the activation and persists it', async () => {
    const first = await publish(await bundle());
    const m = manager();
    const active = await m.start();
    expect(active.digest).toBe(first.digest);
    expect(active.policy.bundle).toEqual({ name: 'demo', revision: 'unversioned', digest: first.digest });
    expect(
      m.evidence.records.map((r) => [r.kind, r.policy_event?.event, r.policy_event?.channel_seq]),
    ).toEqual([['policy', 'activated', 1]]);
    expect(m.status().policy.active).toMatchObject({
      digest: first.digest,
      seq: 1,
      channel_seq: 1,
      from: 'source',
    });
    expect((await new PolicyCache(policy.cache).load())?.pointer).toBe(first.jws);
  });

  it('switches to a newly published bundle on the next check', async () => {
    const m = manager();
    await m.start();
    const rules = path.join(dir, 'policies/demo.yaml');
    await writeFile(
      rules,
      (await readFile(rules, 'utf8')).replace(
        'more than five entities',
        'more than five entities (reviewed)',
      ),
    );
    const second = await publish(await bundle());
    expect(await m.check()).toBe('activated');
    expect(m.activated.at(-1)).toBe(second.digest);
    expect(m.active?.manifest.seq).toBe(2);
    expect(await m.check()).toBe('unchanged');
  });

  it('refuses a replayed older pointer once, keeps the active bundle, and shows it in status', async () => {
    const m = manager();
    await m.start();
    const pointerFile = release.store.pointerFile('demo', 'prod');
    const current = await readFile(pointerFile, 'utf8');
    const old = await publish(await bundle());
    const newer = (await readFile(pointerFile, 'utf8')).trim();
    expect(await m.check()).toBe('activated');
    await writeFile(pointerFile, current);
    expect(await m.check()).toBe('refused');
    expect(await m.check()).toBe('unchanged');
    expect(m.active?.pointer?.jws).toBe(newer);
    expect(m.active?.digest).toBe(old.digest);
    const refusals = m.evidence.records.filter((r) => r.policy_event?.event === 'refused');
    expect(refusals.map((r) => [r.policy_event?.code, r.policy_event?.message])).toEqual([
      [
        'pointer_replayed',
        `channel_seq ${old.pointer.channel_seq - 1} is lower than the active channel_seq ${old.pointer.channel_seq}`,
      ],
    ]);
    expect(m.status().policy.last_error?.code).toBe('pointer_replayed');
    await writeFile(pointerFile, `${newer}\n`);
  });

  it('refuses a pointer the release key signed for a bundle without the approvals the channel needs', async () => {
    const m = manager();
    await m.start();
    const before = m.active!.digest;
    const b = await bundle(['ciso']);
    const last = release.store.history('demo', 'prod').at(-1)!;
    await release.store.storeBundle(b.files, { name: 'demo', revision: 'unversioned', seq });
    const iat = Math.floor(now / 1000);
    const forged = await signPointer(
      {
        approved_by: ['ciso', 'grc'],
        bundle_digest: b.digest,
        channel: 'prod',
        channel_seq: last.channel_seq + 1,
        exp: iat + 3600,
        iat,
        name: 'demo',
        revision: 'unversioned',
        scope: 'demo',
        seq,
      },
      await LocalEd25519Signer.fromFile(keys.release.privateKey),
    );
    const pointerFile = release.store.pointerFile('demo', 'prod');
    const good = await readFile(pointerFile, 'utf8');
    await writeFile(pointerFile, forged);
    expect(await m.check()).toBe('refused');
    expect(m.status().policy.last_error).toMatchObject({
      code: 'approvals_insufficient',
      message: '1 of 2 required approvals from ciso, grc, secarch: valid ciso',
    });
    expect(m.active!.digest).toBe(before);
    await writeFile(pointerFile, good);
  });

  it('restarts on the source when it still points at the cached bundle', async () => {
    const before = manager();
    const active = await before.start();
    const restarted = manager();
    expect((await restarted.start()).digest).toBe(active.digest);
    expect(restarted.status().policy).toMatchObject({ active: { from: 'source' }, last_error: null });
    expect(restarted.evidence.records.map((r) => [r.policy_event?.event, r.policy_event?.from])).toEqual([
      ['activated', 'source'],
    ]);
  });

  it('starts from the cached last good bundle when the source is unreachable', async () => {
    const online = manager();
    const active = await online.start();
    await rename(policy.registry, `${policy.registry}.away`);
    try {
      const offline = manager();
      const started = await offline.start();
      expect(started.digest).toBe(active.digest);
      expect(offline.status().policy).toMatchObject({
        active: { digest: active.digest, from: 'cache' },
        last_error: { code: 'source_unavailable' },
      });
      expect(offline.evidence.records.map((r) => [r.policy_event?.event, r.policy_event?.from])).toEqual([
        ['activated', 'cache'],
      ]);
    } finally {
      await rename(`${policy.registry}.away`, policy.registry);
    }
  });

  it('does not start from a tampered cache, nor from an expired pointer', async () => {
    const cacheCopy = path.join(dir, 'cache-tampered');
    await cp(policy.cache, cacheCopy, { recursive: true });
    const state = JSON.parse(await readFile(path.join(cacheCopy, 'state.json'), 'utf8')) as {
      folder: string;
    };
    const rules = path.join(cacheCopy, 'bundles', state.folder, 'rules/demo.json');
    await writeFile(rules, (await readFile(rules, 'utf8')).replace('"deny"', '"allow"'));
    const offline = { ...policy, cache: cacheCopy, registry: path.join(dir, 'nowhere') };
    await expect(manager(undefined, undefined, offline).start()).rejects.toThrow(
      /^no policy bundle could be activated from .*nowhere: channel prod has no published pointer; the cached bundle was refused: bundle_hash_mismatch: rules\/demo\.json: SHA-256 /,
    );
    now += 61 * DAY;
    await expect(
      manager(undefined, undefined, { ...policy, cache: path.join(dir, 'empty-cache') }).start(),
    ).rejects.toThrow(/: channel pointer \d+ expired at /);
  });

  it('refuses a lower seq from a bundle folder and keeps deciding with the active one', async () => {
    const low = await bundle();
    const high = await bundle();
    const folder = path.join(dir, 'deployed');
    await cp(high.dir, folder, { recursive: true });
    const config = { ...policy, channel: undefined, bundle: folder, cache: path.join(dir, 'folder-cache') };
    const m = manager(undefined, undefined, config);
    expect((await m.start()).digest).toBe(high.digest);
    await rename(folder, `${folder}.old`);
    await cp(low.dir, folder, { recursive: true });
    expect(await m.check()).toBe('refused');
    expect(m.status().policy.last_error).toMatchObject({
      code: 'bundle_seq_lower',
      message: `seq ${seq - 1} is lower than the active seq ${seq}`,
    });
    expect(m.active!.digest).toBe(high.digest);
  });
});
