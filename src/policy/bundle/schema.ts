import { z } from 'zod';
import { PolicyNameSchema, ReasonCodeSchema } from '../../config/schema.js';
import { EffectSchema, ModeSchema } from '../../core/effect.js';

/**
 * Shapes of the policy lifecycle's files: the bundle manifest, its signature, approvals, channel
 * pointers and policy tests. They are our own files, so every object is strict.
 */

/** Format tag of a bundle's `.manifest`. */
export const BUNDLE_SPEC = 'mcpgov.bundle/v1';
/** The rule dialect a bundle is compiled for: hardened json-logic as `src/policy/json-logic.ts` runs it. */
export const ENGINE = 'mcpgov-json-logic/v1';
/** Format tag of a channel pointer. */
export const POINTER_SPEC = 'mcpgov.channel/v1';

/** The manifest: signed like content. */
export const MANIFEST_FILE = '.manifest';
/** The build key's signature over the content; not itself listed in it. */
export const SIGNATURES_FILE = '.signatures.json';
/** The approvers' signatures over the bundle digest; not listed in the bundle signature. */
export const APPROVALS_FILE = '.approvals.json';
/** The build's test report, inside every bundle. */
export const REPORT_FILE = 'tests/report.json';

/** JWS `typ` of a bundle signature: each kind of signature has its own, so none passes as another. */
export const BUNDLE_TYP = 'mcpgov-bundle+jws';
/** JWS `typ` of an approval. */
export const APPROVAL_TYP = 'mcpgov-approval+jws';
/** JWS `typ` of a channel pointer. */
export const POINTER_TYP = 'mcpgov-channel+jws';

/** `sha256:<hex>`: a content address. */
export const DigestSchema = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be sha256:<64 hex>');
const HexSchema = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');
/** A relative file name inside a bundle: forward slashes, no `..`, no leading slash. */
export const BundlePathSchema = z
  .string()
  .regex(/^(?!.*(^|\/)\.\.?(\/|$))[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, 'must be a plain relative path');

/** What a bundle is: who built it from what, and how its tests went. */
/** The eval report a bundle carries, when built with one. */
export const EVAL_REPORT_FILE = 'evals/report.json';

const EvalMetricsSchema = z.strictObject({
  precision: z.number(),
  recall: z.number(),
  f1: z.number(),
  fpr: z.number(),
  accuracy: z.number(),
});

export const ManifestSchema = z.strictObject({
  spec: z.literal(BUNDLE_SPEC),
  name: PolicyNameSchema,
  /** The git commit of the sources (`-dirty` when they differ from it), or `unversioned`. */
  revision: z.string().min(1),
  /** Monotonic per bundle name: an enforcement point never activates a lower one (except by rollback). */
  seq: z.number().int().positive(),
  engine: z.string().min(1),
  /** The mcpgov version that compiled the bundle. */
  compiler: z.string().min(1),
  source: z.strictObject({
    commit: z.string().optional(),
    dirty: z.boolean().optional(),
    repo: z.string().optional(),
    /** Source folders, relative to the repository (or config) root. */
    registries: z.string(),
    policies: z.string(),
  }),
  /** The content files by role; rule files in evaluation order. */
  files: z.strictObject({
    registries: z.strictObject({ tools: BundlePathSchema, agents: BundlePathSchema }),
    rules: z.array(BundlePathSchema),
    tests: z.array(BundlePathSchema),
  }),
  tests: z.strictObject({
    cases: z.number().int().nonnegative(),
    passed: z.number().int().nonnegative(),
    failed: z.number().int().nonnegative(),
    report: z.literal(REPORT_FILE),
  }),
  /**
   * How the semantic/pipeline eval suite scored when the bundle was built (`policy build
   * --eval-report`): decisions cite the bundle, so evidence says how the deciding configuration scored.
   */
  evals: z
    .strictObject({
      report: z.literal(EVAL_REPORT_FILE),
      /** `sha256:` of the report file's bytes (also covered by the bundle signature). */
      digest: z.string().regex(/^sha256:[0-9a-f]{64}$/),
      cases: z.number().int().nonnegative(),
      metrics: EvalMetricsSchema,
    })
    .optional(),
});
export type Manifest = z.infer<typeof ManifestSchema>;

/** The part of an `mcpgov evals run --json` report a bundle manifest summarises. */
export const EvalReportSummarySchema = z.looseObject({
  cases: z.number().int().nonnegative(),
  metrics: EvalMetricsSchema,
});

/** One signed file: its name and the SHA-256 of its bytes. */
export const FileEntrySchema = z.strictObject({
  algorithm: z.literal('SHA-256'),
  hash: HexSchema,
  name: BundlePathSchema,
});
export type FileEntry = z.infer<typeof FileEntrySchema>;

/** The payload of a bundle signature (OPA's signed-bundle model plus seq, scope and exp). */
export const SignaturePayloadSchema = z.strictObject({
  bundle: z.strictObject({ name: PolicyNameSchema, revision: z.string().min(1), seq: z.number().int() }),
  /** Seconds since the epoch, as in JWT. */
  exp: z.number().int(),
  files: z.array(FileEntrySchema).min(1),
  iat: z.number().int(),
  scope: PolicyNameSchema,
});
export type SignaturePayload = z.infer<typeof SignaturePayloadSchema>;

/** `.signatures.json`: exactly one compact JWS, as OPA bundles carry it. */
export const SignaturesFileSchema = z.strictObject({ signatures: z.array(z.string()) });

/** The payload of one approver's signature over a bundle digest. */
export const ApprovalPayloadSchema = z.strictObject({
  approver: PolicyNameSchema,
  bundle: z.strictObject({
    digest: DigestSchema,
    name: PolicyNameSchema,
    revision: z.string().min(1),
    seq: z.number().int(),
  }),
  iat: z.number().int(),
});
export type ApprovalPayload = z.infer<typeof ApprovalPayloadSchema>;

/** `.approvals.json`: one compact JWS per approver. */
export const ApprovalsFileSchema = z.strictObject({ approvals: z.array(z.string()) });

/** A signed channel pointer: which approved bundle a channel runs, in a monotonic order. */
export const PointerPayloadSchema = z.strictObject({
  approved_by: z.array(PolicyNameSchema),
  bundle_digest: DigestSchema,
  channel: PolicyNameSchema,
  /** Strictly increasing per channel: a lower one is a replay. */
  channel_seq: z.number().int().positive(),
  exp: z.number().int(),
  iat: z.number().int(),
  name: PolicyNameSchema,
  revision: z.string().min(1),
  /** True when the pointer deliberately names an older bundle: only then may its seq go down. */
  rollback: z.boolean().optional(),
  scope: PolicyNameSchema,
  seq: z.number().int().positive(),
  v: z.literal(POINTER_SPEC),
});
export type PointerPayload = z.infer<typeof PointerPayloadSchema>;

/** The caller and call a policy test decides. */
export const PolicyTestInputSchema = z.strictObject({
  /** The registry agent the caller acts as, unverified (like the configured default agent). */
  agent: z.string().min(1).optional(),
  /** A verified caller instead: mapped to an agent as a token would be. */
  identity: z
    .strictObject({
      iss: z.string().optional(),
      sub: z.string().optional(),
      spiffe_id: z.string().optional(),
      scopes: z.array(z.string()).optional(),
      claims: z.record(z.string(), z.json()).default({}),
    })
    .optional(),
  /** Exposed tool name, `<server>__<tool>`. */
  tool: z.string().min(1),
  arguments: z.record(z.string(), z.json()).default({}),
  session: z
    .strictObject({
      intent: z.string().optional(),
      /** Calls made earlier in the session. */
      call_count: z.number().int().nonnegative().default(0),
      /** Tools called earlier in the session, oldest first. */
      tools: z.array(z.string()).default([]),
    })
    .default({ call_count: 0, tools: [] }),
  /** When the call happens (ISO 8601); default 2026-01-05T12:00:00Z, a Monday noon. */
  time: z.iso.datetime({ offset: true }).optional(),
  /** The live tool's definition digest; default: the tool's pin, so the pin holds. */
  definition_digest: DigestSchema.optional(),
  /** Named paths for this case, over the file's `paths`. */
  paths: z.record(z.string(), z.string()).optional(),
  /** Server roots for this case, over the file's `roots`. */
  roots: z.record(z.string(), z.array(z.string())).optional(),
});
export type PolicyTestInput = z.infer<typeof PolicyTestInputSchema>;

/** One policy test: a note saying what it shows, the input, and the expected decision. */
export const PolicyTestCaseSchema = z.strictObject({
  note: z.string().min(1),
  input: PolicyTestInputSchema,
  expect: z.strictObject({
    effect: EffectSchema,
    /** The deciding reason code (the first of the decision's reasons). */
    reason: ReasonCodeSchema.optional(),
    /** Rule ids that must match, in any order; exactly these when given. */
    rules: z.array(z.string()).optional(),
    mode: ModeSchema.optional(),
  }),
});
export type PolicyTestCase = z.infer<typeof PolicyTestCaseSchema>;

/** A file of policy tests (`policies/tests/*.yaml`). */
export const PolicyTestFileSchema = z.strictObject({
  /** Named absolute paths the rules read as `paths.<name>`, fixed so tests mean the same everywhere. */
  paths: z.record(z.string(), z.string()).default({}),
  /** Each server's roots, which rules read as `server.roots` (relative paths resolve against them). */
  roots: z.record(z.string(), z.array(z.string())).default({}),
  /** The enforcement point's default mode the cases assume. */
  mode: ModeSchema.default('observe'),
  cases: z.array(PolicyTestCaseSchema).min(1),
});
export type PolicyTestFile = z.infer<typeof PolicyTestFileSchema>;
