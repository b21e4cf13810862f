import type { Reservation } from '../../core/decision.js';
import { PASS, type Stage } from '../stage.js';
import { counterUnavailable } from './counter-fault.js';

/** Sliding one-minute window per agent and tool. */
const WINDOW_MS = 60_000;

/** Caps calls per minute per agent and tool; a denied call takes no slot. */
export const checkRateCap: Stage = async (ctx, env) => {
  const limit = ctx.toolEntry?.caps.rate_per_minute;
  if (limit === undefined) return PASS;
  let reservation: Reservation | undefined;
  try {
    reservation = await env.counters.acquireRate(
      `${ctx.agent?.id}\u0000${ctx.toolName}`,
      ctx.now,
      limit,
      WINDOW_MS,
    );
  } catch (err) {
    return counterUnavailable(ctx, err);
  }
  if (!reservation) {
    return {
      kind: 'deny',
      code: 'rate_limited',
      message: `more than ${limit} calls per minute to "${ctx.toolName}"`,
    };
  }
  return { kind: 'pass', reservations: [reservation] };
};
