import type { LlmJudgeConfig, SemanticConfig } from '../config/schema.js';
import { HeuristicVerifier } from './heuristic/index.js';
import { ThreadVerifier } from './heuristic/thread.js';
import { LlmJudge } from './llm.js';
import { ReplayVerifier } from './replay.js';
import type { SemanticVerifier } from './types.js';

/** How a verifier is built besides the config. */
export interface CreateVerifierOptions {
  /** Record every answer of the LLM judge as a cassette (`--record`); only with `verifier: llm`. */
  record?: boolean;
  /** Where the LLM judge reads its API key variable; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Run the offline verifier in a worker thread that a call's timeout can end (the PEPs). The eval
   * runner calls it in-process: fast and deterministic, and no session waits on it.
   */
  thread?: boolean;
}

/**
 * The verifier `semantic.verifier` names, or undefined for `off` (tools that require a semantic
 * check then escalate). Relative paths in the config resolve against `configDir`. A configuration
 * that cannot work (an LLM judge without `semantic.llm` or its key) is an error here, at start-up,
 * rather than a failed check on every call.
 */
export function createVerifier(
  semanticConfig: SemanticConfig,
  configDir: string,
  options: CreateVerifierOptions = {},
): SemanticVerifier | undefined {
  const { verifier } = semanticConfig;
  if (options.record && verifier !== 'llm') {
    throw new Error(`recording cassettes needs semantic.verifier: llm (it is ${verifier})`);
  }
  switch (verifier) {
    case 'off':
      return undefined;
    case 'llm':
      return new LlmJudge(llmConfig(semanticConfig), { configDir, record: options.record, env: options.env });
    case 'replay':
      return new ReplayVerifier(llmConfig(semanticConfig), { configDir });
    case 'heuristic':
      return options.thread ? new ThreadVerifier() : new HeuristicVerifier();
  }
}

function llmConfig(semanticConfig: SemanticConfig): LlmJudgeConfig {
  if (!semanticConfig.llm) {
    throw new Error(
      `semantic.verifier: ${semanticConfig.verifier} needs semantic.llm (at least model; replay also reads cassettes)`,
    );
  }
  return semanticConfig.llm;
}
