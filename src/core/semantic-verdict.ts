import { z } from 'zod';
import { EffectSchema } from './effect.js';

/** One named reason behind a verdict, e.g. `injection_provenance` or `intent_mismatch`. */
export const SemanticSignalSchema = z.object({
  /** Stable snake_case name; the eval suite and evidence count signals by name. */
  name: z.string().regex(/^[a-z][a-z0-9_]*$/),
  /** What was found, in one line (may quote a short excerpt, never a secret). */
  detail: z.string(),
  /** How strongly this signal speaks against the call, 0..1. */
  score: z.number().min(0).max(1),
});
/** One named reason behind a verdict. */
export type SemanticSignal = z.infer<typeof SemanticSignalSchema>;

/** What a verifier concludes about one call. */
export const SemanticResultSchema = z.object({
  /** The effect the verifier recommends. It can only make a decision stricter: `allow` means "no objection". */
  verdict: EffectSchema,
  /** 0..1: how sure the verifier is of its verdict. */
  confidence: z.number().min(0).max(1),
  signals: z.array(SemanticSignalSchema),
  /** One or two sentences a reviewer can read. */
  rationale: z.string(),
});
/** What a verifier concludes about one call. */
export type SemanticResult = z.infer<typeof SemanticResultSchema>;

/** How a verdict was reached, for evidence: enough to reproduce or audit it. */
export interface SemanticProvenance {
  /** Verifier name: `heuristic`, `llm`, `replay`. */
  verifier: string;
  /** Model id for an LLM judge (or the heuristic's version). */
  model?: string;
  /** `sha256:` of the exact prompt or feature input, so a verdict can be matched to what was judged. */
  prompt_hash?: string;
  latency_ms: number;
  cache_hit: boolean;
  /** Token use and cost of an LLM judge call. */
  tokens?: { prompt: number; completion: number };
  cost_usd?: number;
  /** Set when the verifier failed or timed out and the tool's fail mode decided instead. */
  error?: string;
}
