import { readFile } from 'node:fs/promises';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { relay } from '../transport/relay.js';
import { LineStdioServerTransport } from '../transport/stdio-upstream.js';
import { createLogger } from '../util/log.js';
import { EXIT, UsageError } from './io.js';

/** Options of `mcpgov connect` (commands/serve.ts). */
export interface ConnectOptions {
  tokenEnv?: string;
  tokenFile?: string;
}

/** Largest message relayed from the client, as the gateway's own default. */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/** `mcpgov connect URL`: a stdio-to-HTTP relay that adds the caller's bearer token. */
export async function connectCommand(values: ConnectOptions, target: string): Promise<number> {
  const token = await readToken(values.tokenEnv, values.tokenFile);
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
