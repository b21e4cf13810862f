import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../util/log.js';
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
   * WebSocket upgrades (the control channel), after the same Host and Origin checks; returns false
   * when it does not serve the path, and the socket is answered 404.
   */
  upgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer, url: URL) => boolean;
  /** Sessions idle this long are closed (clients that vanish without DELETE); default 30 minutes. */
  sessionIdleMs?: number;
  log?: Logger;
}

/** A running Streamable HTTP endpoint. */
export interface HttpUpstream {
  url: string;
  port: number;
  readonly sessions: number;
  close(): Promise<void>;
}

interface SessionEntry {
  transport: StreamableHTTPServerTransport;
  lastSeen: number;
  /** The credentials the session was opened with (HttpAuthResult.binding). */
  binding: string;
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
  const sessions = new Map<string, SessionEntry>();
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
      const id = randomUUID();
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => id });
      transport.onclose = () => {
        if (sessions.delete(id)) opts.onSessionClosed?.(id);
      };
      sessions.set(id, { transport, binding: auth.binding ?? digestAuth(req), lastSeen: Date.now() });
      await opts.openSession(transport, auth.principal, id);
      await transport.handleRequest(req, res, body);
      return;
    }

    const entry = sessions.get(sessionId);
    if (!entry) return fail(res, 404, INVALID_REQUEST, 'session not found');
    const auth = await opts.authenticate(req);
    if (!auth.ok) {
      if (auth.wwwAuthenticate) res.setHeader('www-authenticate', auth.wwwAuthenticate);
      return fail(res, auth.status, INVALID_REQUEST, auth.message);
    }
    if (entry.binding !== (auth.binding ?? digestAuth(req))) {
      res.setHeader('www-authenticate', opts.challenge?.() ?? 'Bearer error="invalid_token"');
      return fail(res, 401, INVALID_REQUEST, 'credentials differ from those the session was opened with');
    }
    entry.lastSeen = Date.now();
    await entry.transport.handleRequest(req, res, body);
  };

  const idleMs = opts.sessionIdleMs ?? 30 * 60_000;
  const sweeper = setInterval(
    () => {
      const cutoff = Date.now() - idleMs;
      for (const [id, entry] of sessions) {
        if (entry.lastSeen >= cutoff) continue;
        opts.log?.('info', 'closing idle session', { session: id });
        void entry.transport.close().catch(() => {});
      }
    },
    Math.min(idleMs, 60_000),
  );
  sweeper.unref();

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      opts.log?.('error', 'HTTP request failed', { error: err.message });
      if (!res.headersSent) fail(res, 500, -32603, 'internal error');
      else res.end();
    });
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
      await Promise.all([...sessions.values()].map((s) => s.transport.close().catch(() => {})));
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

type BodyResult =
  { ok: true; value: unknown } | { ok: false; status: 400 | 413; code: number; message: string };

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
  const chunks = await new Promise<Buffer[] | undefined>((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) parts.push(chunk);
      else if (parts.length > 0) parts.length = 0;
    });
    req.on('end', () => resolve(size > limit ? undefined : parts));
    req.on('error', reject);
  });
  if (!chunks) return tooLarge;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    return { ok: false, status: 400, code: PARSE_ERROR, message: 'Parse error: invalid UTF-8' };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, status: 400, code: PARSE_ERROR, message: `Parse error: ${(err as Error).message}` };
  }
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
