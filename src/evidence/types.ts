import { randomUUIDv7 } from '../util/uuid.js';
import { z } from 'zod';
import { EffectSchema, ModeSchema } from '../core/effect.js';

/** Version tag of every evidence record. */
export const EVIDENCE_VERSION = 'mcpgov.evidence/v1';

const Sha256Schema = z.string().regex(/^sha256:[0-9a-f]{64}$/);

/** The enforcement point that wrote a record. */
export const PepInfoSchema = z.object({
  id: z.string(),
  kind: z.enum(['gateway', 'sidecar', 'cli']),
  version: z.string(),
});
export type PepInfo = z.infer<typeof PepInfoSchema>;

export const SubjectSchema = z.object({
  verified: z.boolean(),
  agent: z.string().optional(),
  iss: z.string().optional(),
  sub: z.string().optional(),
  spiffe_id: z.string().optional(),
  client_id: z.string().optional(),
  scopes: z.array(z.string()).optional(),
  token_jti_sha256: z.string().optional(),
});

/**
 * What the live tool's MCP annotations say, where they say it (`destructiveHint`, `readOnlyHint`):
 * the server's hints, not guarantees; the OCSF export classes calls as reads or updates by them.
 */
export const ToolHintsSchema = z.object({
  destructive: z.boolean().optional(),
  read_only: z.boolean().optional(),
});

export const RequestSchema = z.object({
  method: z.string(),
  server: z.string().optional(),
  tool: z.string(),
  args_digest: Sha256Schema,
  /** Arguments after masking: secret-looking keys and long values replaced. */
  args: z.unknown(),
  /** JSON Pointers of the values masked or reduced to digests. */
  masked: z.array(z.string()),
  definition_digest: Sha256Schema.optional(),
  session: z.object({
    id: z.string(),
    call_count: z.number().int().nonnegative(),
    /** `sha256:` of the declared intent in force (its text is in the chain's `intent` record). */
    intent_digest: Sha256Schema.optional(),
  }),
  tool_hints: ToolHintsSchema.optional(),
});

export const DecisionInfoSchema = z.object({
  id: z.string(),
  effect: EffectSchema,
  mode: ModeSchema,
  enforced: z.boolean(),
  reasons: z.array(z.string()),
  rules: z.array(z.string()),
  stages: z.array(z.object({ stage: z.string(), kind: z.string(), code: z.string().optional() })),
  bundle: z.object({ name: z.string(), revision: z.string(), digest: Sha256Schema }),
  /** Stage 2, when it ran: the verdict, the named signals, and how it was reached. */
  semantic: z
    .object({
      verifier: z.string(),
      model: z.string().optional(),
      verdict: z.string(),
      confidence: z.number(),
      signals: z.array(z.object({ name: z.string(), detail: z.string(), score: z.number() })),
      rationale: z.string(),
      prompt_hash: Sha256Schema.optional(),
      latency_ms: z.number(),
      cache_hit: z.boolean(),
      tokens: z.object({ prompt: z.number(), completion: z.number() }).optional(),
      cost_usd: z.number().optional(),
      /** Set when the verifier failed or timed out and the tool's fail mode decided. */
      error: z.string().optional(),
    })
    .optional(),
  eval_us: z.number().nonnegative(),
  /** A waiver that let the call through despite the effect it names (`effect` is then `allow`). */
  waiver: z.object({ id: z.string(), waived_effect: z.enum(['deny', 'escalate']) }).optional(),
  /** The approval behind this decision: a request created (escalate) or a grant used (allow). */
  approval: z.object({ request: z.string(), grant_used: z.boolean().optional() }).optional(),
  /** The OpenTelemetry trace (32 hex digits) the call's span belongs to, when tracing is on. */
  trace_id: z
    .string()
    .regex(/^[0-9a-f]{32}$/)
    .optional(),
  /**
   * Arguments that carry values of earlier tool results, when a rule reads `flow` (README:
   * Information flow): the argument's path, the tool and result digest it came from, and the
   * result's labels. Never the value itself.
   */
  flow: z
    .array(
      z.object({
        path: z.string(),
        source: z.string(),
        digest: z.string(),
        integrity: z.enum(['trusted', 'untrusted']),
        confidentiality: z.enum(['public', 'internal', 'secret']),
        via: z.string(),
      }),
    )
    .optional(),
});

export const ActionInfoSchema = z.object({
  decision_id: z.string(),
  tool: z.string(),
  server: z.string().optional(),
  args_digest: Sha256Schema,
  forwarded: z.boolean(),
  duration_ms: z.number().nonnegative(),
  is_error: z.boolean(),
  result_bytes: z.number().int().nonnegative(),
  result_digest: Sha256Schema.optional(),
  /** Set when forwarding failed: a stable code and message. */
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  /** The tool's annotations, as on the decision record's request. */
  tool_hints: ToolHintsSchema.optional(),
});

/** A session's chain opening or closing, or a change of its declared intent. */
export const ChainEventSchema = z.object({
  /**
   * `intent`: what the user asked for was stated (stage 2 judges calls against it);
   * `intent_ignored`: a `_meta` intent from a caller that is not a configured host, not used.
   */
  event: z.enum(['open', 'close', 'intent', 'intent_ignored']),
  /** Calls made in the session, on close. */
  calls: z.number().int().nonnegative().optional(),
  /**
   * On close: `tools/call` requests the session's transport received, counted before anything could
   * refuse them (the enforcement point's own declare-intent tool aside). Requests without a decision
   * record (refused by the limit on calls in flight, or lost to a failure before the record) make it
   * exceed the chain's decision records: the pilot report's coverage gap.
   */
  received: z.number().int().nonnegative().optional(),
  /** On open: the caller is a configured host, whose `_meta` intents are trusted. */
  host: z.boolean().optional(),
  /** The intent (masked like arguments) and where it came from, on `intent` and `intent_ignored`. */
  intent: z.string().optional(),
  /** Why an intent was ignored: a stable code (`intent_untrusted`). */
  reason: z.string().optional(),
  source: z.enum(['meta', 'declared']).optional(),
});

/** What a forwarded call achieved, checked against the tool's declared outcome condition. */
export const OutcomeInfoSchema = z.object({
  decision_id: z.string(),
  tool: z.string(),
  result_digest: Sha256Schema.optional(),
  /** True when every declared check held. */
  verified: z.boolean(),
  checks: z.array(z.object({ check: z.string(), passed: z.boolean(), error: z.string().optional() })),
});

/** A policy bundle an enforcement point activated, or refused (and kept the last good one). */
export const PolicyEventSchema = z.object({
  event: z.enum(['activated', 'refused']),
  /** The bundle concerned, as far as it could be read (a refused bundle may lack some of it). */
  bundle: z
    .object({
      digest: Sha256Schema.optional(),
      name: z.string().optional(),
      revision: z.string().optional(),
      seq: z.number().int().optional(),
    })
    .optional(),
  channel: z.string().optional(),
  channel_seq: z.number().int().optional(),
  approved_by: z.array(z.string()).optional(),
  /** Where it came from: the configured source, or the PEP's cache of its last good bundle. */
  from: z.enum(['source', 'cache']),
  source: z.string(),
  /** Why it was refused: a stable code (src/policy/bundle/errors.ts) and one line. */
  code: z.string().optional(),
  message: z.string().optional(),
  /** The bundle in force after the event. */
  active: z.object({ digest: Sha256Schema, name: z.string(), revision: z.string() }).optional(),
});

/**
 * Something that differs from what was approved: an enforcement point running another policy than its
 * channel's approved one, or silent (`digest_mismatch`, `not_reporting`); or a downstream tool whose
 * definition differs from its pin or from the one first seen (`definition_changed`, the rug pull).
 */
export const DriftInfoSchema = z.object({
  pep: z.string(),
  cause: z.enum(['digest_mismatch', 'not_reporting', 'definition_changed']),
  channel: z.string().optional(),
  /** The approved digest: the channel's bundle, or the tool's pin or first-seen definition. */
  expected_digest: Sha256Schema.optional(),
  /** The digest in force: the PEP's active bundle, or the tool's live definition. */
  active_digest: Sha256Schema.optional(),
  /** When the mismatch or the silence began. */
  since: z.string(),
  last_report: z.string().optional(),
  /** For `definition_changed`: the server, the exposed tool name, what it was compared with, what was done. */
  server: z.string().optional(),
  tool: z.string().optional(),
  reference: z.enum(['pin', 'first_seen']).optional(),
  action: z.enum(['blocked', 'observed']).optional(),
});

/**
 * A downstream tool definition found carrying hidden instructions or invisible characters when it
 * loaded: what was found where, and what the enforcement point did with the tool.
 */
export const DefinitionFindingSchema = z.object({
  server: z.string(),
  /** The exposed tool name. */
  tool: z.string(),
  /** The digest of the definition as the server sent it. */
  digest: Sha256Schema,
  /** Whether hidden instructions were found (invisible characters alone are stripped, not poisoning). */
  poisoned: z.boolean(),
  /** Each field's finding: the field, the detector's one line, its score. */
  findings: z.array(z.object({ field: z.string(), detail: z.string(), score: z.number() })),
  /** Invisible characters (zero-width, bidi controls, tag characters) removed from what agents see. */
  invisible_removed: z.number().int().nonnegative(),
  /** `hidden`: left out of tools/list and refused; `listed`: offered (cleaned), its calls go to stage 2. */
  action: z.enum(['hidden', 'listed']),
});

/** Who decided a request or created a waiver, and how their identity was verified (never a token). */
export const ApproverInfoSchema = z.object({
  sub: z.string(),
  iss: z.string().optional(),
  name: z.string().optional(),
  /** The channel: `cli`, `api`, `console`, `elicitation` or `local_dev`. */
  via: z.string(),
  acr: z.string().optional(),
  amr: z.array(z.string()).optional(),
  auth_time: z.number().optional(),
});

/**
 * An approval request's life: created for an escalated call; decided by a person; its single-use grant
 * used by the identical call; expired, withdrawn (the held call's client went away) or interrupted
 * (a held call cut short by a restart, which leaves it decidable).
 */
export const ApprovalEventSchema = z.object({
  event: z.enum(['created', 'decided', 'grant_used', 'expired', 'withdrawn', 'interrupted']),
  request: z.string(),
  /** The escalated decision the request was created for. */
  decision_id: z.string(),
  agent: z.string().nullable(),
  tool: z.string(),
  args_digest: Sha256Schema,
  bundle_digest: Sha256Schema,
  tier: z.string(),
  mode: z.enum(['hold', 'return']),
  expires_at: z.string().optional(),
  verdict: z.enum(['approve', 'deny']).optional(),
  reason: z.string().optional(),
  approver: ApproverInfoSchema.optional(),
  /** From the request's creation to its verdict. */
  time_to_decision_ms: z.number().nonnegative().optional(),
  /** For `grant_used`: the decision that used the grant. */
  used_by: z.string().optional(),
});

/** A waiver's life: created, used by a call (the decision it changed), revoked, expired. */
export const WaiverEventSchema = z.object({
  event: z.enum(['created', 'used', 'revoked', 'expired']),
  waiver: z.string(),
  agent: z.string(),
  tool: z.string(),
  until: z.string(),
  reason: z.string().optional(),
  compensating: z.string().optional(),
  by: ApproverInfoSchema.optional(),
  /** For `used`: the decision the waiver changed, and what it would have been. */
  decision_id: z.string().optional(),
  waived_effect: z.enum(['deny', 'escalate']).optional(),
});

/**
 * A request a downstream server sent its client through the gateway (`sampling/createMessage`,
 * `elicitation/create`): `requested` before it is relayed to the client whose call is in flight,
 * then `answered` (with what came back), `refused` (no client to ask, or one that cannot answer) or
 * `failed` (the client answered with an error, or the request was cancelled).
 */
export const RelayInfoSchema = z.object({
  event: z.enum(['requested', 'answered', 'refused', 'failed']),
  method: z.string(),
  /** The downstream server that asked. */
  server: z.string(),
  /** `sha256:` of the request's params (RFC 8785). */
  params_digest: Sha256Schema,
  /** On `requested`: what the client is asked, masked like arguments (the elicitation's message, the last sampling message's text). */
  message: z.string().optional(),
  /** On `answered`: the client's elicitation action, or the model that answered a sampling request. */
  action: z.string().optional(),
  model: z.string().optional(),
  result_digest: Sha256Schema.optional(),
  duration_ms: z.number().nonnegative().optional(),
  /** On `refused` and `failed`: a stable code and one line. */
  code: z.string().optional(),
  error: z.string().optional(),
});

/** Fields a PEP supplies; `seq`, `prev` and `hash` are assigned by the store at append time. */
export const RecordBodySchema = z.object({
  v: z.literal(EVIDENCE_VERSION),
  id: z.string(),
  kind: z.enum([
    'decision',
    'action',
    'outcome',
    'approval',
    'waiver',
    'policy',
    'drift',
    'chain',
    'definition',
    'relay',
  ]),
  chain: z.string(),
  time: z.string(),
  pep: PepInfoSchema,
  subject: SubjectSchema.optional(),
  request: RequestSchema.optional(),
  decision: DecisionInfoSchema.optional(),
  action: ActionInfoSchema.optional(),
  outcome: OutcomeInfoSchema.optional(),
  chain_event: ChainEventSchema.optional(),
  policy_event: PolicyEventSchema.optional(),
  drift: DriftInfoSchema.optional(),
  definition: DefinitionFindingSchema.optional(),
  approval: ApprovalEventSchema.optional(),
  waiver: WaiverEventSchema.optional(),
  relay: RelayInfoSchema.optional(),
});
export type RecordBody = z.infer<typeof RecordBodySchema>;

/** The fields every record starts with: `time` now and a fresh UUIDv7 `id`, unless given. */
export function recordBase(
  kind: RecordBody['kind'],
  chain: string,
  pep: PepInfo,
  time: Date = new Date(),
  id: string = randomUUIDv7(),
): Pick<RecordBody, 'v' | 'id' | 'kind' | 'chain' | 'time' | 'pep'> {
  return { v: EVIDENCE_VERSION, id, kind, chain, time: time.toISOString(), pep };
}

/** A record as stored: one JSON line, linked to the one before it. */
export const EvidenceRecordSchema = RecordBodySchema.extend({
  seq: z.number().int().nonnegative(),
  /** `hash` of the record before this one in the same log, or null for the first. */
  prev: Sha256Schema.nullable(),
  /** SHA-256 of the RFC 8785 canonical form of the record without `hash`. */
  hash: Sha256Schema,
});
export type EvidenceRecord = z.infer<typeof EvidenceRecordSchema>;

/** How an append is acknowledged. */
export interface AppendOptions {
  /**
   * false: resolve once the record is written, and let the next fdatasync (another record's, a flush,
   * or one a moment later) make it durable. For records of what already happened (action, outcome),
   * which nothing waits on; a decision record is always durable before its call is forwarded.
   */
  durable?: boolean;
}

/** Where records go. The embedded default is a local append-only JSONL log. */
export interface EvidenceSink {
  /** Appends one record; resolves once it is durable per the fsync setting, rejects if it cannot be. */
  append(body: RecordBody, options?: AppendOptions): Promise<EvidenceRecord>;
  /** Resolves once every append made so far has settled. */
  flush(): Promise<void>;
  /** Signs a checkpoint over everything written so far, where the sink keeps checkpoints. */
  checkpoint?(): Promise<void>;
  close(): Promise<void>;
}
