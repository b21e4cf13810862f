import { z } from 'zod';

/**
 * What a decision does with a call: let it through, hand it to a person, or refuse it (weakest
 * first; the LLM judge's answer schema lists them in this order too).
 */
export const EffectSchema = z.enum(['allow', 'escalate', 'deny']);
/** What a decision does with a call. */
export type Effect = z.infer<typeof EffectSchema>;

/** The effects that stop a call in enforce mode, strongest first: a deny outranks an escalate. */
export const BLOCKING_EFFECTS = ['deny', 'escalate'] as const satisfies readonly Effect[];
/** An effect that stops a call in enforce mode. */
export type BlockingEffect = (typeof BLOCKING_EFFECTS)[number];

/** Whether a decision is applied: observe records and forwards; enforce blocks a deny and holds an escalate. */
export const ModeSchema = z.enum(['observe', 'enforce']);
/** Whether a decision is applied or only recorded. */
export type Mode = z.infer<typeof ModeSchema>;
