import type { IncomingMessage, ServerResponse } from 'node:http';

/** Largest request body the admin API reads: a verdict or a waiver is a few hundred bytes. */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Headers on every admin response. The CSP lets the console load only its own script and style and
 * talk only to this listener: markup injected through request data could run nothing and send
 * nothing elsewhere (CSP Level 3). `no-store`: requests and tokens are never kept by a cache.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** An error as the admin API answers it. */
export interface ApiError {
  status: number;
  code: string;
  message: string;
}

/** Answers JSON. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** Answers `{ error: { code, message } }`. */
export function sendError(res: ServerResponse, error: ApiError): void {
  sendJson(res, error.status, { error: { code: error.code, message: error.message } });
}

/** The request's bearer token, if it sent one (RFC 6750 §2.1). */
export function bearerToken(req: IncomingMessage): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '');
  return match?.[1];
}

/** The result of reading a JSON body. */
export type BodyResult = { ok: true; value: unknown } | { ok: false; error: ApiError };

/**
 * Reads a JSON body of at most MAX_BODY_BYTES: a declared length past the limit is refused before
 * reading, and an undeclared one stops being kept the moment it passes it.
 */
export async function readJsonBody(req: IncomingMessage): Promise<BodyResult> {
  const malformed = (message: string): BodyResult => ({
    ok: false,
    error: { status: 400, code: 'malformed', message },
  });
  const tooLarge = malformed(`the body is over the ${MAX_BODY_BYTES}-byte limit`);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) {
    req.resume();
    return tooLarge;
  }
  const chunks = await new Promise<Buffer[] | undefined>((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) parts.push(chunk);
      else parts.length = 0;
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? undefined : parts));
    req.on('error', reject);
  });
  if (!chunks) return tooLarge;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    return malformed('the body is not valid UTF-8');
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return malformed(`the body is not JSON: ${(err as Error).message}`);
  }
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
const LOOPBACK_ORIGIN = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/i;

/**
 * Guards against DNS rebinding, as the MCP listener does: the Host header must name a loopback host,
 * an allowed host or the console's public host; an Origin, when a browser sends one, must be a
 * loopback origin, an allowed origin, the public URL's, or this very host's.
 */
export function hostGuard(opts: { allowedHosts?: string[]; allowedOrigins?: string[]; publicUrl?: string }) {
  const hosts = new Set((opts.allowedHosts ?? []).map((h) => h.toLowerCase()));
  const origins = new Set(opts.allowedOrigins ?? []);
  if (opts.publicUrl !== undefined) {
    const url = new URL(opts.publicUrl);
    hosts.add(url.host.toLowerCase());
    hosts.add(url.hostname.toLowerCase());
    origins.add(url.origin);
  }
  const hostAllowed = (host: string | undefined) => {
    if (!host) return false;
    const lower = host.toLowerCase();
    const name = lower.replace(/:\d+$/, '');
    return LOOPBACK_HOSTS.has(name) || hosts.has(name) || hosts.has(lower);
  };
  return (req: IncomingMessage): ApiError | undefined => {
    const host = req.headers.host;
    if (!hostAllowed(host))
      return { status: 403, code: 'forbidden', message: 'forbidden: Host not allowed' };
    const origin = req.headers.origin;
    if (
      origin !== undefined &&
      !LOOPBACK_ORIGIN.test(origin) &&
      !origins.has(origin) &&
      origin.toLowerCase() !== `http://${host?.toLowerCase()}` &&
      origin.toLowerCase() !== `https://${host?.toLowerCase()}`
    )
      return { status: 403, code: 'forbidden', message: 'forbidden: Origin not allowed' };
    return undefined;
  };
}
