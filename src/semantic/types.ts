import { z } from 'zod';

/**
 * The semantic stage (stage 2) asks one question the deterministic checks cannot answer: does this
 * call fit what the user asked for, given everything the session has seen? A verifier answers with
 * a verdict, the named signals behind it, and its provenance (which goes into evidence).
 */

/** A verifier's verdict. It can only make a decision stricter: `allow` means "no objection". */
export const SemanticVerdictKindSchema = z.enum(['allow', 'escalate', 'deny']);
export type SemanticVerdictKind = z.infer<typeof SemanticVerdictKindSchema>;

/** One named reason behind a verdict, e.g. `injection_provenance` or `intent_mismatch`. */
export const SemanticSignalSchema = z.object({
  /** Stable snake_case name; the eval suite and evidence count signals by name. */
  name: z.string().regex(/^[a-z][a-z0-9_]*$/),
  /** What was found, in one line (may quote a short excerpt, never a secret). */
  detail: z.string(),
  /** How strongly this signal speaks against the call, 0..1. */
  score: z.number().min(0).max(1),
});
export type SemanticSignal = z.infer<typeof SemanticSignalSchema>;

/** What a verifier concludes about one call. */
export const SemanticResultSchema = z.object({
  verdict: SemanticVerdictKindSchema,
  /** 0..1: how sure the verifier is of its verdict. */
  confidence: z.number().min(0).max(1),
  signals: z.array(SemanticSignalSchema),
  /** One or two sentences a reviewer can read. */
  rationale: z.string(),
});
export type SemanticResult = z.infer<typeof SemanticResultSchema>;

/** An earlier call of the same session, with what its tool returned (as text, bounded by the PEP). */
export interface HistoryEntry {
  tool: string;
  arguments: Record<string, unknown>;
  /** The tool's result as text; absent when the result was not kept (too large, or not text). */
  result?: string;
}

/** Where the intent came from, most trustworthy first. */
export type IntentSource = 'meta' | 'declared' | 'registry' | 'case' | 'none';

/** Everything a verifier sees about one call. Built by the PEP (or the eval runner) from the session. */
export interface SemanticInput {
  /** What the user asked for, in their words, when known. */
  intent?: string;
  intentSource: IntentSource;
  /** The calling agent's registry id and permitted purposes, when known. */
  agent?: { id: string; intents: string[] };
  /** The tool as the downstream server describes it (description and schema may be poisoned). */
  tool: {
    name: string;
    description?: string;
    inputSchema?: unknown;
    /** From the tool registry, when registered. */
    risk_tier?: 'low' | 'medium' | 'high' | 'critical';
  };
  arguments: Record<string, unknown>;
  /** Earlier calls of the session, oldest first. */
  history: HistoryEntry[];
}

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

/** A verifier's answer: the result plus what it knows of its own provenance. */
export interface SemanticAnswer extends SemanticResult {
  provenance: Omit<SemanticProvenance, 'latency_ms' | 'cache_hit'> &
    Partial<Pick<SemanticProvenance, 'latency_ms' | 'cache_hit'>>;
}

/**
 * The interface every semantic verifier implements. `verify` may reject (network error, malformed
 * answer); the pipeline then applies the tool's fail mode, never allow. It must honour `signal`.
 */
export interface SemanticVerifier {
  /** `heuristic`, `llm`, `replay`, ... */
  readonly name: string;
  verify(input: SemanticInput, options?: { signal?: AbortSignal }): Promise<SemanticAnswer>;
  /**
   * Starts what the verifier needs before its first check (a worker thread) and resolves when that is
   * ready; may reject. The stage waits for it before its timer starts: `semantic.timeout_ms` bounds
   * checks, not a start-up that happens once.
   */
  ready?(): Promise<void>;
  /** Ends what `ready` started. */
  close?(): Promise<void>;
}
