import type { StageResult } from '../../core/decision.js';
import { CounterUnavailableError } from '../counters.js';
import type { CallContext } from '../types.js';

/**
 * A cap that cannot be checked because the counters are unreachable: a deny, or a flag when the tool
 * is explicitly `fail_open` (recorded in the decision's stages either way). Other errors are rethrown.
 */
export function counterUnavailable(ctx: CallContext, err: unknown): StageResult {
  // Anything else is a fault of ours: the pipeline reports it as internal_error.
  if (!(err instanceof CounterUnavailableError)) throw err;
  const message = `rate and spend counters unavailable: ${(err as Error)?.message ?? String(err)}`;
  if (ctx.toolEntry?.fail_open) return { kind: 'flag', code: 'counter_unavailable', message };
  return { kind: 'deny', code: 'counter_unavailable', message };
}
