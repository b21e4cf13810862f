import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { relay } from '../transport/relay.js';
import { LineStdioServerTransport } from '../transport/stdio-upstream.js';
import { createLogger } from '../util/log.js';
import { EXIT, UsageError } from './io.js';

export const connectHelp = `Usage: mcpgov connect URL [--token-env NAME | --token-file FILE]

Serves MCP on stdin/stdout and relays the session to a remote gateway's Streamable HTTP endpoint,
presenting a bearer token: how a desktop client that speaks stdio (Claude Desktop, an IDE agent, the
MCP Inspector's CLI) reaches a gateway that requires tokens. Nothing is governed here: the gateway
decides. The token is read once at start and never logged.

Options:
  --token-env NAME   environment variable holding the token (default: MCPGOV_TOKEN, if set)
  --token-file FILE  file holding the token (its first line)
  -h, --help         show this help

A request the gateway refuses at the HTTP level (401 without a valid token, 403, 503) is answered
with JSON-RPC error -32030 naming the status. Logs go to stderr.`;

/** Largest message relayed from the client, as the gateway's own default. */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/** `mcpgov connect URL`: a stdio-to-HTTP relay that adds the caller's bearer token. */
export async function connectCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'token-env': { type: 'string' }, 'token-file': { type: 'string' } },
  });
  const [target, ...extra] = positionals;
  if (target === undefined || extra.length > 0) throw new UsageError('give exactly one URL');
  if (!URL.canParse(target) || !/^https?:$/.test(new URL(target).protocol))
    throw new UsageError(`not an http(s) URL: ${target}`);
  if (values['token-env'] !== undefined && values['token-file'] !== undefined)
    throw new UsageError('give --token-env or --token-file, not both');
  const token = await readToken(values['token-env'], values['token-file']);
  const log = createLogger('connect');
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const far = new StreamableHTTPClientTransport(new URL(target), { requestInit: { headers } });
  const near = new LineStdioServerTransport({ maxMessageBytes: MAX_MESSAGE_BYTES, log });
  log('info', 'relaying stdio to the gateway', { url: target, token: token !== undefined });
  await relay(near, far, log);
  return EXIT.ok;
}

async function readToken(env: string | undefined, file: string | undefined): Promise<string | undefined> {
  if (file !== undefined) {
    const text = (await readFile(file, 'utf8')).split('\n')[0]?.trim();
    if (!text) throw new UsageError(`no token in ${file}`);
    return text;
  }
  const name = env ?? 'MCPGOV_TOKEN';
  const value = process.env[name]?.trim();
  if (env !== undefined && !value) throw new UsageError(`the environment variable ${name} is not set`);
  return value || undefined;
}
