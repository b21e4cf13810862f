import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';
import type { ApprovalsConfig } from '../config/approvals-schema.js';
import type { Logger } from '../util/log.js';
import type { Approver, ApproverPrincipal } from './types.js';

/**
 * The local development approver: an Ed25519 key in the state folder that the CLI on this machine
 * (and whoever pastes its printed token into the console) signs approver tokens with. Holding the key
 * is what proves the approver, so it counts as step-up; it is accepted only while
 * `approvals.local_dev.enabled` is on, which a production config leaves off.
 */

/** The `iss` of local development approver tokens. */
export const LOCAL_DEV_ISSUER = 'mcpgov-local-dev';
/** The `sub` of local development approver tokens, and the approver evidence names. */
export const LOCAL_DEV_SUB = 'local-dev-approver';
/** The private key's file in the state folder. */
export const LOCAL_DEV_KEY_FILE = 'local-dev-approver.jwk';
/** Lifetime of the token printed at the first run (for the console): a working day. */
export const ANNOUNCED_TOKEN_SECONDS = 12 * 3600;
/** Lifetime of a token the CLI mints for one command. */
export const CLI_TOKEN_SECONDS = 5 * 60;

/** The local development key, ready to sign and verify. */
interface LocalDevKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

/** Where the local development approver's private key lives. */
export function localDevKeyPath(stateDir: string): string {
  return path.join(stateDir, LOCAL_DEV_KEY_FILE);
}

/**
 * Creates the key when the state folder has none; says whether it did. The file appears whole or not
 * at all (written aside, then hard-linked into place, which fails if it exists), mode 0600, so two
 * processes starting at once never both create it and never read half of it.
 */
export async function ensureLocalDevKey(stateDir: string): Promise<{ file: string; created: boolean }> {
  const file = localDevKeyPath(stateDir);
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: jwk.x });
  const aside = `${file}.${process.pid}.tmp`;
  await writeFile(aside, `${JSON.stringify({ ...jwk, kid, alg: 'EdDSA' })}\n`, { mode: 0o600 });
  try {
    await link(aside, file);
    return { file, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { file, created: false };
    throw err;
  } finally {
    await rm(aside, { force: true });
  }
}

/** Reads the key; undefined when the state folder has none. */
async function readLocalDevKey(stateDir: string): Promise<LocalDevKey | undefined> {
  let text: string;
  try {
    text = await readFile(localDevKeyPath(stateDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const jwk = JSON.parse(text) as JWK;
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || !jwk.d)
    throw new Error(`${localDevKeyPath(stateDir)} is not a private Ed25519 JWK`);
  const { d: _d, ...publicJwk } = jwk;
  return {
    kid: jwk.kid ?? (await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: jwk.x })),
    privateKey: (await importJWK(jwk, 'EdDSA')) as CryptoKey,
    publicKey: (await importJWK(publicJwk, 'EdDSA')) as CryptoKey,
  };
}

/**
 * Signs a local development approver token for `audience`, valid `ttlSeconds`, authenticated now
 * (creating the key first when the state folder has none).
 */
export async function mintLocalDevToken(
  stateDir: string,
  audience: string,
  ttlSeconds: number,
  now = Date.now(),
): Promise<string> {
  let key = await readLocalDevKey(stateDir);
  if (!key) {
    await ensureLocalDevKey(stateDir);
    key = await readLocalDevKey(stateDir);
  }
  if (!key) throw new Error(`cannot create the local development approver key in ${stateDir}`);
  const iat = Math.floor(now / 1000);
  return new SignJWT({ auth_time: iat, name: 'local development approver' })
    .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: 'JWT' })
    .setIssuer(LOCAL_DEV_ISSUER)
    .setSubject(LOCAL_DEV_SUB)
    .setAudience(audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttlSeconds)
    .sign(key.privateKey);
}

/** The local development key is missing: nothing signed with it can be verified. */
export class LocalDevKeyMissingError extends Error {
  override name = 'LocalDevKeyMissingError';
}

/**
 * Verifies a local development approver token against the key in the state folder (jose errors for
 * a bad signature, expiry or audience; LocalDevKeyMissingError when there is no key).
 */
export async function verifyLocalDevToken(
  token: string,
  stateDir: string,
  audience: string,
  leewaySeconds: number,
): Promise<JWTPayload> {
  const key = await readLocalDevKey(stateDir);
  if (!key)
    throw new LocalDevKeyMissingError(
      `there is no local development approver key in ${stateDir} (start the gateway once, or run mcpgov approvals token)`,
    );
  const { payload } = await jwtVerify(token, key.publicKey, {
    algorithms: ['EdDSA'],
    issuer: LOCAL_DEV_ISSUER,
    subject: LOCAL_DEV_SUB,
    audience,
    clockTolerance: leewaySeconds,
    requiredClaims: ['sub', 'exp'],
  });
  return payload;
}

/** The principal a verified local development token stands for: the configured teams, owners and tiers. */
export function localDevPrincipal(
  settings: ApprovalsConfig['local_dev'],
  payload: JWTPayload,
  via: Approver['via'],
): ApproverPrincipal {
  const authTime = payload['auth_time'];
  return {
    approver: {
      sub: LOCAL_DEV_SUB,
      iss: LOCAL_DEV_ISSUER,
      name: 'local development approver',
      via,
      ...(typeof authTime === 'number' ? { auth_time: authTime } : {}),
    },
    teams: [...settings.teams],
    owners: [...settings.owners],
    tiers: [...settings.tiers],
    localDev: true,
  };
}

/**
 * At an enforcement point's start: with `approvals.local_dev.enabled`, makes sure the key exists, and
 * the first time (when it is created) says so on stderr with a token for the console, as the
 * evidence key is announced. Later starts print nothing: `mcpgov approvals token` mints another.
 */
export async function prepareLocalDevApprover(
  approvals: ApprovalsConfig,
  stateDir: string,
  log: Logger,
  consoleUrl?: string,
): Promise<void> {
  if (!approvals.local_dev.enabled) return;
  const { file, created } = await ensureLocalDevKey(stateDir);
  if (!created) return;
  const token = await mintLocalDevToken(stateDir, approvals.audience, ANNOUNCED_TOKEN_SECONDS);
  log('warn', 'approvals.local_dev is enabled: generated the local development approver key', {
    private_key: file,
    ...(consoleUrl === undefined ? {} : { console: consoleUrl }),
    token,
    token_expires_in: `${ANNOUNCED_TOKEN_SECONDS / 3600} h (mcpgov approvals token prints another)`,
  });
}
