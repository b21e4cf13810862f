import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

/** One signing key of the provider, with the public JWK it publishes. */
export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/** What a token is signed with and for; defaults give a valid token for `audience`. */
export interface TokenOptions {
  sub?: string;
  aud?: string;
  iss?: string;
  scope?: string;
  /** Seconds from now (negative: already expired). */
  expiresIn?: number;
  notBefore?: number;
  key?: SigningKey;
  /** Overrides the key's `kid` in the header. */
  kid?: string;
  claims?: JWTPayload;
}

/**
 * A real OpenID provider on 127.0.0.1 for tests: discovery document, JWKS that can rotate, and an
 * outage switch. It only publishes keys and signs tokens locally; it has no login flow.
 */
export interface IdentityProvider {
  issuer: string;
  jwksUri: string;
  /** Requests served, by path. */
  hits: Map<string, number>;
  /** The key tokens are signed with by default (the newest). */
  current: SigningKey;
  /** Publishes a new key with a new kid and removes the old one from the JWKS. */
  rotate(): Promise<SigningKey>;
  /** While true, every request is answered 503. */
  down: boolean;
  sign(options?: TokenOptions): Promise<string>;
  close(): Promise<void>;
}

/** A new Ed25519 signing key with a fresh kid. */
export async function newSigningKey(): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const kid = `k-${randomUUID().slice(0, 8)}`;
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' } };
}

/** Starts the provider; tokens default to `audience`. */
export async function startIdentityProvider(audience: string): Promise<IdentityProvider> {
  let keys = [await newSigningKey()];
  const hits = new Map<string, number>();
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (idp.down) {
      res.writeHead(503).end();
      return;
    }
    const json = (body: unknown) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (path === '/.well-known/openid-configuration')
      return json({
        issuer: idp.issuer,
        authorization_endpoint: `${idp.issuer}/authorize`,
        token_endpoint: `${idp.issuer}/token`,
        jwks_uri: idp.jwksUri,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['EdDSA'],
        code_challenge_methods_supported: ['S256'],
      });
    if (path === '/jwks') return json({ keys: keys.map((k) => k.publicJwk) });
    res.writeHead(404).end();
  });
  const idp: IdentityProvider = {
    issuer: '',
    jwksUri: '',
    hits,
    get current() {
      return keys[keys.length - 1]!;
    },
    async rotate() {
      const next = await newSigningKey();
      keys = [next];
      return next;
    },
    down: false,
    async sign(o = {}) {
      const key = o.key ?? idp.current;
      const now = Math.floor(Date.now() / 1000);
      const jwt = new SignJWT({ scope: o.scope ?? 'mcp:tools', client_id: 'test-client', ...o.claims })
        .setProtectedHeader({ alg: 'EdDSA', kid: o.kid ?? key.kid })
        .setIssuer(o.iss ?? idp.issuer)
        .setAudience(o.aud ?? audience)
        .setSubject(o.sub ?? 'ci-bot')
        .setJti(randomUUID())
        .setIssuedAt(now)
        .setExpirationTime(now + (o.expiresIn ?? 300));
      if (o.notBefore !== undefined) jwt.setNotBefore(now + o.notBefore);
      return jwt.sign(key.privateKey);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  idp.issuer = `http://127.0.0.1:${port}`;
  idp.jwksUri = `${idp.issuer}/jwks`;
  return idp;
}
