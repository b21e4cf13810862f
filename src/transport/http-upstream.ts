import { createHash, randomUUID } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../util/log.js';
import { HttpSession } from './http-session.js';
import { TOO_MANY_REQUESTS } from './jsonrpc-lines.js';
import { requestIds, type RequestId } from './request-ids.js';
import { INVALID_REQUEST, PARSE_ERROR } from './stdio-upstream.js';

/** The outcome of authenticating a request. */
export type HttpAuthResult =
  | {
      ok: true;
      principal: unknown;
      /** What the session stays bound to (default: the Authorization header's digest). */
      binding?: string;
    }
  | { ok: false; status: 401 | 403 | 503; message: string; wwwAuthenticate?: string };

export interface HttpUpstreamOptions {
  host: string;
  port: number;
  path?: string;
  maxMessageBytes: number;
  allowedHosts?: string[];
  allowedOrigins?: string[];
  /** Runs for every request, not only initialize: a token can expire or be revoked mid-session. */
  authenticate: (req: IncomingMessage) => Promise<HttpAuthResult>;
  /** The WWW-Authenticate value when a session's request binds to other credentials. */
  challenge?: () => string;
  /** Connects an MCP server to the new session's transport. */
  openSession: (transport: Transport, principal: unknown, sessionId: string) => Promise<void>;
  onSessionClosed?: (sessionId: string) => void;
  /**
   * Other endpoints on the same listener (the policy endpoints), tried for any path but the MCP one
   * after the Host and Origin checks; returns false when it does not serve the path.
   */
  routes?: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;
  /**
   * Health probes (`/healthz`, `/readyz`), tried first, before the Host and Origin checks: load
   * balancers and kubelets probe by IP address, and the probes tell nothing but check names and states.
   */
  probes?: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;
  /**
   * WebSocket upgrades (the control channel), after the same Host and Origin checks; returns false
   * when it does not serve the path, and the socket is answered 404.
   */
  upgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer, url: URL) => boolean;
  /**
   * Sessions with no request and no open stream for this long are closed (clients that vanish
   * without DELETE); default 10 minutes.
   */
  sessionIdleMs?: number;
  /** Open sessions in total; past it, initialize is answered 503. Default unlimited. */
  maxSessions?: number;
  /** Open sessions per caller; past it, initialize is answered 429. Default unlimited. */
  maxSessionsPerCaller?: number;
  /**
   * Whom a session is counted against, from the authenticated principal: undefined counts it against
   * the remote address (callers without a verified identity).
   */
  sessionCaller?: (principal: unknown) => string | undefined;
  /** Milliseconds since the epoch, for session idleness; injectable for tests. */
  clock?: () => number;
  log?: Logger;
}

/** A running Streamable HTTP endpoint. */
export interface HttpUpstream {
  url: string;
  port: number;
  readonly sessions: number;
  close(): Promise<void>;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
const LOOPBACK_ORIGIN = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/i;

/**
 * Serves MCP over Streamable HTTP with stateful sessions at `/mcp`. Guards, in order: path and method,
 * Host and Origin (DNS-rebinding protection), body size, UTF-8 and JSON syntax, then authentication at
 * every request (MCP authorization). A session id alone is not a credential: later requests must
 * authenticate to the same binding.
 */
export async function startHttpUpstream(opts: HttpUpstreamOptions): Promise<HttpUpstream> {
  const endpoint = opts.path ?? '/mcp';
  const sessions = new Map<string, HttpSession>();
  /** Open sessions per caller. */
  const callers = new Map<string, number>();
  const idleMs = opts.sessionIdleMs ?? 10 * 60_000;
  const sweepMs = Math.min(idleMs, 60_000);
  const maxSessions = opts.maxSessions ?? Infinity;
  const maxPerCaller = opts.maxSessionsPerCaller ?? Infinity;
  const clock = opts.clock ?? Date.now;

  const remember = (session: HttpSession) => {
    sessions.set(session.id, session);
    callers.set(session.caller, (callers.get(session.caller) ?? 0) + 1);
  };
  const forget = (session: HttpSession): boolean => {
    if (sessions.get(session.id) !== session) return false;
    sessions.delete(session.id);
    const left = (callers.get(session.caller) ?? 1) - 1;
    if (left > 0) callers.set(session.caller, left);
    else callers.delete(session.caller);
    return true;
  };
  /** Why a caller may not open another session now, if it may not (README: Limits). */
  const sessionLimit = (caller: string): { status: 429 | 503; message: string } | undefined => {
    if (sessions.size >= maxSessions) {
      const message = `too many sessions: the gateway has its limit of ${maxSessions} open (limits.max_sessions); retry later`;
      return { status: 503, message };
    }
    if ((callers.get(caller) ?? 0) >= maxPerCaller) {
      const message = `too many sessions: this caller has its limit of ${maxPerCaller} open (limits.max_sessions_per_caller); close one (HTTP DELETE) or retry later`;
      return { status: 429, message };
    }
    return undefined;
  };
  /** Serves a request of a session; a request reusing an id still in flight is refused, not served. */
  const serve = async (session: HttpSession, req: IncomingMessage, res: ServerResponse, body: unknown) => {
    const { duplicate } = await session.handle(req, res, body);
    if (duplicate === undefined) return;
    const message = `Invalid Request: request id ${JSON.stringify(duplicate)} is already in flight`;
    refuse(res, 400, duplicate, { code: INVALID_REQUEST, message });
  };
  const allowedHosts = new Set((opts.allowedHosts ?? []).map((h) => h.toLowerCase()));
  const allowedOrigins = new Set(opts.allowedOrigins ?? []);

  const hostAllowed = (host: string | undefined) => {
    if (!host) return false;
    const name = host.toLowerCase().replace(/:\d+$/, '');
    return LOOPBACK_HOSTS.has(name) || allowedHosts.has(name) || allowedHosts.has(host.toLowerCase());
  };
  const originAllowed = (origin: string | undefined) =>
    origin === undefined || LOOPBACK_ORIGIN.test(origin) || allowedOrigins.has(origin);

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== endpoint && (await opts.probes?.(req, res, url))) return;
    if (url.pathname !== endpoint && !opts.routes)
      return fail(res, 404, INVALID_REQUEST, `not found: ${url.pathname}`);
    if (!hostAllowed(req.headers.host)) return fail(res, 403, INVALID_REQUEST, 'forbidden: Host not allowed');
    if (!originAllowed(req.headers.origin))
      return fail(res, 403, INVALID_REQUEST, 'forbidden: Origin not allowed');
    if (url.pathname !== endpoint) {
      if (await opts.routes?.(req, res, url)) return;
      return fail(res, 404, INVALID_REQUEST, `not found: ${url.pathname}`);
    }
    if (req.method !== 'POST' && req.method !== 'GET' && req.method !== 'DELETE') {
      res.setHeader('allow', 'GET, POST, DELETE');
      return fail(res, 405, INVALID_REQUEST, `method ${req.method} not allowed`);
    }

    const sessionId = header(req, 'mcp-session-id');
    let body: unknown;
    if (req.method === 'POST') {
      const read = await readBody(req, opts.maxMessageBytes);
      if (read.aborted) return; // the client went away mid-body: nobody to answer
      if (!read.ok) return fail(res, read.status, read.code, read.message, read.status === 413);
      body = read.value;
    }

    if (sessionId === undefined) {
      if (req.method !== 'POST' || !isInitializeRequest(body)) {
        return fail(res, 400, INVALID_REQUEST, 'Bad Request: no session; send initialize first');
      }
      const auth = await opts.authenticate(req);
      if (!auth.ok) {
        if (auth.wwwAuthenticate) res.setHeader('www-authenticate', auth.wwwAuthenticate);
        return fail(res, auth.status, INVALID_REQUEST, auth.message);
      }
      // Checked and counted with no await in between, so a burst of initializes cannot overshoot.
      // A refused session opens nothing: no transport, no chain record.
      const caller = opts.sessionCaller?.(auth.principal) ?? `address:${req.socket.remoteAddress ?? ''}`;
      const limit = sessionLimit(caller);
      if (limit) {
        res.setHeader('retry-after', String(Math.ceil(sweepMs / 1000)));
        const data = { reason: 'too_many_sessions' };
        return refuse(res, limit.status, requestIds(body)[0] ?? null, {
          code: TOO_MANY_REQUESTS,
          message: limit.message,
          data,
        });
      }
      const session = new HttpSession(randomUUID(), caller, auth.binding ?? digestAuth(req), clock);
      session.onclose = () => {
        if (forget(session)) opts.onSessionClosed?.(session.id);
      };
      remember(session);
      try {
        await opts.openSession(session, auth.principal, session.id);
      } catch (err) {
        forget(session);
        throw err;
      }
      await serve(session, req, res, body);
      return;
    }

    const session = sessions.get(sessionId);
    if (!session) return fail(res, 404, INVALID_REQUEST, 'session not found');
    // Every request is authenticated, not only initialize: a token that expires mid-session stops it.
    const auth = await opts.authenticate(req);
    if (!auth.ok) {
      if (auth.wwwAuthenticate) res.setHeader('www-authenticate', auth.wwwAuthenticate);
      return fail(res, auth.status, INVALID_REQUEST, auth.message);
    }
    if (session.binding !== (auth.binding ?? digestAuth(req))) {
      res.setHeader('www-authenticate', opts.challenge?.() ?? 'Bearer error="invalid_token"');
      return fail(res, 401, INVALID_REQUEST, 'credentials differ from those the session was opened with');
    }
    await serve(session, req, res, body);
  };

  const sweeper = setInterval(() => {
    const cutoff = clock() - idleMs;
    for (const session of sessions.values()) {
      if (!session.idleSince(cutoff)) continue;
      opts.log?.('info', 'closing idle session', { session: session.id });
      void session.close().catch(() => {});
    }
  }, sweepMs);
  sweeper.unref();

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      opts.log?.('error', 'HTTP request failed', { error: err.message });
      if (!res.headersSent) fail(res, 500, -32603, 'internal error');
      else res.end();
    });
  });
  // Requests Node itself refuses (malformed HTTP, headers past its limit) get a JSON-RPC body too,
  // instead of Node's bare status line.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable || err.code === 'ECONNRESET') return void socket.destroy();
    const status =
      err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: null,
      error: { code: INVALID_REQUEST, message: `Bad Request: ${STATUS_CODES[status] ?? 'malformed HTTP'}` },
    });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const refuse = (status: number, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    };
    if (!hostAllowed(req.headers.host) || !originAllowed(req.headers.origin)) return refuse(403, 'Forbidden');
    if (!opts.upgrade?.(req, socket, head, url)) refuse(404, 'Not Found');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;

  return {
    url: `http://${hostForUrl}:${port}${endpoint}`,
    port,
    get sessions() {
      return sessions.size;
    },
    async close() {
      clearInterval(sweeper);
      await Promise.all([...sessions.values()].map((s) => s.close().catch(() => {})));
      sessions.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function digestAuth(req: IncomingMessage): string {
  return createHash('sha256')
    .update(header(req, 'authorization') ?? '')
    .digest('hex');
}

/** Strict UTF-8 (invalid bytes throw); one decoder serves every request, as each decode stands alone. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

type BodyResult =
  | { ok: true; value: unknown; aborted?: undefined }
  | { ok: false; status: 400 | 413; code: number; message: string; aborted?: undefined }
  | { ok: false; aborted: true };

/** Reads a JSON body of at most `limit` bytes; stops buffering as soon as the limit is passed. */
async function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  const tooLarge: BodyResult = {
    ok: false,
    status: 413,
    code: INVALID_REQUEST,
    message: `message too large (over the ${limit}-byte limit)`,
  };
  const declared = Number(header(req, 'content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return tooLarge;
  }
  // Plain events, not async iteration: leaving a for-await loop early would destroy the socket before
  // the 413 answer goes out. Past the limit the rest of the body is drained and dropped.
  const chunks = await new Promise<Buffer[] | 'aborted' | undefined>((resolve) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) parts.push(chunk);
      else if (parts.length > 0) parts.length = 0;
    });
    req.on('end', () => resolve(size > limit ? undefined : parts));
    // A connection closed before the body ended is the client leaving, not a fault of ours.
    req.on('error', () => resolve('aborted'));
  });
  if (chunks === 'aborted') return { ok: false, aborted: true };
  if (!chunks) return tooLarge;
  let text: string;
  try {
    text = UTF8.decode(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
  } catch {
    return { ok: false, status: 400, code: PARSE_ERROR, message: 'Parse error: invalid UTF-8' };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, status: 400, code: PARSE_ERROR, message: `Parse error: ${(err as Error).message}` };
  }
}

/** Answers a request with a JSON-RPC error naming its id (JSON-RPC 2.0 §5.1). */
function refuse(
  res: ServerResponse,
  status: number,
  id: RequestId | null,
  error: { code: number; message: string; data?: unknown },
): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', id, error }));
}

function fail(
  res: ServerResponse,
  status: number,
  code: number,
  message: string,
  closeConnection = false,
): void {
  if (closeConnection) res.setHeader('connection', 'close');
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } }));
}
