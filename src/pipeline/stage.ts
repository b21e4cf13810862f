import type { PolicySet } from '../policy/policy-set.js';
import type { CounterStore } from './counters.js';
import type { CallContext, Reservation, StageResult } from './types.js';

/** What stages may use besides the call itself. */
export interface StageEnv {
  policy: PolicySet;
  counters: CounterStore;
  /** Named absolute paths from the config, visible to rules as `paths`. */
  paths: Record<string, string>;
  /** Stages that take counter reservations push them here. */
  reservations: Reservation[];
}

/** One step of the pipeline. Expected outcomes are results, never exceptions. */
export type Stage = (ctx: CallContext, env: StageEnv) => StageResult | Promise<StageResult>;

/** The result that lets a call continue. */
export const PASS: StageResult = Object.freeze({ kind: 'pass' });
