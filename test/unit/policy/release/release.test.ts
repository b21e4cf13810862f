import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../../../src/config/schema.js';
import { resolveConfig } from '../../../../src/config/load-config.js';
import { LocalEd25519Signer, readJwks } from '../../../../src/evidence/signer.js';
import {
  addApproval,
  readApprovals,
  signApproval,
  verifyApprovals,
} from '../../../../src/policy/bundle/approvals.js';
import { buildBundle } from '../../../../src/policy/release/build.js';
import { peekPayload } from '../../../../src/policy/bundle/jws.js';
import { readBundleDir } from '../../../../src/policy/bundle/files.js';
import {
  publishBundle,
  rollbackChannel,
  type ReleaseContext,
} from '../../../../src/policy/release/publish.js';
import { RegistryStore } from '../../../../src/policy/release/registry-store.js';
import { readManifest, signBundle, writeSignature } from '../../../../src/policy/release/sign.js';
import { loadTrust } from '../../../../src/policy/bundle/trust.js';
import {
  demoSources,
  lifecyclePolicies,
  makeKeys,
  type LifecycleKeys,
} from '../../../helpers/policy-lifecycle.js';

const DAY = 24 * 3600 * 1000;

describe('approvals, publish and rollback', () => {
  let dir: string;
  let keys: LifecycleKeys;
  let ctx: ReleaseContext;
  let release: LocalEd25519Signer;
  const signer = (k: { privateKey: string }) => LocalEd25519Signer.fromFile(k.privateKey);
  let seq = 0;

  /** Builds and signs a bundle of the demo sources, with approvals by the given approvers' own keys. */
  const bundle = async (approvers: (keyof LifecycleKeys)[], as: string[] = approvers as string[]) => {
    seq += 1;
    const built = await buildBundle(
      { registries: path.join(dir, 'registries'), policies: path.join(dir, 'policies'), name: 'demo' },
      { out: path.join(dir, `bundles/${seq}`), seq },
    );
    const files = await readBundleDir(built.dir);
    await writeSignature(
      built.dir,
      await signBundle(files, await signer(keys.build), {
        scope: 'demo',
        expires: new Date(Date.now() + 30 * DAY),
      }),
    );
    for (const [i, who] of approvers.entries()) {
      const jws = await signApproval(
        { digest: built.digest, manifest: readManifest(files) },
        await signer(keys[who] as { privateKey: string }),
        as[i]!,
      );
      await addApproval(built.dir, jws, as[i]!);
    }
    return { dir: built.dir, digest: built.digest, files: await readBundleDir(built.dir) };
  };

  beforeAll(async () => {
    dir = await demoSources();
    keys = await makeKeys(dir);
    const config = resolveConfig(
      ConfigSchema.parse({ policies: lifecyclePolicies() }),
      path.join(dir, 'mcpgov.yaml'),
    );
    ctx = {
      policy: config.policy,
      trust: await loadTrust(config.policy),
      store: await RegistryStore.open(config.policy.registry),
      now: Date.now(),
    };
    release = await signer(keys.release);
  });

  it('refuses to publish with too few approvals, naming who approved', async () => {
    const b = await bundle(['ciso']);
    expect(await publishBundle(b.files, 'prod', release, ctx)).toEqual({
      ok: false,
      code: 'approvals_insufficient',
      message: '1 of 2 required approvals from ciso, grc, secarch: valid ciso',
    });
  });

  it('does not count an approval signed with the build key, or one key approving under two names', async () => {
    const b = await bundle(['build', 'ciso', 'ciso'], ['grc', 'ciso', 'secarch']);
    const published = await publishBundle(b.files, 'prod', release, ctx);
    expect(published.ok).toBe(false);
    expect(!published.ok && published.message).toBe(
      '1 of 2 required approvals from ciso, grc, secarch: valid ciso; not counted: ' +
        `grc (kid ${keys.build.kid} is not pinned), secarch (kid ${keys.ciso.kid} is not pinned)`,
    );
  });

  it('never counts the build key as an approver, even when it is pinned as one', async () => {
    const b = await bundle(['build', 'ciso'], ['grc', 'ciso']);
    const checked = await verifyApprovals(readApprovals(b.files), b.digest, {
      required: 2,
      allowed: ['ciso', 'grc'],
      keys: { ciso: ctx.trust.approvers['ciso']!, grc: await readJwks(keys.build.publicJwks) },
      excludedKids: [keys.build.kid],
    });
    expect(checked).toEqual({
      ok: false,
      code: 'approvals_insufficient',
      message:
        '1 of 2 required approvals from ciso, grc: valid ciso; not counted: grc (signed with the build or release key)',
    });
  });

  it('publishes a bundle approved by two approvers: stored by digest, pointer signed, history kept', async () => {
    const b = await bundle(['ciso', 'grc']);
    const published = await publishBundle(b.files, 'prod', release, ctx);
    expect(published.ok).toBe(true);
    if (!published.ok) return;
    expect(published.value.pointer).toMatchObject({
      name: 'demo',
      channel: 'prod',
      bundle_digest: b.digest,
      seq: 4,
      channel_seq: 1,
      approved_by: ['ciso', 'grc'],
      scope: 'demo',
    });
    const onDisk = (await readFile(ctx.store.pointerFile('demo', 'prod'), 'utf8')).trim();
    expect(onDisk).toBe(published.value.jws);
    expect(peekPayload(onDisk)).toMatchObject({ v: 'mcpgov.channel/v1', channel_seq: 1 });
    expect(await ctx.store.readBundle('demo', b.digest)).toBeDefined();
    expect(ctx.store.history('demo', 'prod').map((h) => [h.channel_seq, h.digest, h.rollback])).toEqual([
      [1, b.digest, false],
    ]);
  });

  it('refuses a bundle whose seq is not above the one the channel runs', async () => {
    const newer = await bundle(['ciso', 'secarch']);
    const older = await bundle(['grc', 'secarch']);
    expect((await publishBundle(older.files, 'prod', release, ctx)).ok).toBe(true); // seq 5
    expect(await publishBundle(newer.files, 'prod', release, ctx)).toEqual({
      ok: false,
      code: 'bundle_seq_lower',
      message: 'seq 5 is not above seq 6 that prod runs; to go back, use mcpgov policy rollback',
    });
  });

  it('rolls back with a higher channel_seq to a bundle the channel ran before', async () => {
    const first = ctx.store.history('demo', 'prod')[0]!;
    const rolled = await rollbackChannel(first.digest, 'prod', release, ctx);
    expect(rolled.ok && rolled.value.pointer).toMatchObject({
      bundle_digest: first.digest,
      seq: 4,
      channel_seq: 3,
      rollback: true,
    });
    await expect(rollbackChannel(`sha256:${'0'.repeat(64)}`, 'prod', release, ctx)).rejects.toThrow(
      /was never published to demo\/prod/,
    );
  });

  it('refuses a release key that is not pinned, or that is the build key', async () => {
    const b = await bundle(['ciso', 'grc']);
    await expect(publishBundle(b.files, 'prod', await signer(keys.build), ctx)).rejects.toThrow(
      /is not pinned in policies.keys.publishers/,
    );
    await expect(publishBundle(b.files, 'staging', release, ctx)).rejects.toThrow(
      'channel "staging" is not configured under policies.channels',
    );
  });
});
