import { approvalWhen } from '../../config/approvals-schema.js';
import { PASS, type Stage } from '../stage.js';

/**
 * A standing approval requirement: `approval: always` holds every call of the tool for a person;
 * `approval: flagged` holds the calls an earlier stage flagged (a rule with `effect: flag`, or a fault
 * in a `fail_open` tool).
 */
export const checkApproval: Stage = (ctx, _env, earlier = []) => {
  const setting = approvalWhen(ctx.toolEntry?.approval);
  if (setting === 'always') {
    return {
      kind: 'escalate',
      code: 'approval_required',
      message: `"${ctx.toolName}" needs human approval for every call`,
    };
  }
  const flag = earlier.find((run) => run.result.kind === 'flag')?.result;
  if (setting === 'flagged' && flag?.kind === 'flag') {
    return {
      kind: 'escalate',
      code: 'flagged_for_approval',
      message: `"${ctx.toolName}" needs human approval for flagged calls: ${flag.message}`,
    };
  }
  return PASS;
};
