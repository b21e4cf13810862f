import { PASS, type Stage } from '../stage.js';

/** A tool that touches a data class needs an agent cleared for it. */
export const checkDataClasses: Stage = (ctx) => {
  const clearance = new Set(ctx.agent?.clearance ?? []);
  const uncleared = (ctx.toolEntry?.data_classes ?? []).filter((c) => !clearance.has(c));
  if (uncleared.length === 0) return PASS;
  return {
    kind: 'deny',
    code: 'data_class_not_cleared',
    message: `agent is not cleared for data class ${uncleared.map((c) => `"${c}"`).join(', ')}`,
  };
};
