import type { AgentEntry, AgentsFile, ResourceEntry, ToolEntry, ToolsFile } from '../config/schema.js';
import { globMatch, isGlob } from './glob.js';
import type { Identity } from '../core/identity.js';

/** The tool registry: entries by exposed name or glob, and named tool groups. */
export class ToolRegistry {
  private readonly exact = new Map<string, ToolEntry>();
  private readonly globs: ToolEntry[] = [];

  constructor(readonly file: ToolsFile) {
    for (const entry of file.tools) {
      if (isGlob(entry.name)) this.globs.push(entry);
      else this.exact.set(entry.name, entry);
    }
  }

  /** The entry for an exposed tool name: an exact entry first, else the first glob entry in file order. */
  match(toolName: string): ToolEntry | undefined {
    return this.exact.get(toolName) ?? this.globs.find((e) => globMatch(e.name, toolName));
  }

  /** The first resource entry in file order whose `uri` glob matches and whose `server`, if set, is this one. */
  matchResource(uri: string, server: string): ResourceEntry | undefined {
    return (this.file.resources ?? []).find(
      (e) => (e.server === undefined || e.server === server) && globMatch(e.uri, uri),
    );
  }

  /** True when any member of any of the named groups matches the tool name. */
  inGroups(toolName: string, groups: readonly string[]): boolean {
    return groups.some((g) => (this.file.groups[g] ?? []).some((member) => globMatch(member, toolName)));
  }

  /** Whether a group member names at least one registry entry (exactly, or by either side's glob). */
  memberKnown(member: string): boolean {
    return this.file.tools.some(
      (e) => e.name === member || globMatch(e.name, member) || globMatch(member, e.name),
    );
  }
}

/** The agent registry: entries by id, and the mapping from verified identities to agents. */
export class AgentRegistry {
  private readonly byId = new Map<string, AgentEntry>();

  constructor(readonly file: AgentsFile) {
    for (const agent of file.agents) this.byId.set(agent.id, agent);
  }

  get(id: string): AgentEntry | undefined {
    return this.byId.get(id);
  }

  /**
   * The agent a verified identity maps to: by `spiffe_id`, then `sub`, then `token_claims` (every listed
   * claim equal). The first agent in file order wins, so put narrow mappings first.
   */
  resolve(identity: Pick<Identity, 'sub' | 'spiffe_id' | 'claims'>): AgentEntry | undefined {
    return this.file.agents.find((a) => {
      if (a.spiffe_id !== undefined) return a.spiffe_id === identity.spiffe_id;
      if (a.sub !== undefined) return a.sub === identity.sub;
      if (a.token_claims !== undefined) {
        return Object.entries(a.token_claims).every(([k, v]) => identity.claims[k] === v);
      }
      return false;
    });
  }
}
