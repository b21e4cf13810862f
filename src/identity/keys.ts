import { readFile } from 'node:fs/promises';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from 'jose';
import { z } from 'zod';
import { isKeyUrl } from '../config/identity-schema.js';

/**
 * The keys that verify tokens could not be had (an identity provider down, a malformed document): the
 * server's fault, never the caller's, so it is answered 503 rather than 401, and never falls back.
 */
export class KeysUnavailableError extends Error {
  override name = 'KeysUnavailableError';
}

/** Where the keys come from; at most one is set (the config schema checks it). */
export interface KeySettings {
  /** Absolute path of a JWKS file. */
  jwks?: string;
  jwks_uri?: string;
  /** Find `jwks_uri` in the issuer's metadata. */
  discovery?: boolean;
  issuer?: string;
}

/** Options for tests and embedders. */
export interface KeySourceOptions {
  fetch?: typeof fetch;
}

/** A JWKS or metadata document that takes longer than this counts as unavailable. */
const FETCH_TIMEOUT_MS = 5000;
/**
 * After a failed fetch, tokens are answered "unavailable" for this long without fetching again, so a
 * flood of callers cannot turn an identity provider's outage into a flood of requests to it.
 */
export const RETRY_AFTER_MS = 5000;

const JwksDocumentSchema = z.looseObject({ keys: z.array(z.looseObject({})) });
const MetadataDocumentSchema = z.looseObject({ issuer: z.string(), jwks_uri: z.string().optional() });

/**
 * The key lookup `jwtVerify` calls, or undefined when no source is configured. A file is read once,
 * at start. A URL (given, or discovered from the issuer) is fetched on first use and cached by jose:
 * fetched again after 10 minutes, or at most every 30 s for a key id it does not know, so a key
 * rotated at the identity provider is picked up without a restart.
 */
export async function createKeySource(
  settings: KeySettings,
  opts: KeySourceOptions = {},
): Promise<JWTVerifyGetKey | undefined> {
  if (settings.jwks !== undefined) {
    const jwks = JSON.parse(await readFile(settings.jwks, 'utf8')) as JSONWebKeySet;
    return createLocalJWKSet(signingKeys(jwks));
  }
  const fetchImpl = opts.fetch ?? fetch;
  const remote = (url: URL) =>
    createRemoteJWKSet(url, {
      timeoutDuration: FETCH_TIMEOUT_MS,
      [customFetch]: (input: string, init: RequestInit) => fetchJwks(input, init, fetchImpl),
    });
  if (settings.jwks_uri !== undefined) return withBackoff(remote(new URL(settings.jwks_uri)));
  if (settings.discovery && settings.issuer !== undefined) {
    const issuer = settings.issuer;
    let keys: JWTVerifyGetKey | undefined;
    return withBackoff(async (header, token) => {
      keys ??= remote(await discoverJwksUri(issuer, fetchImpl));
      return keys(header, token);
    });
  }
  return undefined;
}

/**
 * Fetches a JWKS for jose, turning every failure of the fetch itself into KeysUnavailableError so it
 * is told apart from a token naming a key that is not there (the caller's fault).
 */
async function fetchJwks(url: string, init: RequestInit, fetchImpl: typeof fetch): Promise<Response> {
  const json = await fetchJson(url, init, fetchImpl);
  if (!JwksDocumentSchema.safeParse(json).success)
    throw new KeysUnavailableError(`${url} is not a JSON Web Key Set`);
  const keys = signingKeys(json as JSONWebKeySet);
  return new Response(JSON.stringify(keys), { status: 200, headers: { 'content-type': 'application/json' } });
}

/**
 * A SPIFFE trust bundle marks the keys that sign JWT-SVIDs `use: "jwt-svid"` and X.509 roots
 * `x509-svid` (SPIFFE Trust Domain and Bundle §4.2.2); jose takes only `use: "sig"`, so a bundle
 * verifies JWT-SVIDs with its jwt-svid keys and never with an X.509 root.
 */
export function signingKeys(jwks: JSONWebKeySet): JSONWebKeySet {
  const keys = jwks.keys
    .filter((k) => k.use !== 'x509-svid')
    .map((k) => (k.use === 'jwt-svid' ? { ...k, use: 'sig' } : k));
  return { ...jwks, keys };
}

/**
 * The issuer's `jwks_uri`: from its OpenID Connect discovery document (OIDC Discovery §4), else from
 * its RFC 8414 authorization server metadata. The document must name the same issuer (OIDC Discovery
 * §4.3, RFC 8414 §3.3), or another server could hand out its keys.
 */
export async function discoverJwksUri(issuer: string, fetchImpl: typeof fetch = fetch): Promise<URL> {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/$/, '');
  const candidates = [
    new URL(`${path}/.well-known/openid-configuration`, url.origin),
    new URL(`/.well-known/oauth-authorization-server${path}`, url.origin),
  ];
  const tried: string[] = [];
  for (const candidate of candidates) {
    const json = await fetchJson(candidate.href, {}, fetchImpl, true);
    if (json === undefined) {
      tried.push(candidate.href);
      continue;
    }
    const doc = MetadataDocumentSchema.safeParse(json);
    if (!doc.success) throw new KeysUnavailableError(`${candidate.href} is not issuer metadata`);
    if (doc.data.issuer !== issuer)
      throw new KeysUnavailableError(`${candidate.href} names issuer "${doc.data.issuer}", not "${issuer}"`);
    const jwksUri = doc.data.jwks_uri;
    if (jwksUri === undefined) throw new KeysUnavailableError(`${candidate.href} names no jwks_uri`);
    if (!isKeyUrl(jwksUri))
      throw new KeysUnavailableError(`jwks_uri ${jwksUri} must be https (http only on a loopback host)`);
    return new URL(jwksUri);
  }
  throw new KeysUnavailableError(`no issuer metadata at ${tried.join(' or ')}`);
}

/** GETs a JSON document; `undefined` for a 404 when `missingOk`; every other failure is unavailable. */
async function fetchJson(
  url: string,
  init: RequestInit,
  fetchImpl: typeof fetch,
  missingOk = false,
): Promise<unknown> {
  let response: Response;
  try {
    response = await fetchImpl(url, {
      ...init,
      method: 'GET',
      // A redirect could lead to plain http or another host: metadata and keys are fetched where named.
      redirect: 'manual',
      headers: { accept: 'application/json', ...Object.fromEntries(new Headers(init.headers)) },
      signal: init.signal ?? AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
  } catch (err) {
    throw new KeysUnavailableError(`cannot fetch ${url}: ${(err as Error).message}`);
  }
  if (missingOk && response.status === 404) return undefined;
  if (response.status !== 200) throw new KeysUnavailableError(`${url} answered HTTP ${response.status}`);
  try {
    return await response.json();
  } catch {
    throw new KeysUnavailableError(`${url} did not answer JSON`);
  }
}

/** Answers "unavailable" without fetching for RETRY_AFTER_MS after a failed fetch (see there). */
function withBackoff(getKey: JWTVerifyGetKey): JWTVerifyGetKey {
  let failure: { at: number; message: string } | undefined;
  return async (header, token) => {
    if (failure && Date.now() - failure.at < RETRY_AFTER_MS)
      throw new KeysUnavailableError(`${failure.message} (retrying shortly)`);
    try {
      const key = await getKey(header, token);
      failure = undefined;
      return key;
    } catch (err) {
      if (err instanceof KeysUnavailableError) failure = { at: Date.now(), message: err.message };
      throw err;
    }
  };
}
