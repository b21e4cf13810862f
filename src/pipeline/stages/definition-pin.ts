import { PASS, type Stage } from '../stage.js';

/** A pinned tool whose live definition changed is a different tool: refuse it until re-reviewed. */
export const checkDefinitionPin: Stage = (ctx) => {
  const pin = ctx.toolEntry?.definition_digest;
  if (pin === undefined || ctx.liveTool?.digest === pin) return PASS;
  return {
    kind: 'deny',
    code: 'definition_mismatch',
    message: `tool "${ctx.toolName}" changed: definition ${ctx.liveTool?.digest ?? 'unknown'} is not the pinned ${pin}`,
  };
};
