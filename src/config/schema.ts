import { z } from 'zod';

/**
 * Shapes of mcpgov's own files: `mcpgov.yaml`, `registries/*.yaml`, `policies/*.yaml`.
 * Every object is strict: an unknown key is an error naming the file and the key path, so a typo in a
 * security control never silently turns it off.
 */

/** A stable reason code: lower snake case, as documented in src/pipeline/reason-codes.ts. */
export const ReasonCodeSchema = z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be a snake_case code');

/** Enforcement mode: observe records and forwards; enforce blocks a deny and holds an escalate. */
export const ModeSchema = z.enum(['observe', 'enforce']);
export type Mode = z.infer<typeof ModeSchema>;

export const RiskTierSchema = z.enum(['low', 'medium', 'high', 'critical']);

const ServerBase = {
  /** Per-call timeout for this server in milliseconds (progress notifications reset it). */
  timeout_ms: z.number().int().positive().optional(),
};

/** A downstream MCP server launched as a child process speaking stdio. */
export const StdioServerSchema = z.strictObject({
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  cwd: z.string().optional(),
  ...ServerBase,
});

/** A downstream MCP server reached over Streamable HTTP (http/https). */
export const HttpServerSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  headers: z.record(z.string(), z.string()).default({}),
  ...ServerBase,
});

export const ServerSchema = z.union([StdioServerSchema, HttpServerSchema]);
export type ServerConfig = z.infer<typeof ServerSchema>;
export type StdioServerConfig = z.infer<typeof StdioServerSchema>;
export type HttpServerConfig = z.infer<typeof HttpServerSchema>;

/** Server names become tool-name prefixes (`<server>__<tool>`), so they may not contain `__`. */
export const ServerNameSchema = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]|_(?!_))*$/i, 'letters, digits, "-" and single "_" only');

const HostPortSchema = z.string().regex(/^[^\s:]+:\d{1,5}$|^\[[0-9a-f:]+\]:\d{1,5}$/i, 'must be HOST:PORT');

export const ConfigSchema = z.strictObject({
  listen: z
    .strictObject({
      http: HostPortSchema.optional(),
      stdio: z.boolean().default(false),
      /** Extra Host header values accepted besides loopback names (DNS-rebinding protection). */
      allowed_hosts: z.array(z.string()).default([]),
      /** Extra Origin values accepted besides loopback origins. */
      allowed_origins: z.array(z.string()).default([]),
    })
    .default({ stdio: false, allowed_hosts: [], allowed_origins: [] }),
  registries: z.string().default('./registries'),
  policies: z.string().default('./policies'),
  evidence: z
    .strictObject({
      dir: z.string().default('./.mcpgov/evidence'),
      fsync: z.enum(['always', 'batch', 'none']).default('batch'),
      /** Private Ed25519 JWK that signs checkpoints; without one, a key is generated under `dir/keys/`. */
      key: z.string().optional(),
      /** A checkpoint is signed every `every_records` records or `every_seconds` seconds. */
      checkpoint: z
        .strictObject({
          every_records: z.number().int().positive().default(1000),
          every_seconds: z.number().positive().default(5),
        })
        .default({ every_records: 1000, every_seconds: 5 }),
      /** Segments past this size are sealed at the next checkpoint. */
      segment_max_bytes: z
        .number()
        .int()
        .positive()
        .default(64 * 1024 * 1024),
    })
    .default({
      dir: './.mcpgov/evidence',
      fsync: 'batch',
      checkpoint: { every_records: 1000, every_seconds: 5 },
      segment_max_bytes: 64 * 1024 * 1024,
    }),
  mode: ModeSchema.default('observe'),
  identity: z
    .strictObject({
      /** Callers without a verified token act as this agent, marked unverified in evidence. */
      default_agent: z.string().optional(),
      /** JWKS file that verifies bearer tokens (HTTP `Authorization`, or `MCPGOV_TOKEN` on stdio). */
      jwks: z.string().optional(),
      issuer: z.string().optional(),
      audience: z.string().optional(),
    })
    .default({}),
  limits: z
    .strictObject({
      /** Largest accepted JSON-RPC message (HTTP body or stdio line), in bytes. */
      max_message_bytes: z
        .number()
        .int()
        .positive()
        .default(1024 * 1024),
    })
    .default({ max_message_bytes: 1024 * 1024 }),
  /** Named filesystem paths, resolved against the config file's folder, that rules read as `paths.<name>`. */
  paths: z.record(z.string(), z.string()).default({}),
  pep: z.strictObject({ id: z.string().min(1).optional() }).default({}),
  servers: z.record(ServerNameSchema, ServerSchema).default({}),
});
export type Config = z.infer<typeof ConfigSchema>;

export const ToolCapsSchema = z.strictObject({
  rate_per_minute: z.number().int().positive().optional(),
  cost_per_call: z.number().nonnegative().optional(),
  spend_per_day: z.number().nonnegative().optional(),
});

/** One tool registry entry; `name` is an exposed name (`<server>__<tool>`) or a glob over them. */
export const ToolEntrySchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  owner: z.string().min(1),
  risk_tier: RiskTierSchema,
  scopes: z.array(z.string()).default([]),
  data_classes: z.array(z.string()).default([]),
  caps: ToolCapsSchema.default({}),
  approval: z.enum(['never', 'flagged', 'always']).default('never'),
  mode: ModeSchema.optional(),
  semantic: z.enum(['off', 'flagged', 'required']).default('off'),
  definition_digest: z
    .string()
    .regex(/^sha256:[0-9a-f]{64}$/, 'must be sha256:<64 hex>')
    .optional(),
  fail_open: z.boolean().default(false),
  /**
   * A check of what a forwarded call achieved: json-logic over `{result, call}` (e.g. that a written
   * file's path is reported back). Its result is recorded as an `outcome` record.
   */
  outcome: z.strictObject({ description: z.string().min(1), check: z.json() }).optional(),
});
export type ToolEntry = z.infer<typeof ToolEntrySchema>;

export const ToolsFileSchema = z.strictObject({
  tools: z.array(ToolEntrySchema).default([]),
  /** Named tool sets: each member is an exposed tool name or a glob. */
  groups: z.record(z.string(), z.array(z.string())).default({}),
});
export type ToolsFile = z.infer<typeof ToolsFileSchema>;

export const AgentEntrySchema = z.strictObject({
  id: z.string().min(1),
  owner: z.string().min(1),
  description: z.string().optional(),
  intents: z.array(z.string()).default([]),
  tool_groups: z.array(z.string()).default([]),
  scopes: z.array(z.string()).default([]),
  clearance: z.array(z.string()).default([]),
  /** Optional total spend per UTC day across every tool. */
  spend_per_day: z.number().nonnegative().optional(),
  /** Identity mapping: a verified token maps to this agent by `sub`, `spiffe_id` or claim values. */
  sub: z.string().optional(),
  spiffe_id: z.string().startsWith('spiffe://').optional(),
  token_claims: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
});
export type AgentEntry = z.infer<typeof AgentEntrySchema>;

export const AgentsFileSchema = z.strictObject({
  agents: z.array(AgentEntrySchema).default([]),
});
export type AgentsFile = z.infer<typeof AgentsFileSchema>;

/** A json-logic expression; its operators are checked by the rule compiler, not by zod. */
export const JsonLogicSchema = z.json();

export const RuleSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/i, 'letters, digits, ".", "_" and "-" only'),
  description: z.string().min(1),
  when: JsonLogicSchema,
  effect: z.enum(['allow', 'deny', 'escalate']),
  reason: ReasonCodeSchema,
  mode: ModeSchema.optional(),
});
export type RuleSource = z.infer<typeof RuleSchema>;

export const PolicyFileSchema = z.strictObject({
  rules: z.array(RuleSchema).default([]),
});
export type PolicyFile = z.infer<typeof PolicyFileSchema>;
