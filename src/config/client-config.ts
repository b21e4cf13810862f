/**
 * MCP client configs, read so `mcpgov init --from` can put their servers behind mcpgov: Claude
 * Desktop's `claude_desktop_config.json` and Cursor's `.cursor/mcp.json` (`mcpServers`), and VS Code's
 * `mcp.json` (`servers`, with `type`). These are other programs' files, so unknown keys are reported
 * as ignored rather than refused; only what a server needs to run is checked.
 */

/** Which top-level key held the servers: the shape the replacement client snippet takes too. */
export type ClientFormat = 'mcpServers' | 'servers';

/** A server the client starts as a child process speaking stdio. */
export interface ClientStdioServer {
  name: string;
  kind: 'stdio';
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
}

/** A server the client reaches over Streamable HTTP. */
export interface ClientHttpServer {
  name: string;
  kind: 'http';
  url: string;
  headers: Record<string, string>;
}

export type ClientServer = ClientStdioServer | ClientHttpServer;

/** A client config's servers, with what could not be taken over and why. */
export interface ClientConfig {
  format: ClientFormat;
  servers: ClientServer[];
  /** Entries left out, each with the reason (an SSE server, an entry without command or url). */
  skipped: { name: string; reason: string }[];
  /** Keys read and ignored (`disabled`, `envFile`, ...), as `name.key`. */
  ignored: string[];
}

/** Keys of a server entry that mcpgov takes over; any other is reported as ignored. */
const KNOWN_KEYS = new Set(['type', 'command', 'args', 'env', 'cwd', 'url', 'headers']);

/** Parses a client config's text; a problem is one line saying what is wrong with the file. */
export function parseClientConfig(text: string): { config?: ClientConfig; problem?: string } {
  let data: unknown;
  try {
    data = JSON.parse(stripJsonComments(text));
  } catch (e) {
    return { problem: `not JSON: ${(e as Error).message}` };
  }
  if (!isRecord(data)) return { problem: 'not a JSON object' };
  const format: ClientFormat | undefined = isRecord(data['mcpServers'])
    ? 'mcpServers'
    : isRecord(data['servers'])
      ? 'servers'
      : undefined;
  if (!format) return { problem: 'no "mcpServers" (Claude Desktop, Cursor) or "servers" (VS Code) object' };
  const entries = Object.entries(data[format] as Record<string, unknown>);
  if (entries.length === 0) return { problem: `no servers in "${format}"` };
  const config: ClientConfig = { format, servers: [], skipped: [], ignored: [] };
  for (const [name, entry] of entries) {
    const read = readServer(name, entry);
    if ('reason' in read) config.skipped.push({ name, reason: read.reason });
    else config.servers.push(read);
    if (isRecord(entry))
      config.ignored.push(...Object.keys(entry).flatMap((k) => (KNOWN_KEYS.has(k) ? [] : [`${name}.${k}`])));
  }
  return { config };
}

/** One server entry, or why it cannot be governed. */
function readServer(name: string, entry: unknown): ClientServer | { reason: string } {
  if (!isRecord(entry)) return { reason: 'not an object' };
  const type = entry['type'];
  if (type === 'sse') return { reason: 'an SSE server: mcpgov reaches servers over Streamable HTTP only' };
  if (type !== undefined && type !== 'stdio' && type !== 'http')
    return { reason: `type "${String(type)}" is neither stdio nor http` };
  const { command, url } = entry;
  if (typeof command === 'string' && command !== '' && type !== 'http') {
    const args = entry['args'] ?? [];
    if (!Array.isArray(args) || !args.every((a) => typeof a === 'string'))
      return { reason: 'args is not a list of strings' };
    if (runsMcpgov([command, ...(args as string[])]))
      return { reason: 'already runs mcpgov (a gateway or sidecar would govern itself)' };
    const env = stringRecord(entry['env']);
    if (!env) return { reason: 'env is not an object of strings' };
    const cwd = typeof entry['cwd'] === 'string' ? entry['cwd'] : undefined;
    return { name, kind: 'stdio', command, args: args as string[], env, ...(cwd ? { cwd } : {}) };
  }
  if (typeof url === 'string' && type !== 'stdio') {
    if (!/^https?:\/\//i.test(url)) return { reason: `url ${url} is not http(s)` };
    const headers = stringRecord(entry['headers']);
    if (!headers) return { reason: 'headers is not an object of strings' };
    return { name, kind: 'http', url, headers };
  }
  return {
    reason: type ? `type ${type} without ${type === 'http' ? 'url' : 'command'}` : 'neither command nor url',
  };
}

/**
 * A command line that runs an mcpgov gateway, sidecar or relay: `mcpgov`, `mcpgov@1.2.3` or its bin
 * file, followed by one of those commands (a folder that happens to be called mcpgov is not one).
 */
function runsMcpgov(line: readonly string[]): boolean {
  const at = line.findIndex((arg) =>
    arg.includes('/')
      ? arg.endsWith('/bin-mcpgov.js') || arg.endsWith('/.bin/mcpgov')
      : arg === 'mcpgov' || arg.startsWith('mcpgov@'),
  );
  return at !== -1 && line.slice(at + 1).some((arg) => ['gateway', 'sidecar', 'connect'].includes(arg));
}

/** An object of string values (absent counts as empty); undefined when it is anything else. */
function stringRecord(value: unknown): Record<string, string> | undefined {
  if (value === undefined) return {};
  if (!isRecord(value)) return undefined;
  const entries = Object.entries(value);
  return entries.every(([, v]) => typeof v === 'string')
    ? (Object.fromEntries(entries) as Record<string, string>)
    : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * JSON with comments (`//`, `/* *\/`) and trailing commas, as VS Code writes `mcp.json`, turned into
 * plain JSON. A scan rather than a pattern, so text inside strings is left alone.
 */
export function stripJsonComments(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      const start = i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      out += text.slice(start, ++i);
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? text.length : end + 2;
    } else if (c === ',') {
      // A comma followed only by blanks and comments before a closing bracket is a trailing comma.
      let j = i + 1;
      while (j < text.length && /\s/.test(text[j]!)) j++;
      if (text[j] !== '}' && text[j] !== ']') out += c;
      i++;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}
