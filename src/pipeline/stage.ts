import type { PolicySet } from '../policy/policy-set.js';
import type { SemanticVerifier } from '../semantic/types.js';
import type { SemanticCache } from './semantic-cache.js';
import type { CounterStore } from './counters.js';
import type { CallContext } from './types.js';
import type { StageRun, StageResult } from '../core/decision.js';

/** The long-lived dependencies stages use besides the call itself; a stage's own outputs go in its result. */
export interface StageEnv {
  policy: PolicySet;
  counters: CounterStore;
  /** Named absolute paths from the config, visible to rules as `paths`. */
  paths: Record<string, string>;
  /**
   * Each server's roots (real paths of the folders it works in), visible to rules as `server.roots`
   * for the calling tool's server: path rules resolve relative paths against them.
   */
  roots?: Readonly<Record<string, readonly string[]>>;
  /** Stage 2's verifier; without one, a tool that requires a semantic check escalates. */
  semantic?: SemanticEnv;
  /**
   * Policy tests decide stage 1 and the rules only: stage 2 is measured by the eval suite, and a test
   * must mean the same whichever verifier production runs.
   */
  skipSemantic?: boolean;
}

/** How stage 2 runs at this enforcement point. */
export interface SemanticEnv {
  verifier: SemanticVerifier;
  /** A verifier slower than this fails; the tool's `semantic_fail` decides instead. */
  timeoutMs: number;
  /** Verdicts already reached for the same call in the same situation. */
  cache?: SemanticCache;
}

/**
 * One step of the pipeline. Expected outcomes are results, never exceptions. `earlier` holds the
 * outcomes of the stages before it (stage 2 runs on calls stage 1 flagged).
 */
export type Stage = (
  ctx: CallContext,
  env: StageEnv,
  earlier?: readonly StageRun[],
) => StageResult | Promise<StageResult>;

/** The result that lets a call continue. */
export const PASS: StageResult = Object.freeze({ kind: 'pass' });
