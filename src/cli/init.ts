import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
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

/** The options of `mcpgov init` (commands/init.ts defines and parses them). */
export interface InitOptions {
  from?: string;
  sidecar?: boolean;
  dir: string;
  force?: boolean;
  json?: boolean;
  /** false with --no-probe. */
  probe: boolean;
}

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
export async function initCommand(values: InitOptions): Promise<number> {
  const noProbe = values.probe === false;
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

  const listed: ServerTools[] = noProbe
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
  if (client) result.snippet = snippetFor(client, dir, servers, values.sidecar === true);
  const failed = result.servers.filter((s) => s.error !== undefined && !noProbe);
  if (values.json) out(JSON.stringify(result, null, 2));
  else report(result, noProbe);
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
