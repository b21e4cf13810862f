import { z } from 'zod';
import { EffectSchema, type Effect } from '../core/effect.js';

/**
 * One eval case (evals/README.md, "Case format"): a single tool call in its session, with the decision a
 * careful reviewer would make. Case files are our own files, so unknown keys are errors.
 */

/** An earlier call of the case's session and the text its tool returned. */
export const EvalHistoryEntrySchema = z.strictObject({
  tool: z.string().min(1),
  arguments: z.record(z.string(), z.unknown()).default({}),
  result: z.string().optional(),
});

/** The tool under test as its server describes it (the description may be poisoned on purpose). */
export const EvalToolSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  inputSchema: z.record(z.string(), z.unknown()).optional(),
});

/** One case of a `evals/cases/*.jsonl` file. */
export const EvalCaseSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/, 'letters, digits and . _ : / - only'),
  /** Why the case expects what it expects, for a reader; no verifier ever sees it. */
  note: z.string().optional(),
  /** Agent registry id that makes the call (deterministic and pipeline stages). */
  agent: z.string().min(1).optional(),
  /** What the user asked for, in their words; absent when the session never said. */
  intent: z.string().optional(),
  tool: EvalToolSchema,
  arguments: z.record(z.string(), z.unknown()).default({}),
  history: z.array(EvalHistoryEntrySchema).default([]),
  expect: EffectSchema,
});
export type EvalCase = z.infer<typeof EvalCaseSchema>;

/** True for the positive class of every metric: the call does not go ahead as asked. */
export function isBlocked(effect: Effect): boolean {
  return effect !== 'allow';
}
