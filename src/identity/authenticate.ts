import { createHash } from 'node:crypto';
import { jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { ASYMMETRIC_ALGORITHMS } from '../config/identity-schema.js';
import type { AgentRegistry } from '../registry/registries.js';
import type { Identity } from '../core/identity.js';
import { createKeySource, KeysUnavailableError, type KeySettings, type KeySourceOptions } from './keys.js';

/** Why a caller was not let in; each is a reason code (src/core/reason-codes.ts). */
export type AuthFailureCode = 'unauthenticated' | 'invalid_token' | 'insufficient_scope' | 'keys_unavailable';

/** The result of authenticating a caller. */
export type AuthResult =
  | { ok: true; identity: Identity }
  | {
      ok: false;
      code: AuthFailureCode;
      message: string;
      /** With `insufficient_scope`: the scopes a token needs (RFC 6750 §3.1). */
      scope?: string[];
    };

/** Identity settings, with paths already absolute. */
export interface IdentitySettings extends KeySettings {
  default_agent?: string;
  audience?: string;
  /** The gateway's resource identifier; the required audience when `audience` is not set (RFC 8707). */
  resource?: string;
  algorithms?: string[];
  leeway_seconds?: number;
  required_scopes?: string[];
}

/** Turns a bearer token (or its absence) into an Identity, and maps it onto the agent registry. */
export class Authenticator {
  private constructor(
    private readonly settings: IdentitySettings,
    private readonly keys?: JWTVerifyGetKey,
  ) {}

  /** Opens the key source (reads a JWKS file; a URL is fetched on first use), when one is configured. */
  static async create(settings: IdentitySettings, opts?: KeySourceOptions): Promise<Authenticator> {
    return new Authenticator(settings, await createKeySource(settings, opts));
  }

  /**
   * Verifies `token` and resolves its agent. Without a token the caller acts as the default agent,
   * marked unverified; a token that fails verification never falls back to the default agent.
   */
  async authenticate(token: string | undefined, agents: AgentRegistry): Promise<AuthResult> {
    const { settings } = this;
    if (token === undefined || token === '') {
      const agentId = settings.default_agent;
      if (agentId === undefined) {
        return { ok: false, code: 'unauthenticated', message: 'a bearer token is required' };
      }
      return { ok: true, identity: { verified: false, claims: {}, agentId } };
    }
    if (!this.keys)
      return { ok: false, code: 'invalid_token', message: 'no key source is configured to verify tokens' };
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        // The header's `alg` is checked against this list before any key is looked up (RFC 8725 §3.1).
        algorithms: settings.algorithms ?? [...ASYMMETRIC_ALGORITHMS],
        issuer: settings.issuer,
        // MCP authorization: a token is accepted only if it was issued for this resource (RFC 8707).
        audience: settings.audience ?? settings.resource,
        clockTolerance: settings.leeway_seconds ?? 30,
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (err) {
      if (err instanceof KeysUnavailableError)
        return { ok: false, code: 'keys_unavailable', message: `cannot verify tokens now: ${err.message}` };
      return { ok: false, code: 'invalid_token', message: `token rejected: ${(err as Error).message}` };
    }
    const identity = identityFromClaims(payload);
    const required = settings.required_scopes ?? [];
    const missing = required.filter((s) => !identity.scopes?.includes(s));
    if (missing.length > 0) {
      return {
        ok: false,
        code: 'insufficient_scope',
        message: `the token lacks scope ${missing.join(' ')}, which this gateway requires`,
        scope: required,
      };
    }
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
    // A SPIFFE JWT-SVID names the workload in `sub` (SPIFFE JWT-SVID §3).
    spiffe_id: sub?.startsWith('spiffe://') ? sub : undefined,
    client_id: typeof payload['client_id'] === 'string' ? payload['client_id'] : undefined,
    scopes,
    token_jti_sha256: payload.jti
      ? `sha256:${createHash('sha256').update(payload.jti).digest('hex')}`
      : undefined,
    claims: payload as Record<string, unknown>,
  };
}
