import { Document, isMap, isSeq, stringify } from 'yaml';
import type { ClientFormat } from './client-config.js';
import { guessTier, type InitServer, type ListedTool } from './init-plan.js';

/**
 * The files `mcpgov init` writes, as commented YAML text, and the client config snippet it prints.
 * Pure: the command decides where they go and whether they may be written.
 */

/** The agent a caller without a token acts as, in the files `mcpgov init` writes. */
export const INIT_AGENT = 'local-agent';
/** Owner written into entries nobody has claimed yet. */
const UNASSIGNED = 'unassigned';

/** `mcpgov.yaml`: the gateway over `servers`, in observe mode, with a comment per section. */
export function renderConfig(servers: readonly InitServer[], source?: string): string {
  const secrets = servers.some((s) => Object.keys(s.secrets).length > 0);
  const lines = [
    source
      ? `# mcpgov: the governing gateway over the MCP servers of ${source} (written by \`mcpgov init\`).`
      : '# mcpgov: the governing gateway (written by `mcpgov init`).',
    "# Relative paths resolve against this file's folder. Check the setup with `mcpgov validate --config <this file>`.",
    '# Serve it over stdio to a desktop client with `mcpgov gateway --stdio --config <this file>`,',
    '# or over Streamable HTTP at http://127.0.0.1:8787/mcp with `mcpgov gateway --config <this file>`.',
    "listen: { http: '127.0.0.1:8787', stdio: false }",
    'registries: ./registries # tools.yaml: every tool with its risk tier; agents.yaml: who may call them',
    'policies: ./policies # rules (*.yaml) and their tests (tests/*.yaml)',
    'evidence: { dir: ./.mcpgov/evidence, fsync: batch } # a signed, hash-chained record of every decision',
    '# observe: every call is decided and recorded, never blocked. Review the risk tiers in',
    '# registries/tools.yaml, then set `mode: enforce` (here, per tool, or per rule) to block denies.',
    'mode: observe',
    `# Callers without a verified token act as this agent (registries/agents.yaml), marked unverified in evidence.`,
    `identity: { default_agent: ${INIT_AGENT} }`,
  ];
  if (servers.length === 0) {
    lines.push(
      '# Downstream MCP servers; tools are exposed as <server>__<tool>. For example:',
      '#   files: { command: npx, args: [-y, "@modelcontextprotocol/server-filesystem", /path/to/folder] }',
      '#   docs: { type: http, url: "https://docs.example.com/mcp", headers: { Authorization: "${env:DOCS_TOKEN}" } }',
      'servers: {}',
    );
    return `${lines.join('\n')}\n`;
  }
  lines.push('# Downstream MCP servers; tools are exposed as <server>__<tool>.');
  if (secrets) {
    lines.push(
      '# Secret-looking values of the client config are not copied here: ${env:NAME} reads them from the',
      "# gateway's environment, which the client entry `mcpgov init` printed passes.",
    );
  }
  const doc = new Document({ servers: Object.fromEntries(servers.map((s) => [s.name, s.entry])) });
  const map = doc.get('servers', true);
  if (isMap(map)) {
    for (const pair of map.items) {
      const server = servers.find(
        (s) => s.name === String((pair.key as { value?: unknown }).value ?? pair.key),
      );
      if (server && server.from !== server.name && isMap(pair.value))
        pair.value.commentBefore = ` "${server.from}" in the client config`;
    }
  }
  return `${lines.join('\n')}\n${doc.toString({ lineWidth: 0 })}`;
}

/** What `mcpgov init` learnt of one server's tools: the list, or why there is none. */
export interface ServerTools {
  server: string;
  /** The tools it listed; undefined when it was not started or did not start. */
  tools?: ListedTool[];
  /** Why there is no list (`not probed`, the start error). */
  missing?: string;
}

/**
 * `registries/tools.yaml`: one entry per listed tool with a tier guessed from its annotations and a
 * comment marking it for review, and a group per server that the starter agent is given.
 */
export function renderTools(servers: readonly ServerTools[]): string {
  const head = [
    '# Tool registry (written by `mcpgov init`): every tool an agent may call, by exposed name',
    '# (<server>__<tool>) or glob. A tool with no entry is decided unregistered_tool: recorded in observe',
    '# mode, hidden and refused in enforce mode, so there a tool a server adds later stays out until it is',
    "# registered here. Each risk tier below is a guess from the tool's MCP annotations (readOnlyHint: low,",
    '# destructiveHint: high, neither: medium): review each, set its owner, and pin the definitions with',
    '# `mcpgov registry pin` once they are right.',
  ];
  const entries: Record<string, unknown>[] = [];
  const notes: string[] = [];
  for (const { server, tools, missing } of servers) {
    if (!tools) {
      head.push(`# ${server}: no tools registered (${missing ?? 'not listed'}); add its entries by hand.`);
      continue;
    }
    tools.forEach((tool, i) => {
      const { tier, because } = guessTier(tool.annotations);
      entries.push({ name: `${server}__${tool.name}`, owner: UNASSIGNED, risk_tier: tier });
      const title = i === 0 ? ` --- ${server} (${tools.length} tools) ---\n` : '';
      notes.push(`${title} review: tier guessed from annotations (${because})`);
    });
  }
  const groups = Object.fromEntries(
    servers.filter((s) => s.tools && s.tools.length > 0).map((s) => [s.server, [`${s.server}__*`]]),
  );
  const doc = new Document({ tools: entries, groups });
  const seq = doc.get('tools', true);
  if (isSeq(seq)) seq.items.forEach((item, i) => isMap(item) && (item.commentBefore = notes[i]));
  const groupsNode = doc.get('groups', true);
  if (isMap(groupsNode) && groupsNode.items.length > 0)
    groupsNode.commentBefore = ' Named tool sets, by exposed name or glob: one per server.';
  return `${head.join('\n')}\n${doc.toString({ lineWidth: 0 })}`;
}

/** `registries/agents.yaml`: the one agent callers without a token act as, given every server's tools. */
export function renderAgents(groups: readonly string[]): string {
  const text = stringify(
    {
      agents: [
        {
          id: INIT_AGENT,
          owner: UNASSIGNED,
          description: 'the desktop or IDE agent this setup came from',
          tool_groups: [...groups],
        },
      ],
    },
    { lineWidth: 0 },
  );
  return [
    '# Agents (written by `mcpgov init`): who may call which tool groups. Callers without a verified token',
    `# act as ${INIT_AGENT} (identity.default_agent in mcpgov.yaml); a token holder maps to an agent by`,
    '# `sub`, `spiffe_id` or `token_claims`. Narrow tool_groups, scopes and clearance as you review.',
    text,
  ].join('\n');
}

/** `policies/starter.yaml`: one rule that shows the shape and asks a person about high-risk calls. */
export function renderPolicy(): string {
  return `# Starter policy (written by \`mcpgov init\`). Each rule is json-logic over one input document: agent,
# tool (name, risk_tier, ...), call (name, arguments), session, identity, time. Effects combine
# deny > escalate > allow. In observe mode a rule's decision is recorded and the call goes through;
# in enforce mode an escalate waits for a person (see the README's Approvals and waivers).
rules:
  - id: high-risk-needs-approval
    description: calls to high and critical risk tools need a person's approval
    when: { in: [{ var: tool.risk_tier }, [high, critical]] }
    effect: escalate
    reason: high_risk_call
`;
}

/**
 * A sidecar's config for one server: the shared registries and rules, with an evidence folder and
 * PEP id of its own (every enforcement point is the one writer of its log).
 */
export function renderSidecarConfig(server: string): string {
  return `# The sidecar around "${server}" (written by \`mcpgov init --sidecar\`): the same registries and rules
# as mcpgov.yaml, with an evidence folder and PEP id of its own. Relative paths resolve against this folder.
registries: ../registries
policies: ../policies
evidence: { dir: ../.mcpgov/sidecars/${server}/evidence, fsync: batch }
mode: observe
identity: { default_agent: ${INIT_AGENT} }
pep: { id: sidecar-${server} }
`;
}

/** One client entry in the client's own shape (VS Code's carries `type`). */
export interface SnippetEntry {
  command: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
}

/** The client config block that replaces the servers: `{ mcpServers: {...} }` or `{ servers: {...} }`. */
export function clientSnippet(
  format: ClientFormat,
  entries: Record<string, SnippetEntry>,
): Record<string, unknown> {
  const shaped = Object.fromEntries(
    Object.entries(entries).map(([name, e]) => [
      name,
      {
        ...(format === 'servers' ? { type: 'stdio' } : {}),
        command: e.command,
        args: e.args,
        ...(e.env && Object.keys(e.env).length > 0 ? { env: e.env } : {}),
        ...(e.cwd ? { cwd: e.cwd } : {}),
      },
    ]),
  );
  return { [format]: shaped };
}
