import { HttpServerSchema, StdioServerSchema } from '../config/schema.js';
import type { ClientServer } from '../config/client-config.js';
import type { InitServer, ListedTool } from '../config/init-plan.js';
import type { ServerTools } from '../config/init-render.js';
import type { Logger } from '../util/log.js';
import { VERSION } from '../util/version.js';
import { Downstream } from '../../mcp-gateway/downstream.js';

/** How long one server may take to start and list its tools (an `npx -y` server may download first). */
const PROBE_TIMEOUT_MS = 60_000;

/**
 * Starts each server as the client would (its own environment, secrets included), lists its tools and
 * stops it; the servers start side by side. A server that does not come up in time is reported with
 * the reason it gave, never retried.
 */
export async function probeServers(servers: readonly InitServer[], cwd: string): Promise<ServerTools[]> {
  return Promise.all(servers.map((s) => probeServer(s.name, s.client, cwd)));
}

async function probeServer(name: string, client: ClientServer, cwd: string): Promise<ServerTools> {
  const config =
    client.kind === 'stdio'
      ? StdioServerSchema.safeParse({
          command: client.command,
          args: client.args,
          env: client.env,
          cwd: client.cwd,
        })
      : HttpServerSchema.safeParse({ url: client.url, headers: client.headers });
  if (!config.success) return { server: name, missing: config.error.issues[0]?.message ?? 'invalid entry' };
  let failure = 'did not start';
  const log: Logger = (_level, msg, fields) => {
    if (msg === 'downstream server failed to start' && typeof fields?.['error'] === 'string')
      failure = fields['error'];
  };
  const downstream = new Downstream(name, config.data, {
    log,
    cwd,
    clientInfo: { name: 'mcpgov-init', version: VERSION },
    restart: { initialDelayMs: PROBE_TIMEOUT_MS * 2 },
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        failure = `no answer in ${PROBE_TIMEOUT_MS / 1000} s`;
        resolve();
      }, PROBE_TIMEOUT_MS);
    });
    await Promise.race([downstream.start(), timedOut]);
    if (downstream.state !== 'up') return { server: name, missing: failure };
    const tools: ListedTool[] = downstream.tools.map((t) => ({
      name: t.name,
      ...(t.annotations ? { annotations: t.annotations } : {}),
    }));
    return { server: name, tools };
  } finally {
    clearTimeout(timer);
    await downstream.stop();
  }
}
