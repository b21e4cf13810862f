import type { ResolvedConfig } from '../config/load-config.js';
import { SemanticCache } from './semantic-cache.js';
import type { SemanticEnv } from './stage.js';
import { createVerifier, type CreateVerifierOptions } from '../semantic/factory.js';

/** Slack the stage allows beyond an LLM judge's own deadline, so the judge reports its own timeout. */
const JUDGE_SLACK_MS = 500;

/**
 * Stage 2 as a config describes it: the verifier, its time budget and the verdict cache; undefined
 * when `semantic.verifier` is `off`. An LLM judge keeps its own deadline (`semantic.llm.timeout_ms`,
 * retries included), so the stage waits at least that long rather than cutting it short.
 */
export function semanticEnv(
  config: ResolvedConfig,
  options: CreateVerifierOptions = {},
): SemanticEnv | undefined {
  // The PEPs serve many sessions on one event loop: the offline verifier runs beside it.
  const verifier = createVerifier(config.semantic, config.dir, { thread: true, ...options });
  if (!verifier) return undefined;
  const judge = config.semantic.verifier === 'llm' ? config.semantic.llm?.timeout_ms : undefined;
  return {
    verifier,
    timeoutMs: Math.max(config.semantic.timeout_ms, judge === undefined ? 0 : judge + JUDGE_SLACK_MS),
    cache: config.semantic.cache_entries > 0 ? new SemanticCache(config.semantic.cache_entries) : undefined,
  };
}
