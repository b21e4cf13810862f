import { z } from 'zod';
import { DigestSchema } from '../bundle/schema.js';

/** The kind of enforcement point reporting: a gateway, or a sidecar reporting through one. */
export const PepKindSchema = z.enum(['gateway', 'sidecar']);

/**
 * What an enforcement point reports about its policy (OPA's status report, cut to what drift
 * detection needs): the bundle in force, when it last checked its source, and the last refusal.
 * The body of `POST /policy/status`.
 */
export const PepPolicyStatusSchema = z.strictObject({
  pep: z.strictObject({
    id: z.string().min(1).max(200),
    kind: PepKindSchema,
    version: z.string().max(100),
  }),
  policy: z.strictObject({
    name: z.string().max(100),
    channel: z.string().max(100).nullable(),
    source: z.string().max(2000),
    active: z
      .strictObject({
        name: z.string().max(100),
        revision: z.string().max(200),
        digest: DigestSchema,
        seq: z.number().int().nonnegative(),
        channel_seq: z.number().int().nullable(),
        activated_at: z.string().max(40),
        /** `sources`: the PEP enforces source files, not a bundle. */
        from: z.enum(['source', 'cache', 'sources']),
      })
      .nullable(),
    last_check: z.string().max(40).nullable(),
    last_error: z
      .strictObject({ code: z.string().max(100), message: z.string().max(2000), at: z.string().max(40) })
      .nullable(),
  }),
  /** The waivers in force at the PEP (exceptions to its policy; their evidence is in its log). */
  waivers: z
    .array(
      z.strictObject({
        id: z.string().max(100),
        agent: z.string().max(2000),
        tool: z.string().max(2000),
        until: z.string().max(40),
      }),
    )
    .max(200)
    .optional(),
});
/** A PEP's policy status report. */
export type PepPolicyStatus = z.infer<typeof PepPolicyStatusSchema>;
