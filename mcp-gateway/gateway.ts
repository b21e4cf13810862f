import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { checkConfig, type ResolvedConfig } from '../src/config/load-config.js';
import { ConfigError } from '../src/config/yaml-file.js';
import type { EvidenceLog } from '../src/evidence/evidence-log.js';
import { openEvidenceLog } from '../src/evidence/open-log.js';
import { Authenticator } from '../src/identity/authenticate.js';
import { createEnforcer } from '../src/pep/create-enforcer.js';
import type { Enforcer } from '../src/pep/enforcer.js';
import type { PepInfo } from '../src/pep/records.js';
import { usesBundles } from '../src/policy/bundle/config-check.js';
import { PolicyControlPlane } from '../src/policy/bundle/control-plane.js';
import { openPolicy, type PolicyRuntime } from '../src/policy/bundle/runtime.js';
import type { Identity } from '../src/pipeline/types.js';
import { createLogger, type Logger } from '../src/util/log.js';
import { VERSION } from '../src/util/version.js';
import { Catalog } from './catalog.js';
import { ControlServer } from './control-server.js';
import { Downstream } from './downstream.js';
import { startHttpUpstream, type HttpUpstream } from './http-upstream.js';
import { policyRoutes } from './policy-endpoints.js';
import { createSessionServer } from './session-server.js';
import { LineStdioServerTransport } from './stdio-upstream.js';

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

/** A running gateway. */
export interface Gateway {
  /** `http://host:port/mcp` when serving HTTP. */
  httpUrl?: string;
  enforcer: Enforcer;
  evidence: EvidenceLog;
  downstreams: ReadonlyMap<string, Downstream>;
  /** The policy in force and its source: sources, or signed bundles with hot reload. */
  policy: PolicyRuntime;
  /** PEP status reports and drift detection (`/policy/status`). */
  control: PolicyControlPlane;
  /** Sidecars' control channel (`/control`), when serving HTTP. */
  controlServer?: ControlServer;
  close(): Promise<void>;
}

/**
 * Starts the gateway: evidence store and policy first (nothing is served without both), then the
 * downstream servers, then the upstream transports.
 */
export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const { config } = opts;
  const log = opts.log ?? createLogger('gateway');
  const pep: PepInfo = { id: config.pep.id ?? `gateway@${hostname()}`, kind: 'gateway', version: VERSION };

  const configProblems = checkConfig(config);
  if (configProblems.length > 0) throw new ConfigError(configProblems);
  // A bundle's activation (or refusal) is evidence, so with bundles the log opens before the policy.
  let evidence = usesBundles(config.policy) ? await openEvidenceLog(config, pep.id, log) : undefined;
  let policy: PolicyRuntime;
  try {
    policy = await openPolicy(config, { pep, evidence, log, clock: opts.clock });
    const problems = checkConfig(config, new Set(policy.initial.agents.file.agents.map((a) => a.id)));
    if (problems.length > 0) throw new ConfigError(problems);
  } catch (err) {
    await evidence?.close();
    throw err;
  }
  const authenticator = await Authenticator.create(config.identity);
  evidence ??= await openEvidenceLog(config, pep.id, log);
  const control = new PolicyControlPlane({
    policy: config.policy,
    self: pep,
    approved: () => policy.approved(),
    evidence,
    log,
    clock: opts.clock,
  });
  policy.onStatus((status) => void control.reportSelf(status));
  const enforcer = createEnforcer(config, { policy: policy.initial, evidence, pep, log, clock: opts.clock });

  const downstreams = new Map<string, Downstream>();
  for (const [name, server] of Object.entries(config.servers)) {
    downstreams.set(
      name,
      new Downstream(name, server, {
        log,
        cwd: config.dir,
        clientInfo: { name: 'mcpgov-gateway', version: VERSION },
      }),
    );
  }
  // A server that fails to start is retried in the background; it affects only its own tools.
  await Promise.all([...downstreams.values()].map((ds) => ds.start()));
  const catalog = new Catalog(downstreams);

  const servers = new Set<Server>();
  /** Chain-close records still being written; shutdown waits for them before closing the log. */
  const closing = new Set<Promise<void>>();
  catalog.onChange((kind) => {
    for (const server of servers) {
      const notify =
        kind === 'tools'
          ? server.sendToolListChanged()
          : kind === 'resources'
            ? server.sendResourceListChanged()
            : server.sendPromptListChanged();
      notify.catch(() => {});
    }
  });
  // A new bundle swaps in as a whole; calls in flight keep the policy they started with. Which tools
  // an agent may see can change with it, so sessions are told to list them again.
  policy.onActivate((next) => {
    enforcer.policy = next;
    for (const server of servers) server.sendToolListChanged().catch(() => {});
  });
  const serverInfo = { name: 'mcpgov-gateway', version: VERSION };
  const connect = async (transport: Transport, identity: Identity, sessionId: string) => {
    const session = await enforcer.openSession(identity, sessionId);
    const { server, callTool } = createSessionServer({ catalog, enforcer, serverInfo }, session);
    if (transport instanceof LineStdioServerTransport) transport.toolCalls = callTool;
    servers.add(server);
    server.onclose = () => {
      servers.delete(server);
      enforcer
        .closeSession(session)
        .catch((err: Error) => log('error', 'chain close not recorded', { error: err.message }));
    };
    await server.connect(transport);
    log('info', 'session opened', {
      session: sessionId,
      agent: identity.agentId,
      verified: identity.verified,
    });
  };

  let http: HttpUpstream | undefined;
  let controlServer: ControlServer | undefined;
  if (opts.http) {
    controlServer = new ControlServer({
      control,
      policy: config.policy,
      evidenceDir: config.evidence.dir,
      log,
      pollMs: config.policy.poll_seconds * 1000,
    });
    const { host, port } = parseHostPort(opts.http);
    http = await startHttpUpstream({
      host,
      port,
      maxMessageBytes: config.limits.max_message_bytes,
      allowedHosts: config.listen.allowed_hosts,
      allowedOrigins: config.listen.allowed_origins,
      log,
      authenticate: async (req: IncomingMessage) => {
        const result = await authenticator.authenticate(bearerToken(req), enforcer.policy.agents);
        if (result.ok) return { ok: true, principal: result.identity };
        return {
          ok: false,
          status: 401,
          message: result.message,
          wwwAuthenticate: `Bearer error="${result.code === 'invalid_token' ? 'invalid_token' : 'invalid_request'}"`,
        };
      },
      openSession: (transport, principal, sessionId) => connect(transport, principal as Identity, sessionId),
      routes: policyRoutes({ control, registry: config.policy.registry, log }),
      upgrade: (req, socket, head, url) => controlServer!.handleUpgrade(req, socket, head, url),
    });
    log('info', 'serving Streamable HTTP', { url: http.url });
  }

  let stdio: LineStdioServerTransport | undefined;
  if (opts.stdio) {
    const result = await authenticator.authenticate(process.env['MCPGOV_TOKEN'], enforcer.policy.agents);
    if (!result.ok) throw new Error(`stdio caller not authenticated: ${result.message}`);
    stdio = new LineStdioServerTransport({ maxMessageBytes: config.limits.max_message_bytes, log });
    await connect(stdio, result.identity, randomUUID());
  }

  policy.start();
  control.start();

  return {
    httpUrl: http?.url,
    enforcer,
    evidence,
    downstreams,
    policy,
    control,
    controlServer,
    async close() {
      await policy.close();
      control.stop();
      await controlServer?.close();
      await http?.close();
      await stdio?.close();
      await Promise.all([...servers].map((s) => s.close().catch(() => {})));
      await Promise.all([...closing]);
      await enforcer.close();
      await Promise.all([...downstreams.values()].map((ds) => ds.stop()));
      await evidence.close();
    },
  };
}

function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  const match = header === undefined ? null : /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

/** Splits `HOST:PORT` (IPv6 in brackets). */
export function parseHostPort(value: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value);
  if (!match) throw new Error(`expected HOST:PORT, got "${value}"`);
  return { host: (match[1] ?? '').replace(/^\[|\]$/g, ''), port: Number(match[2]) };
}
