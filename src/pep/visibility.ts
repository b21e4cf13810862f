import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { LiveTool } from '../core/live-tool.js';
import type { Enforcer, Session } from './enforcer.js';
import { declareIntentDefinition } from './intent-tool.js';

/**
 * What a session's agent may see, decided once for both enforcement points: tools it may never call
 * are left out of `tools/list`, and a server's resources and prompts are offered only to an agent
 * that may use at least one of that server's tools.
 */

/** The definition a client sees: the downstream's own, under its exposed name, schemas untouched. */
export function exposedDefinition(tool: LiveTool): Tool {
  return { ...(tool.definition as Tool), name: tool.name };
}

/** The tools the session's agent may see, in the order given. */
export async function visibleTools(
  enforcer: Enforcer,
  session: Session,
  tools: Iterable<LiveTool>,
): Promise<LiveTool[]> {
  const all = [...tools];
  const visible = await Promise.all(all.map((t) => enforcer.isVisible(session, t)));
  return all.filter((_, i) => visible[i]);
}

/**
 * A `tools/list` answer: the enforcement point's own `mcpgov__declare_intent` first, then the tools
 * the agent may see. A paginated list carries the own tool once: `withOwn` is false on other pages.
 */
export async function listedTools(
  enforcer: Enforcer,
  session: Session,
  tools: Iterable<LiveTool>,
  withOwn = true,
): Promise<Tool[]> {
  const visible = (await visibleTools(enforcer, session, tools)).map(exposedDefinition);
  return withOwn ? [declareIntentDefinition, ...visible] : visible;
}

/** The servers whose resources and prompts the session's agent may see. */
export async function visibleServers(
  enforcer: Enforcer,
  session: Session,
  tools: Iterable<LiveTool>,
): Promise<Set<string>> {
  return new Set((await visibleTools(enforcer, session, tools)).map((t) => t.server));
}
