import { sha256Hex } from '../../evidence/hash.js';
import type { JSONWebKeySet } from 'jose';
import type { PoliciesConfig } from '../../config/schema.js';
import type { Trust } from './trust.js';
import { bundleDigest, fileEntries, type BundleFiles } from './files.js';
import { refuse, type Checked } from './errors.js';
import { verifySignedJson } from './jws.js';
import {
  BUNDLE_TYP,
  ENGINE,
  MANIFEST_FILE,
  ManifestSchema,
  REPORT_FILE,
  SIGNATURES_FILE,
  SignaturePayloadSchema,
  SignaturesFileSchema,
  type Manifest,
  type SignaturePayload,
} from './schema.js';

/** What a bundle is checked against. */
export interface VerifyOptions {
  /** Pinned keys of the bundle signers (`keys.signers`). */
  signers: JSONWebKeySet;
  /** The scope this enforcement point or channel requires. */
  scope: string;
  /** Milliseconds since the epoch. */
  now: number;
  /** The bundle name expected, when one is configured. */
  name?: string;
}

/** A bundle whose signature, file set, hashes, scope and expiry all check out. */
export interface VerifiedBundle {
  manifest: Manifest;
  digest: string;
  signature: SignaturePayload & { kid: string };
  files: BundleFiles;
}

/**
 * Verifies a bundle, in order: one signature by a pinned key that verifies; exactly the signed file
 * set; every hash; a manifest that agrees with the signature; the scope; the expiry; the engine.
 * Every refusal names the file, key or value at fault.
 */
export async function verifyBundle(
  files: BundleFiles,
  opts: VerifyOptions,
): Promise<Checked<VerifiedBundle>> {
  const sigBytes = files.get(SIGNATURES_FILE);
  if (!sigBytes) return refuse('bundle_unsigned', 'the bundle has no .signatures.json');
  let sigFile;
  try {
    sigFile = SignaturesFileSchema.parse(JSON.parse(sigBytes.toString('utf8')));
  } catch {
    return refuse('bundle_unsigned', '.signatures.json is not {"signatures": [JWS]}');
  }
  if (sigFile.signatures.length !== 1)
    return refuse('bundle_unsigned', `.signatures.json holds ${sigFile.signatures.length} signatures, not 1`);
  const checked = await verifySignedJson(
    sigFile.signatures[0]!,
    opts.signers,
    BUNDLE_TYP,
    SignaturePayloadSchema,
  );
  if (!checked.ok) {
    if (checked.why === 'unknown_key')
      return refuse('bundle_unknown_key', `bundle signed by an unpinned key: ${checked.detail}`);
    return refuse('bundle_bad_signature', `bundle signature rejected: ${checked.detail}`);
  }
  const signed = checked.payload;

  const actual = new Map(fileEntries(files).map((e) => [e.name, e.hash]));
  for (const entry of signed.files) {
    if (!actual.has(entry.name)) return refuse('bundle_file_missing', `signed file ${entry.name} is missing`);
  }
  const listed = new Set(signed.files.map((e) => e.name));
  const extra = [...actual.keys()].filter((name) => !listed.has(name));
  if (extra.length > 0)
    return refuse('bundle_file_unexpected', `file ${extra.join(', ')} is not listed in the signature`);
  for (const entry of signed.files) {
    if (actual.get(entry.name) !== entry.hash)
      return refuse(
        'bundle_hash_mismatch',
        `${entry.name}: SHA-256 ${actual.get(entry.name)} is not the signed ${entry.hash}`,
      );
  }

  const manifest = parseManifest(files);
  if (!manifest.ok) return manifest;
  const m = manifest.value;
  if (m.name !== signed.bundle.name || m.revision !== signed.bundle.revision || m.seq !== signed.bundle.seq)
    return refuse(
      'bundle_manifest_invalid',
      'the manifest name, revision or seq differ from the signed ones',
    );
  if (opts.name !== undefined && m.name !== opts.name)
    return refuse('bundle_manifest_invalid', `bundle "${m.name}" is not the configured "${opts.name}"`);
  const roles = [
    MANIFEST_FILE,
    REPORT_FILE,
    m.files.registries.tools,
    m.files.registries.agents,
    ...m.files.rules,
    ...m.files.tests,
    ...(m.evals ? [m.evals.report] : []),
  ];
  const unlisted = [...listed].filter((name) => !roles.includes(name));
  if (unlisted.length > 0 || roles.some((name) => !listed.has(name)))
    return refuse('bundle_manifest_invalid', `the manifest's file roles do not match the signed files`);
  const evalReport = m.evals && files.get(m.evals.report);
  if (m.evals && (!evalReport || `sha256:${sha256Hex(evalReport)}` !== m.evals.digest))
    return refuse('bundle_manifest_invalid', 'the eval report differs from the digest the manifest states');

  if (signed.scope !== opts.scope)
    return refuse(
      'bundle_scope_mismatch',
      `bundle signed for scope "${signed.scope}", required "${opts.scope}"`,
    );
  if (signed.exp * 1000 <= opts.now)
    return refuse(
      'bundle_expired',
      `bundle signature expired at ${new Date(signed.exp * 1000).toISOString()}`,
    );
  if (m.engine !== ENGINE)
    return refuse(
      'bundle_manifest_invalid',
      `engine "${m.engine}" is not supported (this build runs ${ENGINE})`,
    );

  return {
    ok: true,
    value: {
      manifest: m,
      digest: bundleDigest(fileEntries(files)),
      signature: { ...signed, kid: checked.kid },
      files,
    },
  };
}

function parseManifest(files: BundleFiles): Checked<Manifest> {
  const bytes = files.get(MANIFEST_FILE);
  if (!bytes) return refuse('bundle_manifest_invalid', 'the bundle has no .manifest');
  try {
    const parsed = ManifestSchema.safeParse(JSON.parse(bytes.toString('utf8')));
    if (parsed.success) return { ok: true, value: parsed.data };
    const issue = parsed.error.issues[0];
    return refuse('bundle_manifest_invalid', `.manifest ${issue?.path.join('.') ?? ''}: ${issue?.message}`);
  } catch {
    return refuse('bundle_manifest_invalid', '.manifest is not JSON');
  }
}

/**
 * `verifyBundle` as the config pins it: the configured build keys, scope and bundle name. What an
 * enforcement point activates, `publish` releases and an approver signs are all checked this way.
 */
export function verifyAsConfigured(
  files: BundleFiles,
  policy: PoliciesConfig,
  trust: Trust,
  now: number,
): Promise<Checked<VerifiedBundle>> {
  if (!trust.signers) throw new Error('policies.keys.signers must name the keys that sign bundles');
  return verifyBundle(files, { signers: trust.signers, scope: policy.scope, now, name: policy.name });
}
