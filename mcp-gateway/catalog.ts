import type { Prompt, Resource, ResourceTemplate, Tool } from '@modelcontextprotocol/sdk/types.js';
import { UriTemplate } from '@modelcontextprotocol/sdk/shared/uriTemplate.js';
import { NAME_SEPARATOR } from '../src/registry/live-tool.js';
import { DECLARE_INTENT_TOOL } from '../src/pep/intent-tool.js';
import type { Logger } from '../src/util/log.js';
import type { Downstream } from './downstream.js';
import type { LiveTool } from '../src/core/live-tool.js';

export { NAME_SEPARATOR };

/**
 * Turns a server's freshly loaded tool list into live tools (the kernel's definition review), named
 * `<server>__<tool>` when `prefix`, else by the tool's own name.
 */
export type ReviewTools = (server: string, defs: readonly Tool[], prefix: boolean) => LiveTool[];

/** Whether a server's tools and prompts are served as `<server>__<name>` (config `prefix`, default true). */
export function prefixed(ds: Downstream): boolean {
  return ds.config.prefix !== false;
}

/** Splits an exposed name into server and downstream name; undefined when it has no server prefix. */
export function splitName(exposed: string): { server: string; name: string } | undefined {
  const at = exposed.indexOf(NAME_SEPARATOR);
  if (at <= 0) return undefined;
  return { server: exposed.slice(0, at), name: exposed.slice(at + NAME_SEPARATOR.length) };
}

/**
 * What the gateway offers, aggregated over its downstream servers: tools and prompts namespaced as
 * `<server>__<name>`, or under their own names for a server with `prefix: false`; resources keep their
 * URIs (tool results link to them) and are routed by URI. A name two servers would both serve (or one
 * that is the gateway's own) is served by neither: fail closed, and said on the log. A server's tools
 * are reviewed as soon as its list loads or changes (so a changed or poisoned definition is recorded
 * when it arrives, not when an agent next lists); the aggregate is rebuilt lazily.
 */
export class Catalog {
  private liveTools?: Map<string, LiveTool>;
  private readonly reviewed = new Map<string, LiveTool[]>();
  private readonly changeListeners = new Set<(kind: 'tools' | 'resources' | 'prompts') => void>();

  constructor(
    readonly downstreams: ReadonlyMap<string, Downstream>,
    private readonly reviewTools: ReviewTools,
    private readonly log?: Logger,
  ) {
    for (const [server, ds] of downstreams) {
      this.reviewed.set(server, reviewTools(server, ds.tools, prefixed(ds)));
      ds.on('listChanged', (kind: 'tools' | 'resources' | 'prompts') => {
        if (kind === 'tools') {
          this.reviewed.set(server, this.reviewTools(server, ds.tools, prefixed(ds)));
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

  /** Every downstream tool, with its exposed name and definition digest; colliding names left out. */
  tools(): Map<string, LiveTool> {
    if (this.liveTools) return this.liveTools;
    const offered = [...this.downstreams.keys()].flatMap((server) =>
      (this.reviewed.get(server) ?? []).map((live) => ({ server, name: live.name, item: live })),
    );
    const tools = new Map(this.withoutCollisions('tool', offered).map((o) => [o.name, o.item]));
    this.liveTools = tools;
    return tools;
  }

  /** Resources of the given servers, URIs unchanged, names prefixed with the server unless it is unprefixed. */
  resources(servers: ReadonlySet<string>): Resource[] {
    return this.collect(servers, (server, ds) =>
      ds.resources.map((r: Resource) => ({ ...r, name: exposedName(ds, server, r.name) })),
    );
  }

  /** Resource templates of the given servers, names prefixed as resources are. */
  resourceTemplates(servers: ReadonlySet<string>): ResourceTemplate[] {
    return this.collect(servers, (server, ds) =>
      ds.resourceTemplates.map((t: ResourceTemplate) => ({ ...t, name: exposedName(ds, server, t.name) })),
    );
  }

  /** Prompts of the given servers, named `<server>__<prompt>` (or their own names); colliding names left out. */
  prompts(servers: ReadonlySet<string>): Prompt[] {
    return this.exposedPrompts(servers).map((o) => o.item);
  }

  /** The server and downstream name of an exposed prompt name, among the given servers. */
  promptOwner(exposed: string, servers: ReadonlySet<string>): { server: string; name: string } | undefined {
    const found = this.exposedPrompts(servers).find((o) => o.name === exposed);
    return found && { server: found.server, name: found.own };
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

  private exposedPrompts(servers: ReadonlySet<string>) {
    const offered = [...this.downstreams]
      .filter(([server]) => servers.has(server))
      .flatMap(([server, ds]) =>
        ds.prompts.map((p: Prompt) => {
          const name = exposedName(ds, server, p.name);
          return { server, name, own: p.name, item: { ...p, name } };
        }),
      );
    return this.withoutCollisions('prompt', offered);
  }

  /**
   * Drops every name more than one server would serve, and any tool named as the gateway's own: which
   * server a caller meant cannot be told, so neither is reached (fail closed). Said on the log.
   */
  private withoutCollisions<T extends { server: string; name: string }>(kind: string, offered: T[]): T[] {
    const servers = new Map<string, string[]>();
    for (const o of offered) servers.set(o.name, [...(servers.get(o.name) ?? []), o.server]);
    if (kind === 'tool') servers.get(DECLARE_INTENT_TOOL)?.unshift('mcpgov');
    const kept = offered.filter((o) => (servers.get(o.name) ?? []).length === 1);
    for (const [name, owners] of servers) {
      if (owners.length < 2) continue;
      this.log?.('warn', `${kind} name collision: not served`, { name, servers: owners });
    }
    return kept;
  }

  private collect<T>(servers: ReadonlySet<string>, pick: (server: string, ds: Downstream) => T[]): T[] {
    const out: T[] = [];
    for (const [server, ds] of this.downstreams) if (servers.has(server)) out.push(...pick(server, ds));
    return out;
  }
}

/** `<server>__<name>`, or the server's own name when the server is unprefixed. */
function exposedName(ds: Downstream, server: string, name: string): string {
  return prefixed(ds) ? `${server}${NAME_SEPARATOR}${name}` : name;
}
