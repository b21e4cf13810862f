import type { JSONWebKeySet } from 'jose';
import type { z } from 'zod';
import { canonicalJson } from '../../evidence/hash.js';
import { verifyJws, type Signer } from '../../evidence/signer.js';

/** Signs a JSON payload (as its RFC 8785 bytes) with `typ` in the protected header. */
export function signJson(signer: Signer, payload: unknown, typ: string): Promise<string> {
  return signer.sign(Buffer.from(canonicalJson(payload), 'utf8'), typ);
}

/** Why a compact JWS was not accepted. */
export type JwsFailure = 'malformed' | 'unknown_key' | 'bad_signature' | 'wrong_type' | 'invalid_payload';

/** A verified JWS: its payload parsed by the schema and the key that signed it. */
export type VerifiedJws<T> =
  { ok: true; payload: T; kid: string } | { ok: false; why: JwsFailure; detail: string };

/** The protected header, read without verifying (to name the key in a message, or pick an approver). */
export function peekHeader(jws: string): { kid?: string; typ?: string; alg?: string } | undefined {
  try {
    const header: unknown = JSON.parse(Buffer.from(jws.split('.')[0] ?? '', 'base64url').toString('utf8'));
    return typeof header === 'object' && header !== null ? (header as { kid?: string }) : undefined;
  } catch {
    return undefined;
  }
}

/** The payload as JSON, read without verifying. */
export function peekPayload(jws: string): unknown {
  try {
    return JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Verifies a compact JWS against pinned keys: the header must name a `kid` that is in the set (no
 * guessing a key for a header without one), the signature must verify (EdDSA only), the `typ` must
 * be the expected one, and the payload must parse with the schema.
 */
export async function verifySignedJson<S extends z.ZodType>(
  jws: string,
  keys: JSONWebKeySet,
  typ: string,
  schema: S,
): Promise<VerifiedJws<z.infer<S>>> {
  const header = peekHeader(jws);
  if (!header || jws.split('.').length !== 3)
    return { ok: false, why: 'malformed', detail: 'not a compact JWS' };
  if (!header.kid || !keys.keys.some((k) => k.kid === header.kid))
    return { ok: false, why: 'unknown_key', detail: `kid ${header.kid ?? '(none)'} is not pinned` };
  const checked = await verifyJws(jws, keys);
  if (!checked.ok) return { ok: false, why: 'bad_signature', detail: checked.reason };
  if (checked.typ !== typ)
    return { ok: false, why: 'wrong_type', detail: `typ is ${checked.typ ?? '(none)'}, expected ${typ}` };
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(checked.payload).toString('utf8'));
  } catch {
    return { ok: false, why: 'invalid_payload', detail: 'payload is not JSON' };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success)
    return {
      ok: false,
      why: 'invalid_payload',
      detail: parsed.error.issues[0]?.message ?? 'invalid payload',
    };
  return { ok: true, payload: parsed.data, kid: checked.kid };
}
