import type { Reservation } from '../../core/decision.js';
import { PASS, type Stage } from '../stage.js';
import { counterUnavailable } from './counter-fault.js';

/**
 * Daily spend per agent, in the registry's cost units, counted per UTC day: per tool when the tool sets
 * `caps.spend_per_day`, and across all tools when the agent sets `spend_per_day`.
 */
export const checkSpendCap: Stage = async (ctx, env) => {
  const cost = ctx.toolEntry?.caps.cost_per_call ?? 0;
  if (cost === 0 || !ctx.agent) return PASS;
  const day = new Date(ctx.now).toISOString().slice(0, 10);
  const caps: [string, number | undefined][] = [
    [`${ctx.agent.id}\u0000${ctx.toolName}`, ctx.toolEntry?.caps.spend_per_day],
    [ctx.agent.id, ctx.agent.spend_per_day],
  ];
  const reservations: Reservation[] = [];
  for (const [key, limit] of caps) {
    if (limit === undefined) continue;
    let reservation: Reservation | undefined;
    try {
      reservation = await env.counters.chargeSpend(key, day, cost, limit);
    } catch (err) {
      for (const r of reservations) r.release();
      return counterUnavailable(ctx, err);
    }
    if (!reservation) {
      // The per-tool charge taken a moment ago goes back: this call is not going ahead.
      for (const r of reservations) r.release();
      return { kind: 'deny', code: 'spend_cap_exceeded', message: `daily spend cap of ${limit} reached` };
    }
    reservations.push(reservation);
  }
  return reservations.length > 0 ? { kind: 'pass', reservations } : PASS;
};
