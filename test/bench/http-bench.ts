/**
 * Streamable HTTP, the same SDK client for every path: the governed gateway against servers that
 * only carry MCP over HTTP (supergateway and mcp-proxy wrapping server-everything's stdio, and
 * server-everything's own Streamable HTTP mode). Each is its own process on a loopback port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect as tcpConnect } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { freePort } from '../helpers/demo-copy.js';
import { REFERENCE_SERVERS, REPO } from '../helpers/fixture.js';
import { startGatewayProcess } from '../helpers/gateway-process.js';
import { measure, ratioOf, type Numbers, type Skipped } from './measure.js';

/** The HTTP paths, in the order they run. */
export const HTTP_PATHS = ['gateway', 'supergateway', 'mcp_proxy', 'everything'] as const;
export type HttpPath = (typeof HTTP_PATHS)[number];

/** Each path's figures, or why it was not measured. */
export type HttpNumbers = Record<HttpPath, Numbers | Skipped>;

/** How long a listener gets to accept connections, and to exit after SIGTERM. */
const START_MS = 30_000;
const STOP_MS = 5_000;

const SUPERGATEWAY = path.join(REPO, 'node_modules/supergateway/dist/index.js');
const MCP_PROXY = path.join(REPO, 'node_modules/mcp-proxy/dist/bin/mcp-proxy.mjs');

/** A process serving MCP over HTTP, started by the bench. */
interface Listener {
  url: string;
  pid?: number;
  /** The MCP tool name of server-everything's echo behind this listener. */
  tool: string;
  stop(): Promise<void>;
}

/** Measures every HTTP path with `calls` calls each; a path that fails is reported skipped. */
export async function measureHttp(
  gatewayConfig: string,
  calls: number,
): Promise<{ http: HttpNumbers; ratio?: { seq: number; conc: number } }> {
  const starters: Record<HttpPath, () => Promise<Listener>> = {
    gateway: () => startGateway(gatewayConfig),
    supergateway: () => startSupergateway(),
    mcp_proxy: () => startMcpProxy(),
    everything: () => startEverything(),
  };
  const http = {} as HttpNumbers;
  for (const name of HTTP_PATHS) http[name] = await measureListener(starters[name], calls);
  const gateway = http.gateway;
  const supergateway = http.supergateway;
  const ratio =
    'skipped' in gateway || 'skipped' in supergateway ? undefined : ratioOf(gateway, supergateway);
  return { http, ...(ratio ? { ratio } : {}) };
}

async function measureListener(start: () => Promise<Listener>, calls: number): Promise<Numbers | Skipped> {
  let listener: Listener | undefined;
  const client = new Client({ name: 'mcpgov-bench', version: '0' });
  try {
    listener = await start();
    await client.connect(new StreamableHTTPClientTransport(new URL(listener.url)));
    // The CPU counted is the listening process's own: for server-everything, the server's work too.
    return await measure({ client, pid: listener.pid }, listener.tool, calls, true);
  } catch (err) {
    return { skipped: (err as Error).message.slice(0, 500) };
  } finally {
    await client.close().catch(() => {});
    await listener?.stop();
  }
}

/** The governed gateway over HTTP on the stdio gateway's fixture (`mcpgov gateway --http 127.0.0.1:0`). */
async function startGateway(configFile: string): Promise<Listener> {
  const gateway = await startGatewayProcess(configFile);
  return {
    url: gateway.url,
    pid: gateway.child.pid,
    tool: 'everything__echo',
    async stop() {
      gateway.child.kill('SIGTERM');
      await gateway.exited;
    },
  };
}

/** supergateway: server-everything's stdio as stateful Streamable HTTP (one server per session). */
async function startSupergateway(): Promise<Listener> {
  const port = await freePort();
  const server = `${quote(process.execPath)} ${quote(REFERENCE_SERVERS.everything)} stdio`;
  return startProcess(
    'supergateway',
    [
      SUPERGATEWAY,
      '--stdio',
      server,
      '--outputTransport',
      'streamableHttp',
      '--stateful',
      '--port',
      String(port),
      '--logLevel',
      'none',
    ],
    {},
    port,
  );
}

/** mcp-proxy: server-everything's stdio on Streamable HTTP at /mcp (and SSE, its default). */
async function startMcpProxy(): Promise<Listener> {
  const port = await freePort();
  return startProcess(
    'mcp-proxy',
    [
      MCP_PROXY,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--',
      process.execPath,
      REFERENCE_SERVERS.everything,
      'stdio',
    ],
    {},
    port,
  );
}

/** server-everything's own Streamable HTTP mode; it takes its port from PORT. */
async function startEverything(): Promise<Listener> {
  const port = await freePort();
  return startProcess(
    'server-everything',
    [REFERENCE_SERVERS.everything, 'streamableHttp'],
    { PORT: String(port) },
    port,
  );
}

/**
 * Starts `node args` in a process group of its own (so that the servers it spawns stop with it) and
 * resolves once 127.0.0.1:port accepts connections, with the endpoint /mcp.
 */
async function startProcess(
  name: string,
  args: string[],
  env: Record<string, string>,
  port: number,
): Promise<Listener> {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = () => stopGroup(child, exited);
  try {
    const deadline = Date.now() + START_MS;
    while (!(await accepts(port))) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}): ${stderr.trim()}`);
      if (Date.now() > deadline) throw new Error(`${name} did not listen on ${port} within ${START_MS} ms`);
      await sleep(100);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `http://127.0.0.1:${port}/mcp`, pid: child.pid, tool: 'echo', stop };
}

/** SIGTERM to the process group, then SIGKILL to what is left of it after {@link STOP_MS}. */
async function stopGroup(child: ChildProcess, exited: Promise<void>): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-pid, s);
    } catch {
      // the group is gone already
    }
  };
  signal('SIGTERM');
  await Promise.race([exited, sleep(STOP_MS)]);
  signal('SIGKILL');
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A word for a command line that supergateway splits on spaces (paths here have none, but quote anyway). */
function quote(word: string): string {
  return /^[\w./-]+$/.test(word) ? word : `"${word.replaceAll('"', '\\"')}"`;
}
