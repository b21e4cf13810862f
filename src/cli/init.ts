import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseClientConfig, type ClientConfig } from '../config/client-config.js';
import { guessTier, planServers, type InitServer } from '../config/init-plan.js';
import {
  clientSnippet,
  renderAgents,
  renderConfig,
  renderPolicy,
  renderSidecarConfig,
  renderTools,
  type ServerTools,
  type SnippetEntry,
} from '../config/init-render.js';
import { isSecretKey, secretSpans } from '../evidence/mask.js';
import { EXIT, UsageError, err, out } from './io.js';
import { probeServers } from './init-probe.js';

export const initHelp = `Usage: mcpgov init [--dir DIR] [--from CLIENT_CONFIG [--sidecar] [--no-probe]] [--force] [--json]

Writes a starting setup into DIR: a commented mcpgov.yaml (observe mode), registries/tools.yaml and
registries/agents.yaml, and a starter policy (policies/starter.yaml). Existing files are never
overwritten without --force.

With --from, it reads an MCP client config: Claude Desktop's claude_desktop_config.json or Cursor's
.cursor/mcp.json ("mcpServers"), or VS Code's mcp.json ("servers", with type stdio or http). Each of
its servers goes into mcpgov.yaml; each is started (or reached) once and its tools are registered with
a risk tier guessed from their MCP annotations (readOnlyHint: low, destructiveHint: high, otherwise
medium), marked for review. Secret-looking env, header and argument values are not written to
mcpgov.yaml: it reads them as \${env:NAME}, and the printed client entry passes them. Then it prints
the client config block that replaces those servers: one "mcpgov" entry running the gateway over
stdio, or with --sidecar one entry per server, each wrapped in a sidecar (a config per server under
sidecars/).

Options:
  --dir DIR             where to write (default: the current folder)
  --from FILE           the client config whose servers to put behind mcpgov
  --sidecar             wrap each stdio server in its own sidecar instead of one gateway
  --no-probe            do not start the servers: write the config, register no tools
  --force               overwrite existing files
  --json                print the result as one JSON object (files, servers, tools, snippet)
  -h, --help            show this help

Exit status: 0 when every server listed its tools; 1 when one did not (it is still in mcpgov.yaml,
its tools unregistered), one was left out (SSE; HTTP with --sidecar), or nothing could be written;
2 for a usage error.`;

/** The options of `mcpgov init`, in one place. */
const OPTIONS = {
  from: { type: 'string' },
  sidecar: { type: 'boolean', default: false },
  dir: { type: 'string', default: '.' },
  force: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  'no-probe': { type: 'boolean', default: false },
} as const;

/** What `mcpgov init` did, as `--json` prints it. */
interface InitResult {
  dir: string;
  files: string[];
  servers: { name: string; from: string; type: 'stdio' | 'http'; tools?: number; error?: string }[];
  tools: { name: string; risk_tier: string }[];
  /** Variables mcpgov.yaml reads secrets from (`\${env:NAME}`); the gateway snippet passes them. */
  secrets: string[];
  skipped: { name: string; reason: string }[];
  /** Client config keys read and not taken over, as `server.key`. */
  ignored: string[];
  /** With --sidecar: servers reached over HTTP, which no sidecar wraps (they need the gateway). */
  unwrapped: string[];
  snippet?: Record<string, unknown>;
}

/** A credential by its key's name or by what its value looks like. */
const isSecret = (key: string, value: string) => isSecretKey(key) || secretSpans(value).length > 0;

/** `mcpgov init`: writes a starting setup, or one that governs a client config's servers. */
export async function initCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: OPTIONS, strict: true });
  if (values.sidecar && !values.from) throw new UsageError('--sidecar needs --from CLIENT_CONFIG');
  const dir = path.resolve(values.dir);
  let client: ClientConfig | undefined;
  if (values.from) {
    const read = await readClientConfig(values.from);
    if (typeof read === 'string') {
      err(`mcpgov init: ${values.from}: ${read}`);
      return EXIT.failed;
    }
    client = read;
  }
  const servers = planServers(client?.servers ?? [], isSecret);
  const sidecars = values.sidecar ? servers.filter((s) => s.entry.type === 'stdio') : [];
  const names = [
    'mcpgov.yaml',
    'registries/tools.yaml',
    'registries/agents.yaml',
    'policies/starter.yaml',
    ...sidecars.map((s) => `sidecars/${s.name}.yaml`),
  ];
  // Refused before any server starts: nothing is written, nothing is run.
  const existing = names.filter((f) => existsSync(path.join(dir, f)));
  if (existing.length > 0 && !values.force) {
    const more = existing.length > 1 ? ` (and ${existing.length - 1} more)` : '';
    err(`mcpgov init: ${path.join(dir, existing[0]!)} exists${more}; pass --force to overwrite`);
    return EXIT.failed;
  }
  try {
    // The servers start where the gateway will start them: in the config's folder.
    await mkdir(dir, { recursive: true });
  } catch (e) {
    err(`mcpgov init: cannot create ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    return EXIT.failed;
  }

  const listed: ServerTools[] = values['no-probe']
    ? servers.map((s) => ({ server: s.name, missing: 'not started: --no-probe' }))
    : await probeServers(servers, dir);
  const files = new Map<string, string>([
    ['mcpgov.yaml', renderConfig(servers, values.from ? path.resolve(values.from) : undefined)],
    ['registries/tools.yaml', renderTools(listed)],
    ['registries/agents.yaml', renderAgents(listed.filter((l) => l.tools?.length).map((l) => l.server))],
    ['policies/starter.yaml', renderPolicy()],
    ...sidecars.map((s) => [`sidecars/${s.name}.yaml`, renderSidecarConfig(s.name)] as const),
  ]);
  for (const [file, text] of files) {
    const at = path.join(dir, file);
    try {
      await mkdir(path.dirname(at), { recursive: true });
      await writeFile(at, text);
    } catch (e) {
      err(`mcpgov init: cannot write ${at}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      return EXIT.failed;
    }
  }

  const result = summarize(dir, [...files.keys()], servers, listed, client);
  // A sidecar wraps a command it starts: a server reached over HTTP stays with the gateway.
  result.unwrapped = values.sidecar ? servers.filter((s) => s.entry.type !== 'stdio').map((s) => s.name) : [];
  if (client) result.snippet = snippetFor(client, dir, servers, values.sidecar);
  const failed = result.servers.filter((s) => s.error !== undefined && !values['no-probe']);
  if (values.json) out(JSON.stringify(result, null, 2));
  else report(result, values['no-probe']);
  if (failed.length > 0)
    err(
      `mcpgov init: ${failed.map((s) => s.name).join(', ')} did not list tools: in mcpgov.yaml, tools not registered`,
    );
  return failed.length > 0 || result.unwrapped.length > 0 || result.skipped.length > 0
    ? EXIT.failed
    : EXIT.ok;
}

/** The client config, or one line saying why it cannot be used. */
async function readClientConfig(file: string): Promise<ClientConfig | string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    return `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  }
  const { config, problem } = parseClientConfig(text);
  if (!config) return problem ?? 'unreadable';
  if (config.servers.length === 0)
    return `no server can be governed: ${config.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`;
  return config;
}

/** The client entries that replace the servers: one gateway, or one sidecar per stdio server. */
function snippetFor(
  client: ClientConfig,
  dir: string,
  servers: readonly InitServer[],
  sidecar: boolean,
): Record<string, unknown> {
  const entries: Record<string, SnippetEntry> = {};
  if (!sidecar) {
    const env = Object.assign({}, ...servers.map((s) => s.secrets)) as Record<string, string>;
    entries['mcpgov'] = {
      command: 'npx',
      args: ['-y', 'mcpgov', 'gateway', '--stdio', '--config', path.join(dir, 'mcpgov.yaml')],
      env,
    };
    return clientSnippet(client.format, entries);
  }
  for (const s of servers) {
    if (s.client.kind !== 'stdio') continue;
    // The wrapped server sees the sidecar's environment, so its own env stays in its client entry.
    entries[s.from] = {
      command: 'npx',
      args: [
        '-y',
        'mcpgov',
        'sidecar',
        '-c',
        path.join(dir, 'sidecars', `${s.name}.yaml`),
        '--name',
        s.name,
        '--prefix',
        '--',
        s.client.command,
        ...s.client.args,
      ],
      env: s.client.env,
      cwd: s.client.cwd,
    };
  }
  return clientSnippet(client.format, entries);
}

function summarize(
  dir: string,
  files: string[],
  servers: readonly InitServer[],
  listed: readonly ServerTools[],
  client: ClientConfig | undefined,
): InitResult {
  const byServer = new Map(listed.map((l) => [l.server, l]));
  return {
    dir,
    files: files.map((f) => path.join(dir, f)),
    servers: servers.map((s) => {
      const l = byServer.get(s.name);
      return {
        name: s.name,
        from: s.from,
        type: s.entry.type,
        ...(l?.tools ? { tools: l.tools.length } : { error: l?.missing ?? 'not listed' }),
      };
    }),
    tools: listed.flatMap((l) =>
      (l.tools ?? []).map((t) => ({
        name: `${l.server}__${t.name}`,
        risk_tier: guessTier(t.annotations).tier,
      })),
    ),
    secrets: servers.flatMap((s) => Object.keys(s.secrets)),
    skipped: client?.skipped ?? [],
    ignored: client?.ignored ?? [],
    unwrapped: [],
  };
}

/** The human report: files, servers, what needs attention, and the client block to paste. */
function report(result: InitResult, noProbe: boolean): void {
  for (const f of result.files) out(`wrote ${f}`);
  for (const s of result.servers) {
    const what =
      s.tools !== undefined ? `${s.tools} tools registered for review` : `no tools registered: ${s.error}`;
    out(`server ${s.name}${s.from === s.name ? '' : ` (was "${s.from}")`}: ${what}`);
  }
  if (result.secrets.length > 0)
    out(
      `secret-looking values are not in mcpgov.yaml: it reads \${env:NAME} for ${result.secrets.join(', ')}; ` +
        'the client config block below passes them',
    );
  if (result.ignored.length > 0) err(`mcpgov init: ignored client config keys: ${result.ignored.join(', ')}`);
  for (const s of result.skipped) err(`mcpgov init: left out ${s.name}: ${s.reason}`);
  for (const name of result.unwrapped)
    err(
      `mcpgov init: ${name} is reached over HTTP: a sidecar wraps stdio servers only; use the gateway for it`,
    );
  if (noProbe) out('no server was started (--no-probe): add their tools to registries/tools.yaml');
  if (result.snippet) {
    out('\nReplace the servers in your client config with:\n');
    out(JSON.stringify(result.snippet, null, 2));
  }
}
