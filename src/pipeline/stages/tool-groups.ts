import { PASS, type Stage } from '../stage.js';

/** Agents reach only the tools in their groups. */
export const checkToolGroups: Stage = (ctx, env) => {
  if (ctx.agent && env.policy.tools.inGroups(ctx.toolName, ctx.agent.tool_groups)) return PASS;
  return {
    kind: 'deny',
    code: 'tool_not_in_groups',
    message: `tool "${ctx.toolName}" is not in the tool groups of agent "${ctx.agent?.id}"`,
  };
};
