import { randomUUID } from 'node:crypto';
import { ApproverAuth } from '../src/approvals/approver-auth.js';
import { prepareLocalDevApprover } from '../src/approvals/local-dev.js';
import type { ResolvedConfig } from '../src/config/load-config.js';
import type { Identity } from '../src/core/identity.js';
import { startAdminServer, type AdminServer } from '../src/control/admin/admin-server.js';
import { createFleet, type Fleet } from '../src/control/fleet.js';
import { metricsRoute, probeRoutes, type Route } from '../src/metrics/endpoints.js';
import { evidenceCheck, type ReadinessCheck } from '../src/metrics/health.js';
import type { PepMetrics } from '../src/metrics/pep-metrics.js';
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
import { ClientRelay } from './client-relay.js';
import { createDownstreams, type Downstream, type DownstreamState } from './downstream.js';
import { SessionServers } from './session-server.js';

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
export interface Gateway extends Pick<Kernel, 'enforcer' | 'evidence' | 'policy' | 'approvals' | 'metrics'> {
  /** `http://host:port/mcp` when serving HTTP. */
  httpUrl?: string;
  /** `http://host:port` of the admin listener (approvals API, approver console) when `admin` is set. */
  adminUrl?: string;
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
  const kernel = await openKernel({ config, kind: 'gateway', log, clock: opts.clock, inlineSync: true });
  const { pep, policy, evidence } = kernel;
  const fleet = createFleet({ config, pep, policy, evidence, log, clock: opts.clock });
  const downstreams = createDownstreams(config, log, SERVER_INFO);
  watchDownstreams(downstreams, kernel.metrics);
  // The catalog listens before any server lists its tools: the first list a server sends is the one
  // its tools are first seen with.
  const catalog = new Catalog(
    downstreams,
    (server, defs, prefix) => kernel.definitions.review(server, defs, prefix),
    log,
  );
  // Before any server starts: a server may ask its client for roots as soon as it is initialized.
  const relay = new ClientRelay(downstreams, evidence, kernel.pep, log);
  await Promise.all([...downstreams.values()].map((ds) => ds.start()));
  const sessions = new SessionServers(kernel, catalog, relay, SERVER_INFO);
  const probes = probeRoutes(readinessChecks(kernel, downstreams));
  const at = { config, kernel, sessions, log, probes };
  const http = opts.http ? await serveHttp(opts.http, { ...at, fleet }) : undefined;
  const stdio = opts.stdio ? await serveStdio(at) : undefined;
  const admin = config.admin ? await serveAdmin(config.admin.http, at) : undefined;
  await prepareLocalDevApprover(config.approvals, config.state.dir, log, admin?.url);
  kernel.start();
  fleet.start();

  return {
    enforcer: kernel.enforcer,
    approvals: kernel.approvals,
    evidence,
    policy,
    metrics: kernel.metrics,
    httpUrl: http?.url,
    adminUrl: admin?.url,
    downstreams,
    fleet,
    async close() {
      // Held calls are answered while their transports can still carry the answer; then listeners
      // close, so no call starts; then every session's chain closes and the log is sealed.
      await kernel.interruptHeld();
      await fleet.close();
      await admin?.close();
      await http?.close();
      await stdio?.close();
      await sessions.close();
      await kernel.close();
      await Promise.all([...downstreams.values()].map((ds) => ds.stop()));
    },
  };
}

interface Listening {
  config: ResolvedConfig;
  kernel: Kernel;
  sessions: SessionServers;
  log: Logger;
  /** `/healthz` and `/readyz`, served on every HTTP listener. */
  probes: Route;
}

/**
 * What `/readyz` checks: a policy is in force; the evidence log can take records (not failed, its
 * folder writable now); at least one downstream server is up (or none is configured).
 */
function readinessChecks(
  kernel: Kernel,
  downstreams: ReadonlyMap<string, Downstream>,
): Record<string, ReadinessCheck> {
  return {
    policy: () => kernel.policy.status().policy.active !== null,
    evidence: evidenceCheck(kernel.evidence),
    downstream: () => downstreams.size === 0 || [...downstreams.values()].some((ds) => ds.state === 'up'),
  };
}

/** Keeps the metrics' view of each downstream server: up or not, and its restarts. */
function watchDownstreams(downstreams: ReadonlyMap<string, Downstream>, metrics: PepMetrics): void {
  for (const ds of downstreams.values()) {
    metrics.downstreamState(ds.name, false);
    let previous = ds.state;
    ds.on('state', (state: DownstreamState) => {
      // Starting again after going away is a restart; the first start is not.
      metrics.downstreamState(ds.name, state === 'up', state === 'starting' && previous === 'down');
      previous = state;
    });
  }
}

/**
 * Serves Streamable HTTP (and the fleet's endpoints) on HOST:PORT. When tokens are verified, the
 * listener is an OAuth 2.1 resource server (MCP authorization): every request is authenticated, and
 * clients discover how to get a token from the RFC 9728 metadata. The resource URL defaults to the
 * listener's, known once it has its port.
 */
async function serveHttp(hostPort: string, at: Listening & { fleet: Fleet }): Promise<HttpUpstream> {
  const { config, kernel, fleet, sessions, log, probes } = at;
  // The metadata names the listener's own URL, known only once it listens.
  const listening: { url?: string } = {};
  const protectedResource = verifiesTokens(config.identity);
  const resource = () =>
    protectedResource && listening.url ? resourceUrl(config.identity, listening.url) : undefined;
  const metadataAt = () => {
    const url = resource();
    return url === undefined ? undefined : metadataUrl(url);
  };
  const metadata = metadataRoute(ENDPOINT, () => {
    const url = resource();
    return url === undefined ? undefined : resourceMetadata(url, config.identity);
  });
  const http = await startHttpUpstream({
    ...parseHostPort(hostPort),
    path: ENDPOINT,
    maxMessageBytes: config.limits.max_message_bytes,
    maxSessions: config.limits.max_sessions,
    maxSessionsPerCaller: config.limits.max_sessions_per_caller,
    sessionIdleMs: config.limits.session_idle_seconds * 1000,
    sessionCaller: (principal) => sessionCaller(principal as Identity),
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
    openSession: (transport, principal, id) => sessions.connect(transport, principal as Identity, id),
    probes,
    routes: async (req, res, url) => (await metadata(req, res, url)) || fleet.routes(req, res, url),
    upgrade: fleet.upgrade,
  });
  listening.url = http.url;
  log('info', 'serving Streamable HTTP', { url: http.url, resource: resource() });
  return http;
}

/**
 * Serves the approvals API, the approver console and `/metrics` on `admin.http`, a listener of its
 * own: approvers and scrapers never share the MCP port with agents.
 */
async function serveAdmin(hostPort: string, at: Listening): Promise<AdminServer> {
  const { config, kernel, log } = at;
  const auth = await ApproverAuth.create({ approvals: config.approvals, stateDir: config.state.dir });
  return startAdminServer({
    ...parseHostPort(hostPort),
    approvals: kernel.approvals,
    auth,
    allowedHosts: config.listen.allowed_hosts,
    allowedOrigins: config.listen.allowed_origins,
    publicUrl: config.admin?.public_url,
    log,
    probes: at.probes,
    metrics: metricsRoute(kernel.metrics),
  });
}

/** Serves one session on this process's stdin/stdout, as the caller whose token is in MCPGOV_TOKEN. */
async function serveStdio(at: Listening): Promise<LineStdioServerTransport> {
  const auth = await at.kernel.authenticate(process.env['MCPGOV_TOKEN']);
  if (!auth.ok) throw new Error(`stdio caller not authenticated: ${auth.message}`);
  const stdio = new LineStdioServerTransport({
    maxMessageBytes: at.config.limits.max_message_bytes,
    log: at.log,
  });
  await at.sessions.connect(stdio, auth.identity, randomUUID());
  return stdio;
}

/** Who counts as one caller for the per-caller session cap: a verified identity (else the remote address). */
function sessionCaller(identity: Identity): string | undefined {
  if (!identity.verified) return undefined;
  return `identity:${JSON.stringify([identity.iss, identity.sub, identity.spiffe_id, identity.client_id])}`;
}

/** Splits `HOST:PORT` (IPv6 in brackets). */
export function parseHostPort(value: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value);
  if (!match) throw new Error(`expected HOST:PORT, got "${value}"`);
  return { host: (match[1] ?? '').replace(/^\[|\]$/g, ''), port: Number(match[2]) };
}
