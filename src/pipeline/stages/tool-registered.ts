import { PASS, type Stage } from '../stage.js';

/** The tool must exist downstream and have a registry entry: unknown tools are never called. */
export const checkToolRegistered: Stage = (ctx) => {
  if (!ctx.liveTool)
    return { kind: 'deny', code: 'unknown_tool', message: `no tool named "${ctx.toolName}"` };
  if (!ctx.toolEntry) {
    return {
      kind: 'deny',
      code: 'unregistered_tool',
      message: `tool "${ctx.toolName}" has no registry entry`,
    };
  }
  return PASS;
};
