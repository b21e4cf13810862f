import type { PoliciesConfig } from '../../config/schema.js';
import type { PolicySet } from '../policy-set.js';
import { readApprovals, verifyApprovals } from '../bundle/approvals.js';
import { verifyPointer, type Pointer } from '../bundle/channel.js';
import { compileAndTest } from '../bundle/content.js';
import { refuse, type Checked } from '../bundle/errors.js';
import type { BundleFiles } from '../bundle/files.js';
import type { Manifest } from '../bundle/schema.js';
import { approvalPolicy, type Trust } from '../bundle/trust.js';
import { verifyAsConfigured } from '../bundle/verify.js';

/** A bundle that passed every activation check, ready to swap in. */
export interface Candidate {
  policy: PolicySet;
  manifest: Manifest;
  digest: string;
  files: BundleFiles;
  /** The channel pointer it was activated under, for channel sources. */
  pointer?: Pointer;
}

/** The bundle in force at an enforcement point. */
export interface ActiveBundle extends Candidate {
  activatedAt: number;
  from: 'source' | 'cache';
}

/** What candidates are checked against. */
export interface ActivationContext {
  policy: PoliciesConfig;
  trust: Trust;
  now: number;
  /** The bundle in force (or cached, at start): the floor for seq and channel_seq. */
  active?: Candidate;
}

/**
 * Checks a channel pointer before its bundle is fetched: a pinned publisher key, a valid signature,
 * the configured name, channel and scope, not expired, and a channel_seq above the active one
 * (a lower one is a replayed old pointer, TUF's rollback attack).
 */
export async function checkPointer(jws: string, ctx: ActivationContext): Promise<Checked<Pointer>> {
  const { policy, trust } = ctx;
  if (!trust.publishers)
    throw new Error('policies.keys.publishers must name the keys that sign channel pointers');
  const checked = await verifyPointer(jws, trust.publishers, {
    name: policy.name,
    channel: policy.channel ?? '',
    scope: policy.scope,
    now: ctx.now,
  });
  if (!checked.ok) return checked;
  const active = ctx.active?.pointer?.payload;
  const seq = checked.value.payload.channel_seq;
  if (active && seq < active.channel_seq)
    return refuse(
      'pointer_replayed',
      `channel_seq ${seq} is lower than the active channel_seq ${active.channel_seq}`,
    );
  if (active && seq === active.channel_seq && checked.value.jws !== ctx.active?.pointer?.jws)
    return refuse('pointer_replayed', `channel_seq ${seq} is already active under another pointer`);
  return checked;
}

/**
 * Checks a bundle for activation, in order: signature by a pinned build key, exact file set, hashes,
 * scope, expiry (verifyBundle); that it is the bundle the pointer names, with the approvals the
 * channel requires; a seq not lower than the active one unless the pointer is a signed rollback;
 * then that it compiles and passes its own tests.
 */
export async function checkBundle(
  files: BundleFiles,
  pointer: Pointer | undefined,
  ctx: ActivationContext,
): Promise<Checked<Candidate>> {
  const { policy, trust } = ctx;
  const verified = await verifyAsConfigured(files, policy, trust, ctx.now);
  if (!verified.ok) return verified;
  const { manifest, digest } = verified.value;
  if (pointer) {
    const p = pointer.payload;
    if (p.bundle_digest !== digest)
      return refuse('pointer_digest_mismatch', `pointer names ${p.bundle_digest}, the bundle is ${digest}`);
    if (p.seq !== manifest.seq)
      return refuse(
        'pointer_digest_mismatch',
        `pointer names seq ${p.seq}, the bundle is seq ${manifest.seq}`,
      );
    const required = approvalPolicy(policy, trust, p.channel);
    if (required) {
      const approvals = await verifyApprovals(readApprovals(files), digest, required);
      if (!approvals.ok) return approvals;
    }
  }
  const active = ctx.active;
  const rollback = pointer?.payload.rollback === true;
  if (active && !rollback && manifest.seq < active.manifest.seq)
    return refuse(
      'bundle_seq_lower',
      `seq ${manifest.seq} is lower than the active seq ${active.manifest.seq}`,
    );
  if (active && !rollback && manifest.seq === active.manifest.seq && digest !== active.digest)
    return refuse(
      'bundle_seq_lower',
      `seq ${manifest.seq} is already active with another bundle (${active.digest})`,
    );
  const content = await compileAndTest(verified.value);
  if (!content.ok) return content;
  return { ok: true, value: { policy: content.value.policy, manifest, digest, files, pointer } };
}
