import { PASS, type Stage } from '../stage.js';

/**
 * A tool registered with `semantic: required` must pass a semantic check. No verifier is wired into
 * this version, so such a call escalates rather than passing unchecked.
 */
export const checkSemantic: Stage = (ctx) => {
  if (ctx.toolEntry?.semantic !== 'required') return PASS;
  return {
    kind: 'escalate',
    code: 'semantic_unavailable',
    message: `"${ctx.toolName}" requires a semantic check and no verifier is configured`,
  };
};
