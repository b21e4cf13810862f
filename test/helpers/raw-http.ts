import { request, type IncomingHttpHeaders } from 'node:http';

/** A response read as it arrives (SSE streams included). */
export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Everything received so far. */
  received(): string;
  /** Resolves once the text received contains `part`. */
  until(part: string): Promise<void>;
  /** The whole body, once the response has ended. */
  text(): Promise<string>;
}

/** The headers a Streamable HTTP client sends on every POST after initialize. */
export function sessionHeaders(session: string): Record<string, string> {
  return { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
}

/**
 * One raw HTTP request to an MCP endpoint, with full control of headers and body (fetch cannot set
 * Host, and the SDK client never sends what these tests send). Resolves once the headers are in.
 */
export function rawRequest(
  url: string,
  opts: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    signal?: AbortSignal;
  } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: opts.method ?? 'POST',
        signal: opts.signal,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...opts.headers,
        },
      },
      (res) => {
        let text = '';
        const waiting: { part: string; done: () => void }[] = [];
        const check = () => {
          for (const w of [...waiting]) {
            if (!text.includes(w.part)) continue;
            waiting.splice(waiting.indexOf(w), 1);
            w.done();
          }
        };
        const ended = new Promise<string>((done) => {
          res.on('data', (c: Buffer) => {
            text += c.toString();
            check();
          });
          res.on('end', () => done(text));
          res.on('close', () => done(text));
          res.on('error', () => done(text)); // aborted by the caller: what came so far
        });
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          received: () => text,
          until: (part) =>
            new Promise<void>((done, fail) => {
              waiting.push({ part, done });
              check();
              void ended.then(() => {
                if (!text.includes(part)) fail(new Error(`response ended without "${part}": ${text}`));
              });
            }),
          text: () => ended,
        });
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** The JSON-RPC messages in a response body: one JSON object, an array, or SSE `data:` lines. */
export function messagesOf(body: string): unknown[] {
  const trimmed = body.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    const value = JSON.parse(trimmed) as unknown;
    return Array.isArray(value) ? value : [value];
  }
  return body
    .split('\n')
    .filter((line) => line.startsWith('data:') && line.length > 5)
    .map((line) => JSON.parse(line.slice(5)) as unknown);
}

/** The initialize request a raw client sends. */
export const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
});

/** Opens a session with a raw initialize (and the initialized notification); returns its id. */
export async function openRawSession(url: string, headers: Record<string, string> = {}): Promise<string> {
  const init = await rawRequest(url, { headers, body: INITIALIZE });
  await init.text();
  const session = init.headers['mcp-session-id'];
  if (init.status !== 200 || typeof session !== 'string') {
    throw new Error(`initialize failed: ${init.status} ${init.received()}`);
  }
  const initialized = await rawRequest(url, {
    headers: { ...headers, ...sessionHeaders(session) },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  await initialized.text();
  return session;
}
