import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { JSONWebKeySet } from 'jose';
import type { Signer } from '../../evidence/signer.js';
import { refuse, type Checked } from './errors.js';
import { canonicalBytes, replaceFile, type BundleFiles } from './files.js';
import { peekPayload, signJson, verifySignedJson } from './jws.js';
import {
  APPROVAL_TYP,
  APPROVALS_FILE,
  ApprovalPayloadSchema,
  ApprovalsFileSchema,
  type ApprovalPayload,
  type Manifest,
} from './schema.js';

/** The bundle an approval is for: its content digest and what its manifest says. */
export interface ApprovedSubject {
  digest: string;
  manifest: Pick<Manifest, 'name' | 'revision' | 'seq'>;
}

/** Signs one approver's approval of a bundle digest. */
export function signApproval(subject: ApprovedSubject, signer: Signer, approver: string, now = new Date()) {
  const payload: ApprovalPayload = {
    approver,
    bundle: {
      digest: subject.digest,
      name: subject.manifest.name,
      revision: subject.manifest.revision,
      seq: subject.manifest.seq,
    },
    iat: Math.floor(now.getTime() / 1000),
  };
  return signJson(signer, payload, APPROVAL_TYP);
}

/** The approvals in a bundle's `.approvals.json` (none when the file is absent). */
export function readApprovals(files: BundleFiles): string[] {
  const bytes = files.get(APPROVALS_FILE);
  if (!bytes) return [];
  return ApprovalsFileSchema.parse(JSON.parse(bytes.toString('utf8'))).approvals;
}

/** Adds an approval to a bundle folder, replacing an earlier one by the same approver. */
export async function addApproval(dir: string, jws: string, approver: string): Promise<string[]> {
  const file = path.join(dir, APPROVALS_FILE);
  let existing: string[] = [];
  try {
    existing = ApprovalsFileSchema.parse(JSON.parse(await readFile(file, 'utf8'))).approvals;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const kept = existing.filter(
    (a) => (peekPayload(a) as { approver?: string } | undefined)?.approver !== approver,
  );
  const approvals = [...kept, jws];
  await replaceFile(file, canonicalBytes({ approvals }));
  return approvals;
}

/** What a channel demands of approvals. */
export interface ApprovalPolicy {
  /** Distinct approvers needed. */
  required: number;
  /** Who may approve for the channel. */
  allowed: readonly string[];
  /** Each approver's pinned keys. */
  keys: Readonly<Record<string, JSONWebKeySet>>;
  /** Keys that may not count as an approval: the bundle's signing key and the pointer key. */
  excludedKids: readonly string[];
}

/**
 * Counts valid approvals of a bundle: each must verify under its approver's own pinned key, name this
 * digest, come from an approver the channel allows, and use a key that neither signed the bundle nor
 * approved under another name. Refuses with every reason an approval did not count when too few do.
 */
export async function verifyApprovals(
  approvals: readonly string[],
  digest: string,
  policy: ApprovalPolicy,
): Promise<Checked<{ approvedBy: string[] }>> {
  const approvedBy: string[] = [];
  const usedKids = new Set<string>();
  const ignored: string[] = [];
  for (const jws of approvals) {
    const claimed = (peekPayload(jws) as { approver?: unknown } | undefined)?.approver;
    const name = typeof claimed === 'string' ? claimed : '(unnamed)';
    if (!policy.allowed.includes(name)) {
      ignored.push(`${name} (not an approver for this channel)`);
      continue;
    }
    const keys = policy.keys[name];
    if (!keys) {
      ignored.push(`${name} (no pinned key)`);
      continue;
    }
    const checked = await verifySignedJson(jws, keys, APPROVAL_TYP, ApprovalPayloadSchema);
    if (!checked.ok) ignored.push(`${name} (${checked.detail})`);
    else if (checked.payload.bundle.digest !== digest) ignored.push(`${name} (approves another bundle)`);
    else if (policy.excludedKids.includes(checked.kid))
      ignored.push(`${name} (signed with the build or release key)`);
    else if (usedKids.has(checked.kid)) ignored.push(`${name} (key already approved under another name)`);
    else if (approvedBy.includes(name)) ignored.push(`${name} (duplicate)`);
    else {
      approvedBy.push(name);
      usedKids.add(checked.kid);
    }
  }
  if (approvedBy.length < policy.required) {
    const have = approvedBy.length > 0 ? approvedBy.join(', ') : 'none';
    const why = ignored.length > 0 ? `; not counted: ${ignored.join(', ')}` : '';
    return refuse(
      'approvals_insufficient',
      `${approvedBy.length} of ${policy.required} required approvals from ${policy.allowed.join(', ') || '(no approvers)'}: valid ${have}${why}`,
    );
  }
  return { ok: true, value: { approvedBy: approvedBy.sort() } };
}
