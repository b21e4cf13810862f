import { PASS, type Stage } from '../stage.js';

/** The caller must map to a registered agent; the PEP resolves the agent when the session opens. */
export const checkAgent: Stage = (ctx) => {
  if (ctx.agent) return PASS;
  const who = ctx.identity.agentId ?? ctx.identity.sub ?? 'anonymous caller';
  return { kind: 'deny', code: 'unknown_agent', message: `"${who}" is not a registered agent` };
};
