import { PASS, type Stage } from '../stage.js';

/** Tools registered with `approval: always` are held for a human on every call. */
export const checkApproval: Stage = (ctx) => {
  if (ctx.toolEntry?.approval !== 'always') return PASS;
  return {
    kind: 'escalate',
    code: 'approval_required',
    message: `"${ctx.toolName}" needs human approval for every call`,
  };
};
