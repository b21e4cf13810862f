import type { Prompt, Resource, ResourceTemplate, Tool } from '@modelcontextprotocol/sdk/types.js';
import { UriTemplate } from '@modelcontextprotocol/sdk/shared/uriTemplate.js';
import { NAME_SEPARATOR } from '../src/registry/live-tool.js';
import type { Downstream } from './downstream.js';
import type { LiveTool } from '../src/core/live-tool.js';

export { NAME_SEPARATOR };

/** Turns a server's freshly loaded tool list into live tools (the kernel's definition review). */
export type ReviewTools = (server: string, defs: readonly Tool[]) => LiveTool[];

/** Splits an exposed name into server and downstream name; undefined when it has no server prefix. */
export function splitName(exposed: string): { server: string; name: string } | undefined {
  const at = exposed.indexOf(NAME_SEPARATOR);
  if (at <= 0) return undefined;
  return { server: exposed.slice(0, at), name: exposed.slice(at + NAME_SEPARATOR.length) };
}

/**
 * What the gateway offers, aggregated over its downstream servers: tools and prompts namespaced as
 * `<server>__<name>`; resources keep their URIs (tool results link to them) and are routed by URI.
 * A server's tools are reviewed as soon as its list loads or changes (so a changed or poisoned
 * definition is recorded when it arrives, not when an agent next lists); the aggregate is rebuilt
 * lazily.
 */
export class Catalog {
  private liveTools?: Map<string, LiveTool>;
  private readonly reviewed = new Map<string, LiveTool[]>();
  private readonly changeListeners = new Set<(kind: 'tools' | 'resources' | 'prompts') => void>();

  constructor(
    readonly downstreams: ReadonlyMap<string, Downstream>,
    private readonly reviewTools: ReviewTools,
  ) {
    for (const [server, ds] of downstreams) {
      this.reviewed.set(server, reviewTools(server, ds.tools));
      ds.on('listChanged', (kind: 'tools' | 'resources' | 'prompts') => {
        if (kind === 'tools') {
          this.reviewed.set(server, this.reviewTools(server, ds.tools));
          this.liveTools = undefined;
        }
        for (const listener of this.changeListeners) listener(kind);
      });
    }
  }

  /** Calls `listener` when any downstream's tools, resources or prompts change. */
  onChange(listener: (kind: 'tools' | 'resources' | 'prompts') => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Every downstream tool, with its exposed name and definition digest. */
  tools(): Map<string, LiveTool> {
    if (this.liveTools) return this.liveTools;
    const tools = new Map<string, LiveTool>();
    for (const server of this.downstreams.keys()) {
      for (const live of this.reviewed.get(server) ?? []) tools.set(live.name, live);
    }
    this.liveTools = tools;
    return tools;
  }

  /** Resources of the given servers, URIs unchanged, names prefixed with the server. */
  resources(servers: ReadonlySet<string>): Resource[] {
    return this.collect(servers, (server, ds) =>
      ds.resources.map((r: Resource) => ({ ...r, name: `${server}${NAME_SEPARATOR}${r.name}` })),
    );
  }

  /** Resource templates of the given servers, names prefixed with the server. */
  resourceTemplates(servers: ReadonlySet<string>): ResourceTemplate[] {
    return this.collect(servers, (server, ds) =>
      ds.resourceTemplates.map((t: ResourceTemplate) => ({
        ...t,
        name: `${server}${NAME_SEPARATOR}${t.name}`,
      })),
    );
  }

  /** Prompts of the given servers, named `<server>__<prompt>`. */
  prompts(servers: ReadonlySet<string>): Prompt[] {
    return this.collect(servers, (server, ds) =>
      ds.prompts.map((p: Prompt) => ({ ...p, name: `${server}${NAME_SEPARATOR}${p.name}` })),
    );
  }

  /**
   * The server that owns a resource URI: one that listed it, else one whose template matches. When
   * several match, the first server in config order wins, so config order is the tie-break.
   */
  resourceServer(uri: string, servers: ReadonlySet<string>): string | undefined {
    for (const [server, ds] of this.downstreams) {
      if (servers.has(server) && ds.resources.some((r: Resource) => r.uri === uri)) return server;
    }
    for (const [server, ds] of this.downstreams) {
      if (!servers.has(server)) continue;
      if (
        ds.resourceTemplates.some((t: ResourceTemplate) => new UriTemplate(t.uriTemplate).match(uri) !== null)
      ) {
        return server;
      }
    }
    return undefined;
  }

  private collect<T>(servers: ReadonlySet<string>, pick: (server: string, ds: Downstream) => T[]): T[] {
    const out: T[] = [];
    for (const [server, ds] of this.downstreams) if (servers.has(server)) out.push(...pick(server, ds));
    return out;
  }
}
