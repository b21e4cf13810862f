import { randomUUID } from 'node:crypto';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { ResolvedConfig } from '../src/config/load-config.js';
import type { Identity } from '../src/core/identity.js';
import { createFleet, type Fleet } from '../src/control/fleet.js';
import { openKernel, type Kernel } from '../src/pep/kernel.js';
import {
  bearerChallenge,
  metadataUrl,
  resourceMetadata,
  resourceUrl,
  verifiesTokens,
} from '../src/identity/resource-metadata.js';
import { bearerAuth, metadataRoute } from '../src/transport/bearer-auth.js';
import { startHttpUpstream, type HttpUpstream } from '../src/transport/http-upstream.js';
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
/** The Streamable HTTP endpoint's path. */
const ENDPOINT = '/mcp';
const SESSION_MISMATCH = 'credentials differ from those the session was opened with';

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
    // An OAuth 2.1 resource server (MCP authorization) when tokens are verified; the resource URL
    // defaults to the listener's, known once it has its port.
    const protectedResource = verifiesTokens(config.identity);
    const resource = () => (protectedResource && http ? resourceUrl(config.identity, http.url) : undefined);
    const metadataAt = () => {
      const at = resource();
      return at === undefined ? undefined : metadataUrl(at);
    };
    const metadata = metadataRoute(ENDPOINT, () => {
      const at = resource();
      return at === undefined ? undefined : resourceMetadata(at, config.identity);
    });
    http = await startHttpUpstream({
      ...parseHostPort(opts.http),
      path: ENDPOINT,
      maxMessageBytes: config.limits.max_message_bytes,
      allowedHosts: config.listen.allowed_hosts,
      allowedOrigins: config.listen.allowed_origins,
      log,
      authenticate: bearerAuth({ authenticate: kernel.authenticate, metadataUrl: metadataAt, log }),
      challenge: () =>
        bearerChallenge({
          error: 'invalid_token',
          description: SESSION_MISMATCH,
          resourceMetadata: metadataAt(),
        }),
      openSession: (transport, principal, id) => connect(transport, principal as Identity, id),
      routes: async (req, res, url) => metadata(req, res, url) || fleet.routes(req, res, url),
      upgrade: fleet.upgrade,
    });
    log('info', 'serving Streamable HTTP', { url: http.url, resource: resource() });
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

/** Splits `HOST:PORT` (IPv6 in brackets). */
export function parseHostPort(value: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value);
  if (!match) throw new Error(`expected HOST:PORT, got "${value}"`);
  return { host: (match[1] ?? '').replace(/^\[|\]$/g, ''), port: Number(match[2]) };
}
