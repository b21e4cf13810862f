import { freezeInput } from '../policy/json-logic.js';
import type { StageEnv } from './stage.js';
import type { CallContext } from './types.js';

/**
 * The one document rules see, built fresh per call and frozen with null prototypes, so a rule can read
 * only these own properties and can change nothing.
 */
export function buildRuleInput(ctx: CallContext, env: StageEnv): object {
  const { agent, toolEntry, liveTool, identity, session } = ctx;
  const time = new Date(ctx.now);
  return freezeInput({
    agent: agent && {
      id: agent.id,
      owner: agent.owner,
      intents: agent.intents,
      tool_groups: agent.tool_groups,
      scopes: agent.scopes,
      clearance: agent.clearance,
    },
    tool: {
      name: ctx.toolName,
      server: liveTool?.server ?? null,
      tool: liveTool?.tool ?? null,
      owner: toolEntry?.owner ?? null,
      risk_tier: toolEntry?.risk_tier ?? null,
      scopes: toolEntry?.scopes ?? [],
      data_classes: toolEntry?.data_classes ?? [],
    },
    call: { name: ctx.toolName, arguments: ctx.arguments },
    session: {
      id: session.id,
      intent: session.intent ?? null,
      call_count: session.callCount,
      tools: session.tools,
    },
    identity: {
      iss: identity.iss ?? null,
      sub: identity.sub ?? null,
      verified: identity.verified,
      claims: identity.claims,
    },
    paths: env.paths,
    time: {
      iso: time.toISOString(),
      epoch_ms: ctx.now,
      hour_utc: time.getUTCHours(),
      weekday_utc: time.getUTCDay(),
    },
  }) as object;
}
