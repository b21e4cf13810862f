import { PASS, type Stage } from '../stage.js';

/**
 * Every scope the tool requires must be granted to the agent; a token that carries scopes narrows the
 * grant to those (a token never widens what the registry gives the agent).
 */
export const checkScopes: Stage = (ctx) => {
  const granted = new Set(ctx.agent?.scopes ?? []);
  const tokenScopes = ctx.identity.verified ? ctx.identity.scopes : undefined;
  const missing = (ctx.toolEntry?.scopes ?? []).filter(
    (s) => !granted.has(s) || (tokenScopes !== undefined && !tokenScopes.includes(s)),
  );
  if (missing.length === 0) return PASS;
  return {
    kind: 'deny',
    code: 'missing_scope',
    message: `missing scope ${missing.map((s) => `"${s}"`).join(', ')}`,
  };
};
