import { decodeJwt, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { ApprovalsConfig } from '../config/approvals-schema.js';
import { createKeySource, KeysUnavailableError, type KeySourceOptions } from '../identity/keys.js';
import { LOCAL_DEV_ISSUER, localDevPrincipal, LocalDevKeyMissingError, verifyLocalDevToken } from './local-dev.js';
import type { Approver, ApproverPrincipal } from './types.js';

/** Clock skew tolerated on `exp`, `nbf` and `iat` between the identity provider and us. */
export const APPROVER_LEEWAY_SECONDS = 30;

/**
 * Why an approver was not let in: no token; a token that does not verify (expired, unknown key,
 * another audience or issuer); a verified subject that is no approver; keys that cannot be had now
 * (the server's fault, never the caller's).
 */
export type ApproverAuthFailure = 'unauthenticated' | 'invalid_token' | 'not_an_approver' | 'keys_unavailable';

/** The result of authenticating an approver. */
export type ApproverAuthResult =
  | { ok: true; principal: ApproverPrincipal }
  | { ok: false; code: ApproverAuthFailure; message: string };

/** What verifying approver tokens needs: the approvals config and the state folder (local dev key). */
export interface ApproverAuthSettings {
  approvals: ApprovalsConfig;
  stateDir: string;
  leewaySeconds?: number;
}

/**
 * Verifies approver bearer JWTs and maps them onto `approvals.approvers` by `sub`. A token whose
 * issuer is the local development approver's is verified with the key in the state folder, and only
 * while `approvals.local_dev.enabled`; every other token with the configured key source, issuer,
 * audience and algorithms. Step-up (auth_time, acr, amr) is carried into the principal and judged by
 * ApprovalService.decide, which knows the request's tier.
 */
export class ApproverAuth {
  private constructor(
    private readonly settings: ApproverAuthSettings,
    private readonly keys: JWTVerifyGetKey | undefined,
  ) {}

  /** Opens the key source (a JWKS file is read now; a URL is fetched on first use). */
  static async create(settings: ApproverAuthSettings, opts?: KeySourceOptions): Promise<ApproverAuth> {
    const { jwks, jwks_uri, issuer } = settings.approvals;
    let keys: JWTVerifyGetKey | undefined;
    try {
      keys = await createKeySource({ jwks, jwks_uri, issuer }, opts);
    } catch (err) {
      throw new Error(`approvals.jwks: cannot read ${jwks ?? jwks_uri}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return new ApproverAuth(settings, keys);
  }

  /** Verifies `token` and resolves its approver; `via` is the channel the verdict will name. */
  async authenticate(token: string | undefined, via: Approver['via']): Promise<ApproverAuthResult> {
    if (token === undefined || token.trim() === '')
      return { ok: false, code: 'unauthenticated', message: 'an approver bearer token is required' };
    let issuer: string | undefined;
    try {
      issuer = decodeJwt(token).iss;
    } catch {
      return { ok: false, code: 'invalid_token', message: 'the approver token is not a JWT' };
    }
    return issuer === LOCAL_DEV_ISSUER ? this.localDev(token, via) : this.configured(token, via);
  }

  private async localDev(token: string, via: Approver['via']): Promise<ApproverAuthResult> {
    const { approvals, stateDir } = this.settings;
    if (!approvals.local_dev.enabled)
      return {
        ok: false,
        code: 'invalid_token',
        message:
          'local development approver tokens are not accepted: approvals.local_dev.enabled is off in this config',
      };
    try {
      const payload = await verifyLocalDevToken(token, stateDir, approvals.audience, this.leeway);
      return { ok: true, principal: localDevPrincipal(approvals.local_dev, payload, via) };
    } catch (err) {
      if (err instanceof LocalDevKeyMissingError)
        return { ok: false, code: 'invalid_token', message: err.message };
      return { ok: false, code: 'invalid_token', message: this.rejection(err) };
    }
  }

  private async configured(token: string, via: Approver['via']): Promise<ApproverAuthResult> {
    const { approvals } = this.settings;
    if (!this.keys)
      return {
        ok: false,
        code: 'invalid_token',
        message: 'no approver keys are configured (approvals.jwks or approvals.jwks_uri)',
      };
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        // The header's `alg` is checked against this list before any key is looked up (RFC 8725 §3.1).
        algorithms: approvals.algorithms,
        issuer: approvals.issuer,
        audience: approvals.audience,
        clockTolerance: this.leeway,
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (err) {
      if (err instanceof KeysUnavailableError)
        return {
          ok: false,
          code: 'keys_unavailable',
          message: `cannot verify approver tokens now: ${err.message}`,
        };
      return { ok: false, code: 'invalid_token', message: this.rejection(err) };
    }
    const sub = payload.sub ?? '';
    const entry = approvals.approvers.find((a) => a.sub === sub);
    if (!entry)
      return {
        ok: false,
        code: 'not_an_approver',
        message: `${sub} is not an approver: approvals.approvers does not name it`,
      };
    const acr = payload['acr'];
    const amr = payload['amr'];
    const authTime = payload['auth_time'];
    return {
      ok: true,
      principal: {
        approver: {
          sub,
          ...(payload.iss === undefined ? {} : { iss: payload.iss }),
          ...(entry.name === undefined ? {} : { name: entry.name }),
          via,
          ...(typeof acr === 'string' ? { acr } : {}),
          ...(Array.isArray(amr) ? { amr: amr.filter((m): m is string => typeof m === 'string') } : {}),
          ...(typeof authTime === 'number' ? { auth_time: authTime } : {}),
        },
        teams: [...entry.teams],
        owners: [...entry.owners],
        tiers: [...entry.tiers],
      },
    };
  }

  private get leeway(): number {
    return this.settings.leewaySeconds ?? APPROVER_LEEWAY_SECONDS;
  }

  /** Why jose rejected a token, in words an approver can act on. */
  private rejection(err: unknown): string {
    const { approvals } = this.settings;
    if (err instanceof errors.JWTExpired) {
      const exp = err.payload.exp;
      const when = typeof exp === 'number' ? ` at ${new Date(exp * 1000).toISOString()}` : '';
      return `the approver token expired${when}: get a new one`;
    }
    if (err instanceof errors.JWKSNoMatchingKey)
      return 'the approver token is signed with a key the configured approver keys do not hold (unknown key)';
    if (err instanceof errors.JWSSignatureVerificationFailed)
      return 'the approver token’s signature does not verify with the approver keys (unknown key)';
    if (err instanceof errors.JWTClaimValidationFailed) {
      const got = err.payload[err.claim];
      if (err.claim === 'aud')
        return `the approver token is for audience ${JSON.stringify(got ?? null)}, not ${approvals.audience}`;
      if (err.claim === 'iss')
        return `the approver token's issuer is ${JSON.stringify(got ?? null)}, not ${approvals.issuer ?? LOCAL_DEV_ISSUER}`;
      return `the approver token's ${err.claim} claim is not acceptable: ${err.message}`;
    }
    if (err instanceof errors.JOSEAlgNotAllowed)
      return `the approver token's algorithm is not one of ${approvals.algorithms.join(', ')}`;
    return `the approver token is rejected: ${(err as Error).message}`;
  }
}
