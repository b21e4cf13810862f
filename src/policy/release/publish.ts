import type { PoliciesConfig } from '../../config/schema.js';
import type { Signer } from '../../evidence/signer.js';
import { readApprovals, verifyApprovals } from '../bundle/approvals.js';
import { pointerTag, signPointer, verifyPointer } from '../bundle/channel.js';
import { compileAndTest } from '../bundle/content.js';
import { refuse, type Checked } from '../bundle/errors.js';
import type { BundleFiles } from '../bundle/files.js';
import type { RegistryStore } from './registry-store.js';
import type { PointerPayload } from '../bundle/schema.js';
import { approvalPolicy, kidsOf, type Trust } from '../bundle/trust.js';
import { verifyAsConfigured, type VerifiedBundle } from '../bundle/verify.js';

/** Everything a release step reads: config, pinned keys, the registry, and the time. */
export interface ReleaseContext {
  policy: PoliciesConfig;
  trust: Trust;
  store: RegistryStore;
  now: number;
}

/** A pointer written to a channel. */
export interface Published {
  pointer: Omit<PointerPayload, 'v'>;
  jws: string;
  digest: string;
}

/**
 * Publishes a bundle to a channel: it must verify (pinned build key, files, scope, expiry), compile
 * and pass its tests, carry the approvals the channel demands, and have a higher seq than the bundle
 * the channel runs now. The bundle is stored under its digest and a new pointer with the next
 * channel_seq is signed with the release key and written.
 */
export async function publishBundle(
  files: BundleFiles,
  channel: string,
  signer: Signer,
  ctx: ReleaseContext,
): Promise<Checked<Published>> {
  assertReleaseKey(ctx, channel, signer);
  const checked = await checkReleasable(files, channel, ctx);
  if (!checked.ok) return checked;
  const { verified, approvedBy } = checked.value;
  const current = await currentPointer(ctx, channel);
  if (current?.bundle_digest === verified.digest)
    throw new Error(
      `${verified.digest} is already the current bundle of ${channel} (channel_seq ${current.channel_seq})`,
    );
  if (current && verified.manifest.seq <= current.seq)
    return refuse(
      'bundle_seq_lower',
      `seq ${verified.manifest.seq} is not above seq ${current.seq} that ${channel} runs; to go back, use mcpgov policy rollback`,
    );
  return writePointer(verified, approvedBy, channel, signer, ctx, false);
}

/**
 * Points a channel back at a bundle it ran before: a new pointer with a higher channel_seq and
 * `rollback: true`, after checking the old bundle again (it must still verify, compile, pass its
 * tests and carry enough approvals today).
 */
export async function rollbackChannel(
  digest: string,
  channel: string,
  signer: Signer,
  ctx: ReleaseContext,
): Promise<Checked<Published>> {
  assertReleaseKey(ctx, channel, signer);
  const name = ctx.policy.name;
  if (!ctx.store.history(name, channel).some((h) => h.digest === digest))
    throw new Error(`${digest} was never published to ${name}/${channel}`);
  const files = await ctx.store.readBundle(name, digest);
  if (!files) throw new Error(`the registry no longer holds ${digest}`);
  const checked = await checkReleasable(files, channel, ctx);
  if (!checked.ok) return checked;
  const current = await currentPointer(ctx, channel);
  if (current?.bundle_digest === digest)
    throw new Error(`${digest} is already the current bundle of ${channel}`);
  return writePointer(checked.value.verified, checked.value.approvedBy, channel, signer, ctx, true);
}

/** The checks a bundle passes before any channel may point at it. */
async function checkReleasable(
  files: BundleFiles,
  channel: string,
  ctx: ReleaseContext,
): Promise<Checked<{ verified: VerifiedBundle; approvedBy: string[] }>> {
  const { policy, trust } = ctx;
  const verified = await verifyAsConfigured(files, policy, trust, ctx.now);
  if (!verified.ok) return verified;
  const content = await compileAndTest(verified.value);
  if (!content.ok) return content;
  const approvals = await verifyApprovals(
    readApprovals(files),
    verified.value.digest,
    approvalPolicy(policy, trust, channel)!,
  );
  if (!approvals.ok) return approvals;
  return { ok: true, value: { verified: verified.value, approvedBy: approvals.value.approvedBy } };
}

function assertReleaseKey(ctx: ReleaseContext, channel: string, signer: Signer): void {
  if (!ctx.policy.channels[channel])
    throw new Error(`channel "${channel}" is not configured under policies.channels`);
  if (!kidsOf(ctx.trust.publishers).includes(signer.kid))
    throw new Error(`the release key (kid ${signer.kid}) is not pinned in policies.keys.publishers`);
  if (kidsOf(ctx.trust.signers).includes(signer.kid))
    throw new Error('the release key must differ from the build key that signs bundles');
}

/** The channel's current pointer as signed; the registry's own file, so its signature is checked. */
async function currentPointer(ctx: ReleaseContext, channel: string): Promise<PointerPayload | undefined> {
  const jws = await ctx.store.readPointer(ctx.policy.name, channel);
  if (jws === undefined) return undefined;
  const checked = await verifyPointer(jws, ctx.trust.publishers!, {
    name: ctx.policy.name,
    channel,
    scope: ctx.policy.scope,
    now: Number.NEGATIVE_INFINITY, // an expired current pointer still orders the next one
  });
  if (!checked.ok) throw new Error(`the current pointer of ${channel} does not verify: ${checked.message}`);
  return checked.value.payload;
}

async function writePointer(
  verified: VerifiedBundle,
  approvedBy: string[],
  channel: string,
  signer: Signer,
  ctx: ReleaseContext,
  rollback: boolean,
): Promise<Checked<Published>> {
  const { manifest, digest } = verified;
  const history = ctx.store.history(manifest.name, channel);
  const current = await currentPointer(ctx, channel);
  // Never reuse a channel_seq, even if the pointer file was replaced by hand: PEPs remember the highest.
  const channelSeq = Math.max(0, current?.channel_seq ?? 0, ...history.map((h) => h.channel_seq)) + 1;
  const iat = Math.floor(ctx.now / 1000);
  const pointer: Omit<PointerPayload, 'v'> = {
    approved_by: approvedBy,
    bundle_digest: digest,
    channel,
    channel_seq: channelSeq,
    exp: iat + Math.round(ctx.policy.channels[channel]!.ttl_hours * 3600),
    iat,
    name: manifest.name,
    revision: manifest.revision,
    ...(rollback ? { rollback: true } : {}),
    scope: ctx.policy.scope,
    seq: manifest.seq,
  };
  await ctx.store.storeBundle(verified.files, {
    name: manifest.name,
    revision: manifest.revision,
    seq: manifest.seq,
  });
  const jws = await signPointer(pointer, signer);
  await ctx.store.writePointer(jws, {
    name: manifest.name,
    channel,
    channel_seq: channelSeq,
    digest,
    revision: manifest.revision,
    seq: manifest.seq,
    approved_by: approvedBy,
    rollback,
    published_at: new Date(ctx.now).toISOString(),
    exp: new Date(pointer.exp * 1000).toISOString(),
    pointer_sha256: pointerTag(jws),
  });
  return { ok: true, value: { pointer, jws, digest } };
}
