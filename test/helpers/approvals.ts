import type { ApprovalRequest, ApproverPrincipal, CallBinding, Verdict } from '../../src/approvals/types.js';
import { randomUUIDv7 } from '../../src/util/uuid.js';

/** A sha256 digest made of one repeated hex digit, for bindings that differ by one field. */
export const sha = (digit: string): string => `sha256:${digit.repeat(64)}`;

/** The call a request in these tests is bound to, unless a test says otherwise. */
export const BINDING: CallBinding = {
  agent: 'dev',
  tool: 'fs__move_file',
  args_digest: sha('a'),
  bundle_digest: sha('b'),
};

/** A pending request as the enforcer would open it, created `now` and expiring `ttlMs` later. */
export function pendingRequest(
  fields: Partial<ApprovalRequest> = {},
  now = Date.now(),
  ttlMs = 60_000,
): ApprovalRequest {
  return {
    id: randomUUIDv7(),
    state: 'pending',
    binding: BINDING,
    verified: false,
    pep: 'gateway@test',
    session: 'session-1',
    decision_id: randomUUIDv7(),
    reasons: ['move_needs_approval'],
    signals: [],
    args: { source: 'a.txt', destination: 'b.txt' },
    tier: 'high',
    approvers: [],
    mode: 'return',
    recent_calls: [],
    created_at: new Date(now).toISOString(),
    expires_at: new Date(now + ttlMs).toISOString(),
    ...fields,
  };
}

/** A verdict by `sub`, given at `now`. */
export function verdict(kind: Verdict['verdict'], now = Date.now(), sub = 'alice'): Verdict {
  return {
    verdict: kind,
    reason: `${kind} by ${sub}`,
    approver: { sub, via: 'api' },
    at: new Date(now).toISOString(),
  };
}

/**
 * An approver as the admin API would hand one to the verdict function: allowed for every tier and
 * owner, authenticated `authAgeSeconds` ago with multi-factor (a step-up), in no team.
 */
export function approver(
  sub: string,
  now: number,
  overrides: Partial<Omit<ApproverPrincipal, 'approver'>> & {
    approver?: Partial<ApproverPrincipal['approver']>;
  } = {},
  authAgeSeconds = 10,
): ApproverPrincipal {
  const { approver: who, ...rest } = overrides;
  return {
    approver: {
      sub,
      iss: 'https://idp.test',
      via: 'api',
      amr: ['pwd', 'mfa'],
      auth_time: Math.floor(now / 1000) - authAgeSeconds,
      ...who,
    },
    teams: [],
    owners: ['*'],
    tiers: ['low', 'medium', 'high', 'critical'],
    ...rest,
  };
}

/**
 * Polls `probe` until it returns something other than undefined or false, and returns that; fails
 * after `timeoutMs` with `what`. For conditions another process or a timer brings about.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
): Promise<T> {
  const started = Date.now();
  for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}
