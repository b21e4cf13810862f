import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { definitionDigest } from './digest.js';
import type { LiveTool } from '../core/live-tool.js';

/** Separator between server name and the server's own name: `<server>__<tool>` (README: Configuration reference). */
export const NAME_SEPARATOR = '__';

/**
 * A downstream tool as the pipeline sees it: its exposed name (`<server>__<tool>`, or the server's own
 * name where a sidecar does not prefix), and the digest of the definition as the server sent it.
 */
export function liveTool(server: string, def: Tool, prefix = true): LiveTool {
  const name = prefix ? `${server}${NAME_SEPARATOR}${def.name}` : def.name;
  const definition = def as unknown as Record<string, unknown>;
  return { name, server, tool: def.name, definition, digest: definitionDigest(definition) };
}
