import path from 'node:path';
import type { Signer } from '../../evidence/signer.js';
import { canonicalBytes, fileEntries, replaceFile, type BundleFiles } from '../bundle/files.js';
import { signJson } from '../bundle/jws.js';
import {
  BUNDLE_TYP,
  MANIFEST_FILE,
  ManifestSchema,
  SIGNATURES_FILE,
  type Manifest,
  type SignaturePayload,
} from '../bundle/schema.js';

/** What a bundle signature claims besides the files. */
export interface SignOptions {
  /** The deployment scope the bundle is for; enforcement points configured for another refuse it. */
  scope: string;
  /** When the signature stops being accepted. */
  expires: Date;
  /** Now, for `iat`. */
  now?: Date;
}

/** Reads and checks a bundle's manifest; throws naming what is wrong. */
export function readManifest(files: BundleFiles): Manifest {
  const bytes = files.get(MANIFEST_FILE);
  if (!bytes) throw new Error('not a bundle: no .manifest');
  const parsed = ManifestSchema.safeParse(JSON.parse(bytes.toString('utf8')));
  if (!parsed.success) throw new Error(`invalid .manifest: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/**
 * Signs a bundle: one compact JWS over every content file's name and SHA-256 (sorted), the bundle's
 * name, revision and seq, its scope and an expiry (OPA's `.signatures.json`, plus anti-rollback and
 * anti-freeze fields). Returns the JWS.
 */
export async function signBundle(files: BundleFiles, signer: Signer, opts: SignOptions): Promise<string> {
  const manifest = readManifest(files);
  const iat = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  const payload: SignaturePayload = {
    bundle: { name: manifest.name, revision: manifest.revision, seq: manifest.seq },
    exp: Math.floor(opts.expires.getTime() / 1000),
    files: fileEntries(files),
    iat,
    scope: opts.scope,
  };
  return signJson(signer, payload, BUNDLE_TYP);
}

/** Writes `.signatures.json` into a bundle folder, replacing an earlier signature (e.g. to extend exp). */
export async function writeSignature(dir: string, jws: string): Promise<void> {
  await replaceFile(path.join(dir, SIGNATURES_FILE), canonicalBytes({ signatures: [jws] }));
}
