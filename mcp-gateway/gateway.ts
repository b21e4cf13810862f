import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { ResolvedConfig } from '../src/config/load-config.js';
import type { Identity } from '../src/core/identity.js';
import { createFleet, type Fleet } from '../src/control/fleet.js';
import { openKernel, type Kernel } from '../src/pep/kernel.js';
import { startHttpUpstream, type HttpAuthResult, type HttpUpstream } from '../src/transport/http-upstream.js';
import { LineStdioServerTransport } from '../src/transport/stdio-upstream.js';
import { createLogger, type Logger } from '../src/util/log.js';
import { VERSION } from '../src/util/version.js';
import { Catalog } from './catalog.js';
import { startDownstreams, type Downstream } from './downstream.js';
import { createSessionServer } from './session-server.js';

export interface GatewayOptions {
  config: ResolvedConfig;
  /** Serve one session over this process's stdin/stdout. */
  stdio?: boolean;
  /** Serve Streamable HTTP on HOST:PORT (port 0 picks a free one). */
  http?: string;
  log?: Logger;
  /** Injected clock for the pipeline (tests). */
  clock?: () => number;
}

/** A running gateway: the enforcement kernel, its downstream servers and its listeners. */
export interface Gateway extends Pick<Kernel, 'enforcer' | 'evidence' | 'policy'> {
  /** `http://host:port/mcp` when serving HTTP. */
  httpUrl?: string;
  downstreams: ReadonlyMap<string, Downstream>;
  /** Status, drift, the policy endpoints and the sidecars' control channel. */
  fleet: Fleet;
  close(): Promise<void>;
}

const SERVER_INFO = { name: 'mcpgov-gateway', version: VERSION };

/** Starts the gateway: the kernel (evidence and policy) first, then downstream servers, then listeners. */
export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const { config } = opts;
  const log = opts.log ?? createLogger('gateway');
  const kernel = await openKernel({ config, kind: 'gateway', log, clock: opts.clock });
  const { pep, policy, evidence } = kernel;
  const fleet = createFleet({ config, pep, policy, evidence, log, clock: opts.clock });
  const downstreams = await startDownstreams(config, log, SERVER_INFO);
  const catalog = new Catalog(downstreams);
  const servers = new Set<Server>();
  catalog.onChange((kind) => {
    for (const server of servers) notifyListChanged(server, kind);
  });
  kernel.onPolicyChange(() => {
    for (const server of servers) notifyListChanged(server, 'tools');
  });
  const connect = async (transport: Transport, identity: Identity, sessionId: string) => {
    const session = await kernel.openSession(identity, sessionId);
    const { server, callTool } = createSessionServer(
      { catalog, enforcer: kernel.enforcer, serverInfo: SERVER_INFO },
      session,
    );
    if (transport instanceof LineStdioServerTransport) transport.toolCalls = callTool;
    servers.add(server);
    server.onclose = () => {
      servers.delete(server);
      void kernel.closeSession(session);
    };
    await server.connect(transport);
  };

  let http: HttpUpstream | undefined;
  if (opts.http) {
    http = await startHttpUpstream({
      ...parseHostPort(opts.http),
      maxMessageBytes: config.limits.max_message_bytes,
      maxSessions: config.limits.max_sessions,
      maxSessionsPerCaller: config.limits.max_sessions_per_caller,
      sessionIdleMs: config.limits.session_idle_seconds * 1000,
      sessionCaller: (principal) => sessionCaller(principal as Identity),
      allowedHosts: config.listen.allowed_hosts,
      allowedOrigins: config.listen.allowed_origins,
      log,
      authenticate: (req) => authenticateHttp(kernel, req),
      openSession: (transport, principal, id) => connect(transport, principal as Identity, id),
      routes: fleet.routes,
      upgrade: fleet.upgrade,
    });
    log('info', 'serving Streamable HTTP', { url: http.url });
  }
  let stdio: LineStdioServerTransport | undefined;
  if (opts.stdio) {
    const auth = await kernel.authenticate(process.env['MCPGOV_TOKEN']);
    if (!auth.ok) throw new Error(`stdio caller not authenticated: ${auth.message}`);
    stdio = new LineStdioServerTransport({ maxMessageBytes: config.limits.max_message_bytes, log });
    await connect(stdio, auth.identity, randomUUID());
  }
  kernel.start();
  fleet.start();

  return {
    enforcer: kernel.enforcer,
    evidence,
    policy,
    httpUrl: http?.url,
    downstreams,
    fleet,
    async close() {
      // Listeners first, so no call starts; then every session's chain closes and the log is sealed.
      await fleet.close();
      await http?.close();
      await stdio?.close();
      await Promise.all([...servers].map((s) => s.close().catch(() => {})));
      await kernel.close();
      await Promise.all([...downstreams.values()].map((ds) => ds.stop()));
    },
  };
}

function notifyListChanged(server: Server, kind: 'tools' | 'resources' | 'prompts'): void {
  const notify =
    kind === 'tools'
      ? server.sendToolListChanged()
      : kind === 'resources'
        ? server.sendResourceListChanged()
        : server.sendPromptListChanged();
  notify.catch(() => {});
}

/**
 * Whom an HTTP session counts against for `limits.max_sessions_per_caller`: a verified identity by its
 * issuer and subject; an unverified caller (the default agent) by remote address, which the listener uses.
 */
function sessionCaller(identity: Identity): string | undefined {
  if (!identity.verified) return undefined;
  return `identity:${JSON.stringify([identity.iss, identity.sub, identity.spiffe_id, identity.client_id])}`;
}

/** Authenticates an HTTP session's initialize request by its bearer token. */
async function authenticateHttp(kernel: Kernel, req: IncomingMessage): Promise<HttpAuthResult> {
  const header = req.headers.authorization;
  const token = header === undefined ? undefined : /^Bearer\s+(\S+)$/i.exec(header)?.[1];
  const result = await kernel.authenticate(token);
  if (result.ok) return { ok: true, principal: result.identity };
  const error = result.code === 'invalid_token' ? 'invalid_token' : 'invalid_request';
  return { ok: false, status: 401, message: result.message, wwwAuthenticate: `Bearer error="${error}"` };
}

/** Splits `HOST:PORT` (IPv6 in brackets). */
export function parseHostPort(value: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value);
  if (!match) throw new Error(`expected HOST:PORT, got "${value}"`);
  return { host: (match[1] ?? '').replace(/^\[|\]$/g, ''), port: Number(match[2]) };
}
