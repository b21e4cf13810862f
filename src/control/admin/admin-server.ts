import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApproverAuth, ApproverAuthFailure } from '../../approvals/approver-auth.js';
import type { ApprovalService } from '../../approvals/service.js';
import type { Approver } from '../../approvals/types.js';
import type { Logger } from '../../util/log.js';
import { probeRoutes, type Route } from '../../metrics/endpoints.js';
import { allowedMethods, approvalsApi, takesBody } from './api.js';
import { CONSOLE_ASSETS } from './console-assets.js';
import { bearerToken, hostGuard, readJsonBody, SECURITY_HEADERS, sendError, sendJson } from './http.js';

export interface AdminServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  approvals: ApprovalService;
  auth: ApproverAuth;
  /** Host names (beside loopback) the listener answers to: `listen.allowed_hosts`. */
  allowedHosts?: string[];
  allowedOrigins?: string[];
  /** `admin.public_url`: its host and origin are allowed too. */
  publicUrl?: string;
  log: Logger;
  /** `/healthz` and `/readyz` (default: liveness, and readiness with no checks). */
  probes?: Route;
  /** `/metrics`, when the enforcement point keeps metrics. */
  metrics?: Route;
}

/** A running admin listener. */
export interface AdminServer {
  /** `http://host:port`. */
  url: string;
  close(): Promise<void>;
}

/** A whole request (headers and body) must arrive within this; a verdict is a few hundred bytes. */
const REQUEST_TIMEOUT_MS = 30_000;

/** HTTP status for each way an approver is not let in. */
const AUTH_STATUS: Record<ApproverAuthFailure, number> = {
  unauthenticated: 401,
  invalid_token: 401,
  not_an_approver: 403,
  keys_unavailable: 503,
};

/** The channels a client may name in `X-Mcpgov-Channel`; without the header the verdict says `api`. */
const CHANNELS: ReadonlySet<string> = new Set(['cli', 'console']);

/**
 * The admin listener: the approvals API, the approver console and `/metrics`, on their own port
 * (never the MCP one). Guards, in order: security headers on every answer; the health probes
 * (`/healthz`, `/readyz`: check names and states only, and probed by IP address, so before the Host
 * check); Host and Origin (DNS rebinding); then `/metrics` and the console's files without
 * authentication; then every `/api` route behind an approver bearer token, with bodies of at most 64 KiB.
 */
export async function startAdminServer(opts: AdminServerOptions): Promise<AdminServer> {
  const api = approvalsApi(opts.approvals);
  const guard = hostGuard(opts);
  const probes = opts.probes ?? probeRoutes({});

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    const url = new URL(req.url ?? '/', 'http://admin.invalid');
    if (await probes(req, res, url)) return;
    const refused = guard(req);
    if (refused) return sendError(res, refused);
    const method = req.method ?? 'GET';
    if (await opts.metrics?.(req, res, url)) return;

    const asset = Object.hasOwn(CONSOLE_ASSETS, url.pathname) ? CONSOLE_ASSETS[url.pathname] : undefined;
    if (asset) {
      if (method !== 'GET' && method !== 'HEAD') return notAllowed(res, ['GET']);
      res.writeHead(200, { 'content-type': asset.type, 'content-length': Buffer.byteLength(asset.body) });
      res.end(method === 'HEAD' ? undefined : asset.body);
      return;
    }
    if (url.pathname !== '/api' && !url.pathname.startsWith('/api/'))
      return sendError(res, { status: 404, code: 'not_found', message: `not found: ${url.pathname}` });

    // Authentication before routing: without a token, nothing about the API is told.
    const channel = req.headers['x-mcpgov-channel'];
    if (channel !== undefined && (typeof channel !== 'string' || !CHANNELS.has(channel)))
      return sendError(res, {
        status: 400,
        code: 'malformed',
        message: 'X-Mcpgov-Channel must be cli or console',
      });
    const via = (channel ?? 'api') as Approver['via'];
    const auth = await opts.auth.authenticate(bearerToken(req), via);
    if (!auth.ok) {
      if (AUTH_STATUS[auth.code] === 401) {
        const error = auth.code === 'unauthenticated' ? '' : ', error="invalid_token"';
        res.setHeader('www-authenticate', `Bearer realm="mcpgov-approvals"${error}`);
      }
      return sendError(res, { status: AUTH_STATUS[auth.code], code: auth.code, message: auth.message });
    }

    const path = segments(url.pathname);
    const methods = path && allowedMethods(path);
    if (!path || !methods)
      return sendError(res, { status: 404, code: 'not_found', message: `no API route ${url.pathname}` });
    if (!methods.includes(method)) return notAllowed(res, methods);
    let body: unknown;
    if (takesBody(method)) {
      const read = await readJsonBody(req);
      if (!read.ok) return sendError(res, read.error);
      body = read.value;
    }
    const answer = await api({ method, path, query: url.searchParams, body, principal: auth.principal });
    if ('error' in answer) return sendError(res, answer.error);
    sendJson(res, answer.status, answer.body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      // A store or evidence fault is ours, never the approver's fault: 500, and the log says what.
      opts.log('error', 'admin request failed', { path: req.url, error: err.message });
      if (res.headersSent) return void res.destroy();
      sendError(res, {
        status: 500,
        code: 'internal_error',
        message: 'the approvals service failed (see the gateway log); look at the request before retrying',
      });
    });
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    const failed = (err: Error) =>
      reject(
        new Error(
          `cannot serve the admin listener (admin.http) on ${opts.host}:${opts.port}: ${err.message}`,
        ),
      );
    server.once('error', failed);
    server.listen(opts.port, opts.host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const url = `http://${host}:${port}`;
  opts.log('info', 'serving the admin API and approver console', { url });
  return {
    url,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The path's segments after `/api`, percent-decoded; undefined when one is not valid UTF-8. */
function segments(pathname: string): string[] | undefined {
  try {
    return pathname.split('/').filter(Boolean).slice(1).map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

function notAllowed(res: ServerResponse, methods: string[]): void {
  res.setHeader('allow', methods.join(', '));
  sendError(res, { status: 405, code: 'method_not_allowed', message: `use ${methods.join(' or ')}` });
}
