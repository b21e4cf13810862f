import { z } from 'zod';
import { ASYMMETRIC_ALGORITHMS, isKeyUrl } from './identity-schema.js';

/** How sensitive a request is: the tool's risk tier, unless its approval settings name another. */
export const TierSchema = z.enum(['low', 'medium', 'high', 'critical']);

/**
 * How one tool's (or rule's) escalations reach a person. `hold`: the call waits (with progress
 * notifications) and goes through the moment it is approved. `return`: the agent is answered at once
 * with `approval_pending`; after approval the identical call goes through once.
 */
export const ApprovalSettingsSchema = z.strictObject({
  mode: z.enum(['hold', 'return']).optional(),
  /** Seconds a request waits for a verdict (a held call, or a returned request) before it expires. */
  timeout: z
    .number()
    .int()
    .positive()
    .max(7 * 24 * 3600)
    .optional(),
  /** Approvers (by `sub`) who may decide; default: any approver allowed for the tier and owner. */
  approvers: z.array(z.string().min(1)).optional(),
  /** The request's tier, when not the tool's risk tier. */
  tier: TierSchema.optional(),
  /**
   * Whether the user of an MCP client that supports elicitation may confirm the call themselves
   * (low and medium tiers only); default false.
   */
  user_confirmation: z.boolean().optional(),
});
export type ApprovalSettings = z.infer<typeof ApprovalSettingsSchema>;

/** A tool's approval requirement: when calls need a person, and (object form) how they reach one. */
export const ToolApprovalSchema = z.union([
  z.enum(['never', 'flagged', 'always']),
  ApprovalSettingsSchema.extend({ when: z.enum(['flagged', 'always']).default('always') }),
]);
export type ToolApproval = z.infer<typeof ToolApprovalSchema>;

/** When a tool's calls need a person. */
export function approvalWhen(approval: ToolApproval | undefined): 'never' | 'flagged' | 'always' {
  if (approval === undefined) return 'never';
  return typeof approval === 'string' ? approval : approval.when;
}

/** How a tool's escalations reach a person (empty for the plain `never | flagged | always` form). */
export function approvalSettings(approval: ToolApproval | undefined): ApprovalSettings {
  if (approval === undefined || typeof approval === 'string') return {};
  const { when: _when, ...settings } = approval;
  return settings;
}

const KeyUrlSchema = z.string().refine(isKeyUrl, 'must be an https URL (http only on a loopback host)');

/** One person (or group of people sharing a subject pattern) who may decide requests. */
export const ApproverEntrySchema = z.strictObject({
  /** The token's `sub`. */
  sub: z.string().min(1),
  name: z.string().optional(),
  /** The teams the approver belongs to: under separation of duties, never their own agents' calls. */
  teams: z.array(z.string().min(1)).default([]),
  /** Tool owners whose tools the approver may decide for; `*` for any. */
  owners: z.array(z.string().min(1)).default(['*']),
  /** Tiers the approver may decide. */
  tiers: z.array(TierSchema).default(['low', 'medium', 'high', 'critical']),
});
export type ApproverEntry = z.infer<typeof ApproverEntrySchema>;

/** A chat or ticketing endpoint told about each new request. */
export const WebhookSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  /** `slack`: Slack incoming-webhook JSON; `generic`: a JSON object a Jira or ServiceNow integration reads. */
  format: z.enum(['slack', 'generic']).default('generic'),
  /** Environment variable holding the HMAC-SHA256 key that signs each delivery (`X-Mcpgov-Signature`). */
  secret_env: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
    .optional(),
  /** Deliveries tried after the first failed one, with doubling backoff. */
  retries: z.number().int().min(0).max(10).default(4),
  timeout_ms: z.number().int().positive().default(5000),
});
export type WebhookConfig = z.infer<typeof WebhookSchema>;

/**
 * Approvals and waivers: how escalations in enforce mode reach people, who may decide them, and the
 * exceptions (waivers) they may grant.
 */
export const ApprovalsConfigSchema = z
  .strictObject({
    /**
     * `hold` or `return` for escalations whose tool or rule names no mode. `return` answers at once,
     * which every client handles; `hold` suits clients that wait on long calls.
     */
    mode: z.enum(['hold', 'return']).default('return'),
    /** Seconds a request waits for a verdict when its tool or rule names no timeout. */
    timeout: z
      .number()
      .int()
      .positive()
      .max(7 * 24 * 3600)
      .default(300),
    /** Seconds an approved request's single-use grant stays usable (return mode). */
    grant_seconds: z
      .number()
      .int()
      .positive()
      .max(7 * 24 * 3600)
      .default(900),
    /** Seconds between progress notifications to a held call's client. */
    progress_seconds: z.number().positive().default(5),
    /** Approver tokens: one key source, and the audience and issuer they must carry. */
    jwks: z.string().optional(),
    jwks_uri: KeyUrlSchema.optional(),
    issuer: z.string().min(1).optional(),
    audience: z.string().min(1).default('mcpgov-approvals'),
    algorithms: z
      .array(z.enum(ASYMMETRIC_ALGORITHMS))
      .min(1)
      .default([...ASYMMETRIC_ALGORITHMS]),
    approvers: z.array(ApproverEntrySchema).default([]),
    /**
     * The local development approver: a key in the state folder, created on first run, that the CLI on
     * this machine signs with. For demos; a production config leaves it off.
     */
    local_dev: z
      .strictObject({
        enabled: z.boolean().default(false),
        teams: z.array(z.string().min(1)).default([]),
        owners: z.array(z.string().min(1)).default(['*']),
        tiers: z.array(TierSchema).default(['low', 'medium', 'high']),
      })
      .prefault({}),
    /** What deciding a request of these tiers (and creating a waiver) needs from the approver's token. */
    step_up: z
      .strictObject({
        tiers: z.array(TierSchema).default(['high', 'critical']),
        /** The approver authenticated at most this long ago (`auth_time`). */
        max_auth_age_seconds: z.number().int().positive().default(300),
        /** Accepted `acr` values; a token carrying one of them, or one of `amr`, has stepped up. */
        acr: z.array(z.string().min(1)).default([]),
        /** Accepted `amr` values (e.g. `mfa`, `hwk`). */
        amr: z.array(z.string().min(1)).default(['mfa', 'hwk']),
      })
      .prefault({}),
    /** The agent's own owner (a team an approver belongs to) may not approve its agent's calls. */
    separation_of_duties: z.boolean().default(true),
    waivers: z
      .strictObject({ max_days: z.number().positive().max(365).default(30) })
      .default({ max_days: 30 }),
    webhooks: z.array(WebhookSchema).default([]),
  })
  .superRefine((a, ctx) => {
    if (a.jwks !== undefined && a.jwks_uri !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['jwks_uri'],
        message: 'choose one key source: jwks or jwks_uri',
      });
  });
export type ApprovalsConfig = z.infer<typeof ApprovalsConfigSchema>;

const HostPortSchema = z.string().regex(/^[^\s:]+:\d{1,5}$|^\[[0-9a-f:]+\]:\d{1,5}$/i, 'must be HOST:PORT');

/** The admin listener: the approvals API and the approver console, never on the MCP port. */
export const AdminConfigSchema = z.strictObject({
  http: HostPortSchema,
  /** How approvers reach the console (links in webhooks); default `http://<http>`. */
  public_url: z.url({ protocol: /^https?$/ }).optional(),
});
export type AdminConfig = z.infer<typeof AdminConfigSchema>;
