import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';

/** The issuer test approver tokens name. */
export const APPROVER_ISSUER = 'https://idp.approvers.test';

/** An approvers' identity provider for tests: a JWKS file with one key, and tokens signed by it. */
export interface ApproverKeys {
  /** The JWKS file (set it as approvals.jwks). */
  jwks: string;
  /** Signs an approver token: valid for `aud` for 5 minutes, authenticated now, with `mfa`, by default. */
  sign(claims?: JWTPayload & { expiresIn?: number }): Promise<string>;
  /** Signs with a key the JWKS does not hold. */
  signWithUnknownKey(claims?: JWTPayload): Promise<string>;
  /** Writes a token to a file (for `--token FILE`) and returns its path. */
  tokenFile(token: string): Promise<string>;
}

/** Generates an Ed25519 approver key into a temp JWKS file. */
export async function approverKeys(audience = 'mcpgov-approvals'): Promise<ApproverKeys> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-approvers-'));
  const pair = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const stranger = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const jwks = path.join(dir, 'approvers.jwks.json');
  await writeFile(
    jwks,
    JSON.stringify({
      keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'approvers-1', alg: 'EdDSA', use: 'sig' }],
    }),
  );
  const signWith = (key: CryptoKey, kid: string, claims: JWTPayload & { expiresIn?: number } = {}) => {
    const now = Math.floor(Date.now() / 1000);
    const { expiresIn = 300, ...rest } = claims;
    const payload: JWTPayload = {
      iss: APPROVER_ISSUER,
      aud: audience,
      sub: 'alice',
      iat: now,
      exp: now + expiresIn,
      auth_time: now,
      amr: ['mfa'],
      ...rest,
    };
    for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
    return new SignJWT(payload).setProtectedHeader({ alg: 'EdDSA', kid }).sign(key);
  };
  let files = 0;
  return {
    jwks,
    sign: (claims) => signWith(pair.privateKey, 'approvers-1', claims),
    signWithUnknownKey: (claims) => signWith(stranger.privateKey, 'approvers-2', claims),
    async tokenFile(token) {
      const file = path.join(dir, `token-${++files}.jwt`);
      await writeFile(file, `${token}\n`, { mode: 0o600 });
      return file;
    },
  };
}
