import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, type ResolvedConfig } from '../config/load-config.js';
import { LocalEd25519Signer, readJwks } from '../evidence/signer.js';
import { addApproval, readApprovals, signApproval } from '../policy/bundle/approvals.js';
import type { Refusal } from '../policy/bundle/errors.js';
import { readBundleDir } from '../policy/bundle/files.js';
import {
  publishBundle,
  rollbackChannel,
  type Published,
  type ReleaseContext,
} from '../policy/release/publish.js';
import { RegistryStore } from '../policy/release/registry-store.js';
import { readManifest, signBundle, writeSignature } from '../policy/release/sign.js';
import { kidsOf, loadTrust } from '../policy/bundle/trust.js';
import { verifyAsConfigured, verifyBundle } from '../policy/bundle/verify.js';
import { EXIT, Failure, UsageError, err, out } from './io.js';

const DAY_MS = 24 * 3600 * 1000;

/** Options of `mcpgov policy sign|verify|approve|publish|rollback` (commands/policy.ts). */
export interface PolicyReleaseOptions {
  config: string;
  key?: string;
  jwks?: string;
  scope?: string;
  ttlDays?: number;
  as?: string;
  channel?: string;
  to?: string;
  json?: boolean;
}

function oneBundle(folder: string): string {
  const dir = path.resolve(folder);
  if (!existsSync(path.join(dir, '.manifest')))
    throw new Failure(`${dir} is not a bundle folder (no .manifest)`);
  return dir;
}

/** Prints a result: the JSON object with --json, else the sentence. */
function report(values: { json?: boolean }, line: string, json: Record<string, unknown>): number {
  out(values.json ? JSON.stringify({ ok: true, ...json }, null, 2) : line);
  return EXIT.ok;
}

function refused(r: Refusal, values: { json?: boolean } = {}): number {
  if (values.json) out(JSON.stringify({ ok: false, code: r.code, message: r.message }, null, 2));
  err(`refused: ${r.code}: ${r.message}`);
  return EXIT.failed;
}

/** `mcpgov policy sign BUNDLE --key JWK`: the build key signs every file's hash, scope and expiry. */
export async function policySignCommand(values: PolicyReleaseOptions, bundle: string): Promise<number> {
  const dir = oneBundle(bundle);
  if (!values.key) throw new UsageError('--key JWK (the private build key) is required');
  const ttl = values.ttlDays ?? 90;
  const scope = values.scope ?? (await loadConfig(values.config)).policy.scope;
  const signer = await LocalEd25519Signer.fromFile(values.key);
  const files = await readBundleDir(dir);
  const now = new Date();
  const expires = new Date(now.getTime() + ttl * DAY_MS);
  await writeSignature(dir, await signBundle(files, signer, { scope, expires, now }));
  const m = readManifest(files);
  return report(
    values,
    `signed ${m.name}@${m.seq} for scope "${scope}" with kid ${signer.kid}, valid until ${expires.toISOString()}`,
    { bundle: dir, name: m.name, seq: m.seq, scope, kid: signer.kid, expires: expires.toISOString() },
  );
}

/** `mcpgov policy verify BUNDLE --jwks FILE`: every check an enforcement point runs on the signature. */
export async function policyVerifyCommand(values: PolicyReleaseOptions, bundle: string): Promise<number> {
  const dir = oneBundle(bundle);
  if (!values.jwks) throw new UsageError('--jwks FILE is required: verification trusts only keys you pin');
  let scope = values.scope;
  if (scope === undefined) {
    if (!existsSync(values.config)) throw new UsageError('give --scope, or --config naming policies.scope');
    scope = (await loadConfig(values.config)).policy.scope;
  }
  const checked = await verifyBundle(await readBundleDir(dir), {
    signers: await readJwks(values.jwks),
    scope,
    now: Date.now(),
  });
  if (!checked.ok) return refused(checked, values);
  const { manifest: m, digest, signature: s } = checked.value;
  const approvals = readApprovals(checked.value.files).length;
  const until = new Date(s.exp * 1000).toISOString();
  return report(
    values,
    `ok: ${dir}: ${m.name}@${m.seq} revision ${m.revision}, digest ${digest}, ${s.files.length} files; ` +
      `signed by ${s.kid} for scope "${s.scope}" until ${until}; ${approvals} approvals attached`,
    {
      bundle: dir,
      name: m.name,
      seq: m.seq,
      revision: m.revision,
      digest,
      files: s.files.length,
      kid: s.kid,
      scope: s.scope,
      expires: until,
      approvals,
    },
  );
}

/** `mcpgov policy approve BUNDLE --key JWK --as NAME`: an approver signs the bundle's digest. */
export async function policyApproveCommand(values: PolicyReleaseOptions, bundle: string): Promise<number> {
  const dir = oneBundle(bundle);
  if (!values.key || !values.as) throw new UsageError('--key JWK and --as NAME are required');
  const config = await loadConfig(values.config);
  const trust = await loadTrust(config.policy);
  const name = values.as;
  const pinned = trust.approvers[name];
  if (!pinned)
    throw new Failure(`"${name}" is not an approver: add its public key under policies.keys.approvers`);
  const signer = await LocalEd25519Signer.fromFile(values.key);
  // An approval by a key the enforcement points do not pin for this name would never count.
  if (!kidsOf(pinned).includes(signer.kid))
    throw new Failure(`this key (kid ${signer.kid}) is not the pinned key of approver "${name}"`);
  if ([...kidsOf(trust.signers), ...kidsOf(trust.publishers)].includes(signer.kid))
    throw new Failure('an approver key must differ from the build and release keys');
  // You approve what you verified: the same checks as publish, before your signature goes on it.
  const checked = await verifyAsConfigured(await readBundleDir(dir), config.policy, trust, Date.now());
  if (!checked.ok) return refused(checked, values);
  const jws = await signApproval(checked.value, signer, name);
  const approvals = await addApproval(dir, jws, name);
  const m = checked.value.manifest;
  return report(
    values,
    `${name} approved ${m.name}@${m.seq} ${checked.value.digest} (${approvals.length} approvals attached)`,
    {
      bundle: dir,
      name: m.name,
      seq: m.seq,
      digest: checked.value.digest,
      approver: name,
      approvals: approvals.length,
    },
  );
}

async function releaseContext(config: ResolvedConfig): Promise<ReleaseContext> {
  return {
    policy: config.policy,
    trust: await loadTrust(config.policy),
    store: await RegistryStore.open(config.policy.registry),
    now: Date.now(),
  };
}

function printPublished(p: Published, verb: string, values: { json?: boolean }): number {
  return report(
    values,
    `${verb} ${p.pointer.name}@${p.pointer.seq} ${p.digest} to channel ${p.pointer.channel} ` +
      `(channel_seq ${p.pointer.channel_seq}, approved by ${p.pointer.approved_by.join(', ') || 'nobody'}, ` +
      `valid until ${new Date(p.pointer.exp * 1000).toISOString()})`,
    { digest: p.digest, pointer: p.pointer },
  );
}

/** `mcpgov policy publish BUNDLE --channel C --key JWK`: approvals checked, pointer signed. */
export async function policyPublishCommand(values: PolicyReleaseOptions, bundle: string): Promise<number> {
  const dir = oneBundle(bundle);
  if (!values.channel || !values.key)
    throw new UsageError('--channel NAME and --key JWK (the release key) are required');
  const config = await loadConfig(values.config);
  const signer = await LocalEd25519Signer.fromFile(values.key);
  const published = await publishBundle(
    await readBundleDir(dir),
    values.channel,
    signer,
    await releaseContext(config),
  );
  return published.ok ? printPublished(published.value, 'published', values) : refused(published, values);
}

/** `mcpgov policy rollback --channel C --to DIGEST --key JWK`: a new pointer to an older bundle. */
export async function policyRollbackCommand(values: PolicyReleaseOptions): Promise<number> {
  if (!values.channel || !values.to || !values.key)
    throw new UsageError('--channel NAME, --to DIGEST and --key JWK (the release key) are required');
  const digest = values.to.startsWith('sha256:') ? values.to : `sha256:${values.to}`;
  if (!/^sha256:[0-9a-f]{64}$/.test(digest))
    throw new UsageError('--to must be a bundle digest (sha256:<64 hex>)');
  const config = await loadConfig(values.config);
  const signer = await LocalEd25519Signer.fromFile(values.key);
  const published = await rollbackChannel(digest, values.channel, signer, await releaseContext(config));
  return published.ok
    ? printPublished(published.value, 'rolled back to', values)
    : refused(published, values);
}
