import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import type { AgentRegistry } from '../registry/registries.js';
import type { Identity } from '../core/identity.js';

/** Asymmetric algorithms only: a shared-secret (HS*) token could be minted by anyone holding the key. */
const ALGORITHMS = ['EdDSA', 'ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];

/** The result of authenticating a caller. */
export type AuthResult =
  | { ok: true; identity: Identity }
  | { ok: false; code: 'unauthenticated' | 'invalid_token'; message: string };

/** Identity settings, with paths already absolute. */
export interface IdentitySettings {
  default_agent?: string;
  jwks?: string;
  issuer?: string;
  audience?: string;
}

/** Turns a bearer token (or its absence) into an Identity, and maps it onto the agent registry. */
export class Authenticator {
  private constructor(
    private readonly settings: IdentitySettings,
    private readonly keys?: ReturnType<typeof createLocalJWKSet>,
  ) {}

  /** Loads the JWKS file, when one is configured. */
  static async create(settings: IdentitySettings): Promise<Authenticator> {
    if (!settings.jwks) return new Authenticator(settings);
    const jwks = JSON.parse(await readFile(settings.jwks, 'utf8')) as JSONWebKeySet;
    return new Authenticator(settings, createLocalJWKSet(jwks));
  }

  /**
   * Verifies `token` and resolves its agent. Without a token the caller acts as the default agent,
   * marked unverified; a token that fails verification never falls back to the default agent.
   */
  async authenticate(token: string | undefined, agents: AgentRegistry): Promise<AuthResult> {
    if (token === undefined || token === '') {
      const agentId = this.settings.default_agent;
      if (agentId === undefined) {
        return { ok: false, code: 'unauthenticated', message: 'a bearer token is required' };
      }
      return { ok: true, identity: { verified: false, claims: {}, agentId } };
    }
    if (!this.keys)
      return { ok: false, code: 'invalid_token', message: 'no JWKS is configured to verify tokens' };
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        algorithms: ALGORITHMS,
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (err) {
      return { ok: false, code: 'invalid_token', message: `token rejected: ${(err as Error).message}` };
    }
    const identity = identityFromClaims(payload);
    identity.agentId = agents.resolve(identity)?.id;
    return { ok: true, identity };
  }
}

function identityFromClaims(payload: JWTPayload): Identity {
  const scope = payload['scope'] ?? payload['scp'];
  const scopes =
    typeof scope === 'string'
      ? scope.split(' ').filter(Boolean)
      : Array.isArray(scope)
        ? scope.map(String)
        : undefined;
  const sub = payload.sub;
  return {
    verified: true,
    iss: payload.iss,
    sub,
    spiffe_id: sub?.startsWith('spiffe://') ? sub : undefined,
    client_id: typeof payload['client_id'] === 'string' ? payload['client_id'] : undefined,
    scopes,
    token_jti_sha256: payload.jti
      ? `sha256:${createHash('sha256').update(payload.jti).digest('hex')}`
      : undefined,
    claims: payload as Record<string, unknown>,
  };
}
