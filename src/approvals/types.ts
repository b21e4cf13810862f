import { z } from 'zod';
import { TierSchema } from '../config/approvals-schema.js';

/**
 * Approvals and waivers: the shapes every part shares. An escalated call becomes an approval request
 * bound to the exact call; a person decides it (a verdict); an approved request in return mode leaves
 * a single-use grant for that same call. A waiver is a time-boxed exception to deny and escalate.
 */

const Sha256Schema = z.string().regex(/^sha256:[0-9a-f]{64}$/);

export { TierSchema };
/** How sensitive a request is. */
export type Tier = z.infer<typeof TierSchema>;

/**
 * `hold`: the call waits for the verdict and goes through the moment it is approved. `return`: the
 * agent is answered at once (`approval_pending`); after approval the identical call goes through once.
 */
export const ApprovalModeSchema = z.enum(['hold', 'return']);
/** Whether a call waits for its verdict or is answered at once. */
export type ApprovalMode = z.infer<typeof ApprovalModeSchema>;

/** Where a request stands. Only `pending` can be decided; only `approved` leaves a usable grant. */
export const RequestStateSchema = z.enum(['pending', 'approved', 'denied', 'expired', 'withdrawn']);
/** Where a request stands. */
export type RequestState = z.infer<typeof RequestStateSchema>;

/** How an approver reached the verdict function. */
export const ApproverChannelSchema = z.enum(['cli', 'api', 'console', 'elicitation', 'local_dev']);

/** Who decided, and how their identity was verified (never their token). */
export const ApproverSchema = z.object({
  sub: z.string().min(1),
  iss: z.string().optional(),
  name: z.string().optional(),
  via: ApproverChannelSchema,
  /** Authentication context and methods, and when the approver last authenticated (epoch seconds). */
  acr: z.string().optional(),
  amr: z.array(z.string()).optional(),
  auth_time: z.number().optional(),
});
/** Who decided a request, and how their identity was verified. */
export type Approver = z.infer<typeof ApproverSchema>;

/** A person's decision on a request. */
export const VerdictSchema = z.object({
  verdict: z.enum(['approve', 'deny']),
  reason: z.string().min(1).max(2000),
  approver: ApproverSchema,
  /** ISO time of the verdict. */
  at: z.string(),
});
/** A person's decision on a request. */
export type Verdict = z.infer<typeof VerdictSchema>;

/** Exactly which call a request (and its grant) is for: another agent, tool, arguments or bundle is another call. */
export const CallBindingSchema = z.object({
  agent: z.string().nullable(),
  tool: z.string(),
  args_digest: Sha256Schema,
  bundle_digest: Sha256Schema,
});
/** Exactly which call a request is for. */
export type CallBinding = z.infer<typeof CallBindingSchema>;

/** One approval request, as stored and as the admin API shows it. */
export const ApprovalRequestSchema = z.object({
  id: z.string(),
  state: RequestStateSchema,
  binding: CallBindingSchema,
  /** Whether the agent's identity was a verified token (false: the configured default agent). */
  verified: z.boolean(),
  pep: z.string(),
  session: z.string(),
  server: z.string().optional(),
  /** The pipeline's decision that escalated the call. */
  decision_id: z.string(),
  reasons: z.array(z.string()),
  signals: z.array(z.string()),
  /** The arguments as evidence holds them: masked, long values reduced to digests. */
  args: z.unknown(),
  tier: TierSchema,
  /** The tool's owner (from the registry): who may approve, and separation of duties, read it. */
  owner: z.string().optional(),
  /** The agent's owner: under separation of duties, never its approver. */
  agent_owner: z.string().optional(),
  /** Approvers the tool or rule names (subs); empty: any approver allowed for the tier and owner. */
  approvers: z.array(z.string()),
  mode: ApprovalModeSchema,
  /** What the approver sees of the session: its intent (masked) and its recent tool names. */
  intent: z.string().optional(),
  recent_calls: z.array(z.string()),
  created_at: z.string(),
  expires_at: z.string(),
  verdict: VerdictSchema.optional(),
  /** After approval: until when the single-use grant may be used, and whether (by which decision) it was. */
  grant: z
    .object({ expires_at: z.string(), used_at: z.string().optional(), used_by: z.string().optional() })
    .optional(),
  /** Set once an enforcement point has written the verdict's evidence record (a CLI may decide offline). */
  verdict_recorded: z.boolean().optional(),
  /** A held call cut short by a shutdown: the request stays decidable and leaves a grant when approved. */
  interrupted: z.boolean().optional(),
});
/** One approval request. */
export type ApprovalRequest = z.infer<typeof ApprovalRequestSchema>;

/** Why a verdict was refused; nothing changed. */
export type VerdictRefusal =
  'unknown_request' | 'not_pending' | 'expired' | 'binding_changed' | 'step_up_required' | 'not_allowed';

/** The result of deciding a request: the updated request, or why nothing changed. */
export type DecideResult =
  { ok: true; request: ApprovalRequest } | { ok: false; code: VerdictRefusal; message: string };

/** A time-boxed exception: matching calls go through despite a deny or escalate until it expires. */
export const WaiverSchema = z.object({
  id: z.string(),
  /** The agent it covers; `*` for any agent. */
  agent: z.string().min(1),
  /** The exposed tool name it covers, or a glob over exposed names. */
  tool: z.string().min(1),
  /** Optional json-logic over `{call: {name, arguments}}` the call must also satisfy. */
  args_match: z.json().optional(),
  created_at: z.string(),
  until: z.string(),
  reason: z.string().min(1).max(2000),
  /** What stands in for the control while it is waived (monitoring, a review, a ticket). */
  compensating: z.string().min(1).max(2000),
  by: ApproverSchema,
  revoked: z.object({ at: z.string(), reason: z.string(), by: ApproverSchema }).optional(),
  /** Set when an enforcement point recorded the waiver's expiry. */
  expiry_recorded: z.boolean().optional(),
});
/** A time-boxed exception to deny and escalate. */
export type Waiver = z.infer<typeof WaiverSchema>;

/**
 * An authenticated approver as the verdict function sees them: who they are (as recorded), and what
 * the configuration lets them decide.
 */
export interface ApproverPrincipal {
  approver: Approver;
  /** Teams they belong to: under separation of duties, never approvers of their teams' agents. */
  teams: string[];
  /** Tool owners whose requests they may decide; `*` for any. */
  owners: string[];
  /** Tiers they may decide. */
  tiers: Tier[];
  /** The local development approver: holding its key on this machine counts as step-up for its tiers. */
  localDev?: boolean;
}

/** What an approver sends to decide a request. */
export interface VerdictInput {
  verdict: 'approve' | 'deny';
  reason: string;
  /** The arguments digest the approver was shown: a request whose binding differs is refused. */
  args_digest?: string;
}

/** What creating a waiver takes. */
export interface WaiverInput {
  agent: string;
  tool: string;
  args_match?: unknown;
  /** ISO time or a duration from now (`2h`, `7d`). */
  until: string;
  reason: string;
  compensating: string;
}
