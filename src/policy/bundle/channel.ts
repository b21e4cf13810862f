import type { JSONWebKeySet } from 'jose';
import { sha256Hex } from '../../evidence/hash.js';
import type { Signer } from '../../evidence/signer.js';
import { refuse, type Checked } from './errors.js';
import { peekPayload, signJson, verifySignedJson } from './jws.js';
import { POINTER_SPEC, POINTER_TYP, PointerPayloadSchema, type PointerPayload } from './schema.js';

/** A channel pointer verified against the pinned publisher keys, with its JWS. */
export interface Pointer {
  payload: PointerPayload;
  jws: string;
  kid: string;
}

/** Signs a channel pointer. */
export function signPointer(payload: Omit<PointerPayload, 'v'>, signer: Signer): Promise<string> {
  return signJson(signer, { ...payload, v: POINTER_SPEC }, POINTER_TYP);
}

/** A pointer's HTTP ETag and change key: the SHA-256 of its JWS. */
export function pointerTag(jws: string): string {
  return sha256Hex(jws);
}

/**
 * The bundle digest a pointer names, read without verifying (to fetch or relay the bundle, which is
 * checked against the verified pointer later); undefined when it names none that looks like one.
 */
export function pointerBundleDigest(jws: string): string | undefined {
  const digest = (peekPayload(jws) as { bundle_digest?: unknown } | undefined)?.bundle_digest;
  return typeof digest === 'string' && /^sha256:[0-9a-f]{64}$/.test(digest) ? digest : undefined;
}

/**
 * Verifies a channel pointer: a pinned publisher key, a valid signature, the expected bundle name,
 * channel and scope, and not expired. Ordering against the active pointer is the caller's (it knows
 * what is active).
 */
export async function verifyPointer(
  jws: string,
  publishers: JSONWebKeySet,
  expect: { name: string; channel: string; scope: string; now: number },
): Promise<Checked<Pointer>> {
  const checked = await verifySignedJson(jws.trim(), publishers, POINTER_TYP, PointerPayloadSchema);
  if (!checked.ok) {
    if (checked.why === 'unknown_key')
      return refuse('pointer_unknown_key', `channel pointer signed by an unpinned key: ${checked.detail}`);
    if (checked.why === 'invalid_payload' || checked.why === 'malformed')
      return refuse('pointer_invalid', `channel pointer: ${checked.detail}`);
    return refuse('pointer_bad_signature', `channel pointer rejected: ${checked.detail}`);
  }
  const p = checked.payload;
  if (p.name !== expect.name || p.channel !== expect.channel)
    return refuse(
      'pointer_invalid',
      `pointer is for ${p.name}/${p.channel}, not ${expect.name}/${expect.channel}`,
    );
  if (p.scope !== expect.scope)
    return refuse('pointer_invalid', `pointer is for scope "${p.scope}", required "${expect.scope}"`);
  if (p.exp * 1000 <= expect.now)
    return refuse(
      'pointer_expired',
      `channel pointer ${p.channel_seq} expired at ${new Date(p.exp * 1000).toISOString()}`,
    );
  return { ok: true, value: { payload: p, jws: jws.trim(), kid: checked.kid } };
}
