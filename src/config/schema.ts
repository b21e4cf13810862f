import { z } from 'zod';
import { EffectSchema, ModeSchema } from '../core/effect.js';
import { REASON_CODES } from '../core/reason-codes.js';
import { IdentityConfigSchema } from './identity-schema.js';
import {
  AdminConfigSchema,
  ApprovalSettingsSchema,
  ApprovalsConfigSchema,
  ToolApprovalSchema,
} from './approvals-schema.js';

/**
 * Shapes of mcpgov's own files: `mcpgov.yaml`, `registries/*.yaml`, `policies/*.yaml`.
 * Every object is strict: an unknown key is an error naming the file and the key path, so a typo in a
 * security control never silently turns it off.
 */

/** A stable reason code: lower snake case, as documented in src/core/reason-codes.ts. */
export const ReasonCodeSchema = z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be a snake_case code');

export const RiskTierSchema = z.enum(['low', 'medium', 'high', 'critical']);

/** What a tool definition that changed since it was pinned or first seen gets: blocked, or only recorded. */
const OnChangeSchema = z.enum(['block', 'observe']);
/** What a tool definition with hidden instructions gets: hidden from agents, or left to stage 2. */
const OnPoisonedSchema = z.enum(['hide', 'semantic']);

/**
 * How an enforcement point treats the tool definitions a downstream server presents (rug pulls and
 * tool poisoning); the top-level `definitions` applies to every server, a server's own overrides it.
 */
export const DefinitionsConfigSchema = z.strictObject({
  on_change: OnChangeSchema.default('block'),
  on_poisoned: OnPoisonedSchema.default('hide'),
});
export type DefinitionsConfig = z.infer<typeof DefinitionsConfigSchema>;

const ServerBase = {
  /** Per-call timeout for this server in milliseconds (progress notifications reset it). */
  timeout_ms: z.number().int().positive().optional(),
  /** This server's own `definitions` settings, over the top-level ones. */
  definitions: z
    .strictObject({ on_change: OnChangeSchema.optional(), on_poisoned: OnPoisonedSchema.optional() })
    .optional(),
  /**
   * `false`: the gateway serves this server's tools and prompts under their own names, not
   * `<server>__<name>` (default `true`). One server at most may set it: two would share one namespace.
   */
  prefix: z.boolean().optional(),
};

const count = () => z.number().int().positive();

/**
 * What one caller may send and hold at an enforcement point (README: Limits). Every limit applies in
 * every mode: input past one cannot be governed safely, so it is refused, never merely observed.
 */
export const LimitsSchema = z.strictObject({
  /** Largest accepted JSON-RPC message (HTTP body or stdio line), in bytes. */
  max_message_bytes: count().default(1024 * 1024),
  /** Largest `tools/call` arguments, as bytes of their RFC 8785 form; larger calls are denied and recorded. */
  max_argument_bytes: count().default(256 * 1024),
  /**
   * Deepest nesting of `tools/call` arguments (the arguments object is depth 1). Capped well below the
   * evidence writer's canonicalization depth, so the arguments of any call decided stay recordable.
   */
  max_argument_depth: count().max(256).default(64),
  /** Largest tool result from a downstream server, as bytes of its RFC 8785 form; larger ones are withheld. */
  max_result_bytes: count().default(8 * 1024 * 1024),
  /**
   * Largest single message a stdio downstream server may send (a tool list, a result, a resource):
   * a longer line is dropped as it arrives, never held whole, and the call waiting for it fails.
   */
  max_downstream_message_bytes: count().default(32 * 1024 * 1024),
  /** Tool calls one session may have in flight; more are answered with a JSON-RPC error. */
  max_concurrent_calls_per_session: count().default(32),
  /** Tool calls one agent may have in flight over all its sessions. */
  max_concurrent_calls_per_agent: count().default(128),
  /** Open Streamable HTTP sessions in total; a new one past it is refused with HTTP 503. */
  max_sessions: count().default(1000),
  /** Open sessions per caller (verified identity, or remote address when unverified): HTTP 429 past it. */
  max_sessions_per_caller: count().default(64),
  /** A Streamable HTTP session with no request and no open stream for this long is closed. */
  session_idle_seconds: count().default(600),
});
export type LimitsConfig = z.infer<typeof LimitsSchema>;

/** A downstream MCP server launched as a child process speaking stdio. */
export const StdioServerSchema = z.strictObject({
  /** Optional, as MCP client configs write it (VS Code `mcp.json`): `stdio` needs `command`. */
  type: z.literal('stdio').optional(),
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  cwd: z.string().optional(),
  /**
   * The folders the server works in (for server-filesystem: its directory arguments, in order).
   * Path rules resolve a relative path against them, as the server does; without them a relative
   * path is never inside a folder.
   */
  roots: z.array(z.string().min(1)).default([]),
  ...ServerBase,
});

/** A downstream MCP server reached over Streamable HTTP (http/https). */
export const HttpServerSchema = z.strictObject({
  /** Optional, as MCP client configs write it: `http` (Streamable HTTP) needs `url`. */
  type: z.literal('http').optional(),
  url: z.url({ protocol: /^https?$/ }),
  headers: z.record(z.string(), z.string()).default({}),
  ...ServerBase,
});

/**
/**
 * A stdio server named by its npm package (`name@version`) instead of a command: started with node from
 * a local install when there is one, else with `npx -y name@version` (src/config/package-server.ts).
 */
export const PackageServerSchema = StdioServerSchema.omit({ command: true }).extend({
  package: z
    .string()
    .regex(/^(?:@[\w.-]+\/)?[\w.-]+@[\w.+-]+$/, 'must be an npm package and its version: name@version'),
});

/**
 * A server entry: stdio (a command, or an npm package) or Streamable HTTP. The keys of MCP client
 * configs (`type`, `command`, `url`) are checked against each other first, so a mismatch reads as one
 * clear problem rather than as no shape fitting.
 */
export const ServerSchema = z.preprocess(
  (entry, ctx) => {
    const problem = serverShapeProblem(entry);
    if (problem) ctx.addIssue({ code: 'custom', message: problem.message, path: problem.path, input: entry });
    return entry;
  },
  z.union([StdioServerSchema, PackageServerSchema, HttpServerSchema]),
);

/** What is wrong with a server entry's `type`, `command`, `package` and `url` together, if anything. */
function serverShapeProblem(entry: unknown): { path: string[]; message: string } | undefined {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return undefined;
  const has = (key: string) => Object.hasOwn(entry, key);
  const type = (entry as { type?: unknown }).type;
  const stdio = has('command') || has('package');
  if (type === 'sse')
    return {
      path: ['type'],
      message: "sse is not supported: only Streamable HTTP (type: http, the server's /mcp URL) is",
    };
  if (type !== undefined && type !== 'stdio' && type !== 'http')
    return { path: ['type'], message: 'must be stdio or http (Streamable HTTP)' };
  if (type === 'http' && !has('url')) return { path: ['url'], message: 'type http needs a url' };
  if (type === 'stdio' && !stdio) return { path: ['command'], message: 'type stdio needs a command' };
  if (has('command') && has('package'))
    return { path: [], message: 'give command or package (a stdio server), not both' };
  if (stdio && has('url'))
    return { path: [], message: 'give command (a stdio server) or url (Streamable HTTP), not both' };
  return undefined;
}
/** A server as the config file may state it. */
export type ServerEntry = z.infer<typeof ServerSchema>;
/** A server as an enforcement point starts it (a package server resolved to its command). */
export type ServerConfig = StdioServerConfig | HttpServerConfig;
export type StdioServerConfig = z.infer<typeof StdioServerSchema>;
export type HttpServerConfig = z.infer<typeof HttpServerSchema>;

/** Server names become tool-name prefixes (`<server>__<tool>`), so they may not contain `__`. */
export const ServerNameSchema = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]|_(?!_))*$/i, 'letters, digits, "-" and single "_" only');

/** An OpenAI-compatible chat-completions endpoint used as the LLM judge. */
export const LlmJudgeConfigSchema = z.strictObject({
  /** Base URL of any OpenAI-compatible API, e.g. https://api.openai.com/v1 or a local server. */
  base_url: z.url({ protocol: /^https?$/ }).optional(),
  model: z.string().min(1),
  /** Name of the environment variable holding the API key (never the key itself). */
  api_key_env: z.string().default('OPENAI_API_KEY'),
  timeout_ms: z.number().int().positive().default(10_000),
  max_retries: z.number().int().min(0).max(5).default(1),
  /** Prices in USD per million tokens, for cost accounting in evidence. */
  price: z
    .strictObject({
      prompt_per_mtok: z.number().nonnegative(),
      completion_per_mtok: z.number().nonnegative(),
    })
    .optional(),
  /** Folder of recorded judge responses (cassettes), for `replay` and `--record`. */
  cassettes: z.string().default('./evals/cassettes'),
});
export type LlmJudgeConfig = z.infer<typeof LlmJudgeConfigSchema>;

/** Stage 2: which verifier runs where the tool or a rule asks for it, or stage 1 flagged the call. */
export const SemanticConfigSchema = z.strictObject({
  /** `heuristic` (offline, the default), `llm` (needs `llm`), `replay` (cassettes only), `off`. */
  verifier: z.enum(['heuristic', 'llm', 'replay', 'off']).default('heuristic'),
  /** A verifier that takes longer than this fails, and the tool's `semantic_fail` decides. */
  timeout_ms: z.number().int().positive().default(2000),
  /** Verdicts cached per (agent, tool, args digest, intent digest, bundle digest). */
  cache_entries: z.number().int().min(0).default(10_000),
  /** How much of a session the verifier sees: the last N calls, each result cut to this many characters. */
  history: z
    .strictObject({
      calls: z.number().int().min(0).default(20),
      result_chars: z.number().int().min(0).default(4000),
    })
    .default({ calls: 20, result_chars: 4000 }),
  llm: LlmJudgeConfigSchema.optional(),
});
export type SemanticConfig = z.infer<typeof SemanticConfigSchema>;

/** A bundle or channel name: it appears in folder names and URL paths, so it stays plain. */
export const PolicyNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/i, 'letters, digits, ".", "_" and "-" only (at most 64)');

/** Requirements a bundle meets before `mcpgov policy publish` points a channel at it. */
export const ChannelConfigSchema = z.strictObject({
  /** Distinct approvers whose signatures a bundle needs (each with their own key, none the build key). */
  approvals: z.number().int().min(0).default(1),
  /** Who may approve for this channel (names under `keys.approvers`); default: every configured approver. */
  approvers: z.array(PolicyNameSchema).optional(),
  /** How long a published pointer is valid: an enforcement point refuses an expired one (freeze attack). */
  ttl_hours: z
    .number()
    .positive()
    .default(24 * 30),
});
export type ChannelConfig = z.infer<typeof ChannelConfigSchema>;

/** Pinned public keys (JWKS files) of everyone who signs something in the policy lifecycle. */
export const PolicyKeysSchema = z.strictObject({
  /** Keys that sign bundles (the build key); a bundle signed by any other key is refused. */
  signers: z.string().optional(),
  /** Keys that sign channel pointers (the release key, distinct from the build key). */
  publishers: z.string().optional(),
  /** Each approver's keys, by approver name: an approval counts only under its own name's key. */
  approvers: z.record(PolicyNameSchema, z.string()).default({}),
});

/** An enforcement point allowed to report its policy status to this gateway. */
export const ReporterConfigSchema = z.strictObject({
  /** `sha256:<hex>` of the bearer token the reporter presents; the token itself never sits in config. */
  token_sha256: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be sha256:<64 hex>'),
  /**
   * The PEP's evidence signing keys (a JWKS file). With it, a sidecar's control channel forwards its
   * evidence log and the gateway keeps a verified replica under `<evidence dir>/peps/<id>/`; without
   * it, forwarded evidence is refused (nothing is stored that could not be verified).
   */
  evidence_jwks: z.string().optional(),
});

/**
 * The policy lifecycle: sources that `mcpgov policy build` compiles, the release settings
 * (registry, keys, channels), and what this enforcement point enforces. Without `bundle` or
 * `channel` it enforces the sources directly; with either, it loads signed bundles only.
 */
export const PoliciesConfigSchema = z.strictObject({
  /** Rule files (`*.yaml`) and policy tests (`tests/*.yaml`). */
  sources: z.string().default('./policies'),
  /** The bundle name: cited by every decision record. */
  name: PolicyNameSchema.default('mcpgov'),
  /** The scope bundles are signed for; an enforcement point refuses a bundle signed for another. */
  scope: PolicyNameSchema.default('default'),
  /** Local registry folder: published bundles, channel pointers and their history. */
  registry: z.string().default('./.mcpgov/policy-registry'),
  keys: PolicyKeysSchema.default({ approvers: {} }),
  channels: z.record(PolicyNameSchema, ChannelConfigSchema).default({}),
  /**
   * What to enforce: a bundle folder (or `file:` URL), or with `channel` a registry: a folder,
   * a `file:` URL, or the `http(s):` URL of a gateway's registry endpoint. Default with `channel`:
   * the local `registry`.
   */
  bundle: z.string().min(1).optional(),
  /** Follow this channel's signed pointer. */
  channel: PolicyNameSchema.optional(),
  /** How often the source is checked for a new bundle or pointer. */
  poll_seconds: z.number().positive().default(10),
  /** Where the last good bundle is kept, so the enforcement point starts from it offline. */
  cache: z.string().default('./.mcpgov/policy-cache'),
  /** A gateway's `/policy/status` URL this enforcement point reports its policy status to. */
  report: z.url({ protocol: /^https?$/ }).optional(),
  /**
   * Environment variable holding this enforcement point's bearer token for a gateway's policy
   * endpoints (status reports and the registry); the token itself never sits in config.
   */
  token_env: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
    .optional(),
  /** Enforcement points allowed to report to this gateway, by PEP id; any other is refused. */
  reporters: z.record(z.string().min(1), ReporterConfigSchema).default({}),
  /** When a PEP counts as drifted: running another digest than the channel's, or silent, for this long. */
  drift: z
    .strictObject({
      grace_seconds: z.number().positive().default(60),
      stale_seconds: z.number().positive().default(180),
    })
    .default({ grace_seconds: 60, stale_seconds: 180 }),
});
export type PoliciesConfig = z.infer<typeof PoliciesConfigSchema>;

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
  /** The sources folder, or the policy lifecycle settings (see PoliciesConfigSchema). */
  policies: z.preprocess(
    (v) => (v === undefined ? {} : typeof v === 'string' ? { sources: v } : v),
    PoliciesConfigSchema,
  ),
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
  /** Who may call: tokens, keys, and the HTTP listener's OAuth resource-server metadata. */
  identity: IdentityConfigSchema.prefault({}),
  limits: LimitsSchema.prefault({}),
  /** Named filesystem paths, resolved against the config file's folder, that rules read as `paths.<name>`. */
  paths: z.record(z.string(), z.string()).default({}),
  /**
   * Folders copied into the state root when missing, `{ <target under the state root>: <source beside
   * the config> }`: the demo's files, so the demo of an installed mcpgov works on the user's own copy.
   */
  seed: z.record(z.string().min(1), z.string().min(1)).default({}),
  pep: z.strictObject({ id: z.string().min(1).optional() }).default({}),
  /** A sidecar's control channel to its gateway: policy pushes, status, and evidence forwarding. */
  control: z
    .strictObject({
      /** The gateway's control endpoint, e.g. ws://127.0.0.1:8787/control. */
      gateway: z.url({ protocol: /^wss?$/ }),
      /** Environment variable holding this PEP's bearer token (its hash is in the gateway's reporters). */
      token_env: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
        .default('MCPGOV_CONTROL_TOKEN'),
    })
    .optional(),
  semantic: SemanticConfigSchema.default({
    verifier: 'heuristic',
    timeout_ms: 2000,
    cache_entries: 10_000,
    history: { calls: 20, result_chars: 4000 },
  }),
  definitions: DefinitionsConfigSchema.default({ on_change: 'block', on_poisoned: 'hide' }),
  servers: z.record(ServerNameSchema, ServerSchema).default({}),
  /** A client config's key, refused with the way to bring its servers in. */
  mcpServers: z
    .never({ error: 'a client config key: list servers under `servers`, or run `mcpgov init --from FILE`' })
    .optional(),
  /** Where shared state is kept: embedded by default (files under `dir`), or on an existing engine. */
  state: z
    .strictObject({
      /** Approvals, waivers and daily spend totals; default: `state` beside the evidence folder. */
      dir: z.string().optional(),
      /** Rate and spend counters shared by replicas: a Redis URL; default: embedded (memory + `dir`). */
      counters: z
        .string()
        .regex(
          /^rediss?:\/\/\S+$/,
          'a Redis URL: redis://host:port or rediss://host:port (?prefix=, ?timeout_ms=)',
        )
        .optional(),
      /** Approvals and waivers in PostgreSQL (`postgres://...`, `?schema=` names the schema; default `mcpgov`). */
      approvals: z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
        .optional(),
      /**
       * Every evidence record also streamed to NATS JetStream (`nats://host:port`, `?stream=` names the
       * stream; default `MCPGOV_EVIDENCE`). The local log stays the one written first.
       */
      evidence_stream: z
        .string()
        .regex(/^(nats|tls):\/\/\S+$/, 'a NATS URL: nats://host:port or tls://host:port')
        .optional(),
    })
    .default({}),
  /** Approvals and waivers: who decides escalations, how, and what exceptions they may grant. */
  approvals: ApprovalsConfigSchema.prefault({}),
  /** The admin listener (approvals API and approver console); off unless set. */
  admin: AdminConfigSchema.optional(),
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
  /**
   * When calls need a person (`never`, `flagged`, `always`), or an object saying how: `{ when, mode:
   * hold | return, timeout, approvers, tier, user_confirmation }` (README: Approvals and waivers).
   */
  approval: ToolApprovalSchema.default('never'),
  mode: ModeSchema.optional(),
  semantic: z.enum(['off', 'flagged', 'required']).default('off'),
  /** What a semantic check that fails or times out decides for this tool: never allow. */
  semantic_fail: z.enum(['escalate', 'deny']).default('escalate'),
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
  /**
   * Flow labels of the tool's results (README: Information flow): `integrity` defaults to
   * `untrusted` (a result is data nobody vouched for), `confidentiality` to what `data_classes` say.
   */
  results: z
    .strictObject({
      integrity: z.enum(['trusted', 'untrusted']).optional(),
      confidentiality: z.enum(['public', 'internal', 'secret']).optional(),
    })
    .optional(),
  /**
   * The tool moves data out of the session (send, post, share, transfer, write outside): `targets`
   * are the arguments that say where to (recipient, URL, channel; all of them when empty), and
   * `external` whether that is outside the organisation.
   */
  sink: z
    .strictObject({
      kind: z.enum(['send', 'post', 'share', 'transfer', 'write_outside']),
      targets: z.array(z.string().min(1)).default([]),
      external: z.boolean().default(true),
    })
    .optional(),
});
export type ToolEntry = z.infer<typeof ToolEntrySchema>;

/**
 * A resource registry entry: what reading the resources whose URIs match `uri` (a glob) involves.
 * A read that no entry matches is governed as the server's tools are: allowed to an agent that may
 * use at least one of them.
 */
export const ResourceEntrySchema = z.strictObject({
  uri: z.string().min(1),
  /** Only this server's resources (any server's when left out). */
  server: z.string().optional(),
  description: z.string().optional(),
  owner: z.string().min(1),
  risk_tier: RiskTierSchema,
  data_classes: z.array(z.string()).default([]),
  mode: ModeSchema.optional(),
});
export type ResourceEntry = z.infer<typeof ResourceEntrySchema>;

export const ToolsFileSchema = z.strictObject({
  tools: z.array(ToolEntrySchema).default([]),
  /**
   * Resources by URI pattern, first match in file order (`resources/read` is governed like a call).
   * No default: a registry without the section keeps the policy digest it had before the section existed.
   */
  resources: z.array(ResourceEntrySchema).optional(),
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

/**
 * What a matching rule does: one of the decision's effects, or `flag`, which lets the call continue
 * marked for a closer look (tools with `semantic: flagged` get stage 2, `approval: flagged` escalate).
 */
export const RuleEffectSchema = z.enum([...EffectSchema.options, 'flag']);
/** What a matching rule does. */
export type RuleEffect = z.infer<typeof RuleEffectSchema>;

export const RuleSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/i, 'letters, digits, ".", "_" and "-" only'),
  description: z.string().min(1),
  when: JsonLogicSchema,
  effect: RuleEffectSchema,
  /** The rule's own reason code; mcpgov's own codes are reserved, so a rule cannot pose as a built-in check. */
  reason: ReasonCodeSchema.refine((code) => !Object.hasOwn(REASON_CODES, code), {
    message: "is one of mcpgov's own reason codes; a rule needs its own",
  }),
  mode: ModeSchema.optional(),
  /** How this rule's escalations reach a person, over the tool's settings. */
  approval: ApprovalSettingsSchema.optional(),
});
export type RuleSource = z.infer<typeof RuleSchema>;

export const PolicyFileSchema = z.strictObject({
  rules: z.array(RuleSchema).default([]),
});
export type PolicyFile = z.infer<typeof PolicyFileSchema>;
