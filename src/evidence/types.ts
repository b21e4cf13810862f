import { z } from 'zod';

/** Version tag of every evidence record. */
export const EVIDENCE_VERSION = 'mcpgov.evidence/v1';

const Sha256Schema = z.string().regex(/^sha256:[0-9a-f]{64}$/);

/** The enforcement point that wrote a record. */
export const PepInfoSchema = z.object({
  id: z.string(),
  kind: z.enum(['gateway', 'sidecar', 'cli']),
  version: z.string(),
});

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
    intent: z.string().optional(),
  }),
});

export const DecisionInfoSchema = z.object({
  id: z.string(),
  effect: z.enum(['allow', 'deny', 'escalate']),
  mode: z.enum(['observe', 'enforce']),
  enforced: z.boolean(),
  reasons: z.array(z.string()),
  rules: z.array(z.string()),
  stages: z.array(z.object({ stage: z.string(), kind: z.string(), code: z.string().optional() })),
  bundle: z.object({ name: z.string(), revision: z.string(), digest: Sha256Schema }),
  semantic: z
    .object({
      verifier: z.string(),
      model: z.string().optional(),
      verdict: z.string(),
      latency_ms: z.number(),
    })
    .optional(),
  eval_us: z.number().nonnegative(),
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
});

/** A session's chain opening or closing. */
export const ChainEventSchema = z.object({
  event: z.enum(['open', 'close']),
  /** Calls made in the session, on close. */
  calls: z.number().int().nonnegative().optional(),
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

/** Fields a PEP supplies; `seq`, `prev` and `hash` are assigned by the store at append time. */
export const RecordBodySchema = z.object({
  v: z.literal(EVIDENCE_VERSION),
  id: z.string(),
  kind: z.enum(['decision', 'action', 'outcome', 'approval', 'waiver', 'policy', 'drift', 'chain']),
  chain: z.string(),
  time: z.string(),
  pep: PepInfoSchema,
  subject: SubjectSchema.optional(),
  request: RequestSchema.optional(),
  decision: DecisionInfoSchema.optional(),
  action: ActionInfoSchema.optional(),
  outcome: OutcomeInfoSchema.optional(),
  chain_event: ChainEventSchema.optional(),
});
export type RecordBody = z.infer<typeof RecordBodySchema>;

/** A record as stored: one JSON line, linked to the one before it. */
export const EvidenceRecordSchema = RecordBodySchema.extend({
  seq: z.number().int().nonnegative(),
  /** `hash` of the record before this one in the same log, or null for the first. */
  prev: Sha256Schema.nullable(),
  /** SHA-256 of the RFC 8785 canonical form of the record without `hash`. */
  hash: Sha256Schema,
});
export type EvidenceRecord = z.infer<typeof EvidenceRecordSchema>;

/** Where records go. The embedded default is a local append-only JSONL log. */
export interface EvidenceSink {
  /** Appends one record; resolves once it is durable per the fsync setting, rejects if it cannot be. */
  append(body: RecordBody): Promise<EvidenceRecord>;
  /** Resolves once every append made so far has settled. */
  flush(): Promise<void>;
  /** Signs a checkpoint over everything written so far, where the sink keeps checkpoints. */
  checkpoint?(): Promise<void>;
  close(): Promise<void>;
}
