import type { ApprovalService } from '../approvals/service.js';
import type { ApprovalRequest, ApproverPrincipal, CallBinding, Tier, Waiver } from '../approvals/types.js';
import { approvalSettings, type ApprovalSettings } from '../config/approvals-schema.js';
import type { Decision } from '../core/decision.js';
import type { Reason } from '../core/reason-codes.js';
import type { CallContext } from '../pipeline/types.js';
import type { PolicySet } from '../policy/policy-set.js';
import type { Logger } from '../util/log.js';

/**
 * Denies no waiver may lift: a tool that does not exist, has no registry entry, or whose definition
 * is not the one reviewed is another tool than any waiver was written for.
 */
const NOT_WAIVABLE = new Set<Reason>([
  'unknown_tool',
  'unregistered_tool',
  'definition_mismatch',
  'definition_changed',
  'poisoned_description',
]);

/** What an enforcement point may ask the client of a held call: progress, and the user's confirmation. */
export interface CallHooks {
  /** Aborted when the client cancels the call (or goes away). */
  signal?: AbortSignal;
  /** Sends a progress notification, when the client asked for them (a progress token). */
  progress?: (p: { progress: number; total?: number; message?: string }) => void;
  /**
   * Asks the client's user to confirm (MCP elicitation), where the client declared the capability;
   * resolves to whether they accepted. The question stands for `timeoutMs` (the request's lifetime)
   * and is withdrawn when `signal` aborts (the request was settled another way).
   */
  confirm?: (
    message: string,
    opts: { signal: AbortSignal; timeoutMs: number },
  ) => Promise<'accept' | 'decline' | 'cancel'>;
}

/** A decision changed by a waiver or a grant, with what changed it. */
export interface Excepted {
  decision: Decision;
  waiver?: Waiver;
  grant?: ApprovalRequest;
}

/** The exact call a request or grant is bound to. */
export function bindingOf(ctx: CallContext, argsDigest: string, bundleDigest: string): CallBinding {
  return {
    agent: ctx.identity.agentId ?? null,
    tool: ctx.toolName,
    args_digest: argsDigest,
    bundle_digest: bundleDigest,
  };
}

/**
 * Looks for what lets an enforced deny or escalate through: an active waiver covering the call, or
 * (for an escalation) an approved request's unused grant for exactly this call, which is used here.
 */
export async function applyExceptions(
  approvals: ApprovalService,
  ctx: CallContext,
  decision: Decision,
  binding: CallBinding,
  log: Logger,
): Promise<Excepted> {
  if (!decision.enforced || decision.effect === 'allow' || ctx.liveTool === undefined) return { decision };
  if (NOT_WAIVABLE.has(decision.reasons[0] ?? 'internal_error')) return { decision };
  try {
    const waiver = await approvals.findWaiver(ctx.identity.agentId, ctx.toolName, ctx.arguments);
    if (waiver) {
      const waived = decision.effect;
      return {
        waiver,
        decision: {
          ...decision,
          effect: 'allow',
          reasons: ['waived', ...decision.reasons],
          message: `waiver ${waiver.id} lets this ${waived === 'deny' ? 'denied' : 'escalated'} call through until ${waiver.until}`,
          waiver: { id: waiver.id, waived_effect: waived },
        },
      };
    }
    if (decision.effect !== 'escalate') return { decision };
    const grant = await approvals.takeGrant(binding, decision.id);
    if (!grant) return { decision };
    return {
      grant,
      decision: {
        ...decision,
        effect: 'allow',
        reasons: ['approval_granted', ...decision.reasons],
        message: `approved in request ${grant.id} by ${grant.verdict?.approver.sub ?? 'an approver'}`,
        approval: { request: grant.id, grant_used: true },
      },
    };
  } catch (err) {
    // The store is down: no exception can be proven, so the call stays blocked (fail closed).
    log('error', 'approvals store unavailable; no waiver or grant applies', {
      error: (err as Error).message,
    });
    return { decision };
  }
}

/**
 * How an escalation reaches a person: the first matching rule's settings that escalated, over the
 * tool's own, over the config's defaults.
 */
export function settingsFor(policy: PolicySet, ctx: CallContext, decision: Decision): ApprovalSettings {
  const tool = approvalSettings(ctx.toolEntry?.approval);
  const rule = policy.rules.find(
    (r) => r.effect === 'escalate' && r.approval && decision.rules.includes(r.id),
  );
  return { ...tool, ...rule?.approval };
}

/** The user of an MCP client, confirming through elicitation: allowed for low and medium tiers only. */
export function elicitationPrincipal(ctx: CallContext): ApproverPrincipal {
  return {
    approver: {
      sub: ctx.identity.sub ?? `user-of:${ctx.identity.agentId ?? 'unknown-agent'}`,
      iss: ctx.identity.iss,
      name: 'the MCP client user',
      via: 'elicitation',
    },
    teams: [],
    owners: ['*'],
    tiers: ['low', 'medium'],
  };
}

/** Tiers a user may confirm through elicitation. */
export const USER_CONFIRMABLE: readonly Tier[] = ['low', 'medium'];
