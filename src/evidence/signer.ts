import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  calculateJwkThumbprint,
  CompactSign,
  compactVerify,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JSONWebKeySet,
  type JWK,
} from 'jose';

/**
 * Signs evidence (checkpoints, pack manifests). This interface is where a KMS or HSM signer plugs in:
 * it needs a key id, the public key as a JWK, and a compact JWS over given bytes.
 */
export interface Signer {
  /** RFC 7638 thumbprint of the public key. */
  readonly kid: string;
  readonly alg: 'EdDSA';
  readonly publicJwk: JWK;
  /** A compact JWS (RFC 7515) with `payload` as its payload and `typ` in the protected header. */
  sign(payload: Uint8Array, typ: string): Promise<string>;
}

/** A local Ed25519 key held in a private JWK file. */
export class LocalEd25519Signer implements Signer {
  readonly alg = 'EdDSA' as const;

  private constructor(
    readonly kid: string,
    readonly publicJwk: JWK,
    private readonly key: Awaited<ReturnType<typeof importJWK>>,
  ) {}

  /** Builds a signer from a private Ed25519 JWK. */
  static async fromJwk(privateJwk: JWK): Promise<LocalEd25519Signer> {
    if (privateJwk.kty !== 'OKP' || privateJwk.crv !== 'Ed25519' || !privateJwk.d) {
      throw new Error('the signing key must be a private Ed25519 JWK (kty OKP, crv Ed25519, with d)');
    }
    const { d: _d, ...publicPart } = privateJwk;
    const publicJwk: JWK = { kty: 'OKP', crv: 'Ed25519', x: publicPart.x };
    const kid = await calculateJwkThumbprint(publicJwk);
    const key = await importJWK({ ...privateJwk, alg: 'EdDSA' }, 'EdDSA');
    return new LocalEd25519Signer(kid, { ...publicJwk, kid, alg: 'EdDSA', use: 'sig' }, key);
  }

  /** Reads a private JWK file. */
  static async fromFile(file: string): Promise<LocalEd25519Signer> {
    return LocalEd25519Signer.fromJwk(JSON.parse(await readFile(file, 'utf8')) as JWK);
  }

  sign(payload: Uint8Array, typ: string): Promise<string> {
    return new CompactSign(payload).setProtectedHeader({ alg: 'EdDSA', kid: this.kid, typ }).sign(this.key);
  }
}

/** Files written by `writeKeyPair`. */
export interface KeyFiles {
  privateKey: string;
  publicJwks: string;
  kid: string;
}

/** Generates an Ed25519 key pair: a private JWK (mode 0600) and a public JWKS beside it. */
export async function writeKeyPair(dir: string, name = 'signing-key'): Promise<KeyFiles> {
  await mkdir(dir, { recursive: true });
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const jwk = await exportJWK(privateKey);
  const signer = await LocalEd25519Signer.fromJwk(jwk);
  const privateFile = path.join(dir, `${name}.private.jwk`);
  const publicFile = path.join(dir, `${name}.jwks.json`);
  await writeFile(
    privateFile,
    `${JSON.stringify({ ...jwk, kid: signer.kid, alg: 'EdDSA', use: 'sig' }, null, 2)}\n`,
    {
      mode: 0o600,
      flag: 'wx',
    },
  );
  await chmod(privateFile, 0o600);
  await writeFile(publicFile, `${JSON.stringify({ keys: [signer.publicJwk] }, null, 2)}\n`, { flag: 'wx' });
  return { privateKey: privateFile, publicJwks: publicFile, kid: signer.kid };
}

/** Reads a JWKS file. */
export async function readJwks(file: string): Promise<JSONWebKeySet> {
  const jwks = JSON.parse(await readFile(file, 'utf8')) as JSONWebKeySet;
  if (!Array.isArray(jwks.keys)) throw new Error(`${file}: not a JWKS (no "keys" array)`);
  return jwks;
}

/** The outcome of checking a compact JWS against pinned keys. */
export type JwsCheck =
  { ok: true; payload: Uint8Array; kid: string; typ?: string } | { ok: false; reason: string };

/** Verifies a compact JWS with the pinned keys (EdDSA only), naming why it fails. */
export async function verifyJws(jws: string, jwks: JSONWebKeySet): Promise<JwsCheck> {
  try {
    const { payload, protectedHeader } = await compactVerify(jws, createLocalJWKSet(jwks), {
      algorithms: ['EdDSA'],
    });
    return { ok: true, payload, kid: protectedHeader.kid ?? '', typ: protectedHeader.typ };
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_JWKS_NO_MATCHING_KEY') {
      const kid = decodeHeader(jws)?.kid;
      return { ok: false, reason: `signed by an unknown key (kid ${kid ?? 'missing'})` };
    }
    if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED')
      return { ok: false, reason: 'signature does not verify' };
    return { ok: false, reason: (err as Error).message };
  }
}

function decodeHeader(jws: string): { kid?: string } | undefined {
  try {
    return JSON.parse(Buffer.from(jws.split('.')[0] ?? '', 'base64url').toString('utf8')) as { kid?: string };
  } catch {
    return undefined;
  }
}
