import type { Writable } from 'node:stream';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/** JSON-RPC 2.0 error codes (https://www.jsonrpc.org/specification#error_object). */
export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const INVALID_PARAMS = -32602;
export const INTERNAL_ERROR = -32603;
/**
 * Ours, from the range JSON-RPC leaves to implementations (-32000 to -32099): too many calls in flight
 * or sessions open (README: Limits). Nothing was done; the same request may succeed later. 29 as in 429.
 */
export const TOO_MANY_REQUESTS = -32029;

const isId = (id: unknown): id is string | number => typeof id === 'string' || typeof id === 'number';
/** A JSON object (not null, not an array). */
export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Whether a parsed value is a JSON-RPC 2.0 request, notification, result or error, as MCP frames them
 * (the envelope only; extra members are allowed, as the spec allows them). A hand-written check of what
 * the SDK's `JSONRPCMessageSchema` checks, without a schema library on every message.
 */
export function isJsonRpcMessage(value: unknown): value is JSONRPCMessage {
  if (!isObject(value) || value['jsonrpc'] !== '2.0') return false;
  const { id, method, params } = value;
  if (method !== undefined) {
    return (
      typeof method === 'string' &&
      (id === undefined || isId(id)) &&
      (params === undefined || isObject(params))
    );
  }
  if (!isId(id)) return false;
  if ('result' in value) return isObject(value['result']) && !('error' in value);
  const error = value['error'];
  return isObject(error) && Number.isInteger(error['code']) && typeof error['message'] === 'string';
}

/** What a line reader reports for input it cannot use; the reader has already skipped it. */
export interface LineProblem {
  code: typeof PARSE_ERROR | typeof INVALID_REQUEST;
  message: string;
  /** The id of a JSON object that is not JSON-RPC, when it has one, so an answer can echo it. */
  id: string | number | null;
  /** For an oversized line, with `edges` set: its first and last bytes (where a JSON-RPC id sits). */
  edges?: { head: string; tail: string };
}

export interface LineReaderOptions {
  /** Longest accepted line in bytes; a longer one is skipped without being buffered. */
  maxMessageBytes: number;
  /** Keep this many bytes of each end of an oversized line for its problem report (default none). */
  edges?: number;
  onMessage: (message: JSONRPCMessage) => void;
  onProblem: (problem: LineProblem) => void;
}

/**
 * Newline-delimited JSON-RPC framing (the MCP stdio transport), hardened: invalid UTF-8 and invalid
 * JSON are parse errors, JSON that is not JSON-RPC and oversized lines are invalid requests, and in
 * every case reading goes on with the next line. A line over the limit is never held in memory.
 */
export class LineReader {
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** True while skipping the rest of an oversized line. */
  private discarding = false;
  /** The first and (so far) last bytes of the oversized line being skipped, when `edges` is set. */
  private head: Buffer = Buffer.alloc(0);
  private tail: Buffer = Buffer.alloc(0);

  constructor(private readonly opts: LineReaderOptions) {}

  /** Feeds bytes as they arrive; complete lines are delivered at once, in order. */
  push(data: Buffer): void {
    let start = 0;
    for (let nl = data.indexOf(0x0a); nl !== -1; nl = data.indexOf(0x0a, start)) {
      this.take(data.subarray(start, nl));
      this.endLine();
      start = nl + 1;
    }
    if (start < data.length) this.take(data.subarray(start));
  }

  private take(part: Buffer): void {
    if (part.length === 0) return;
    const edges = this.opts.edges ?? 0;
    if (this.discarding) {
      if (edges > 0) this.tail = lastBytes([this.tail, part], edges);
      return;
    }
    if (this.buffered + part.length > this.opts.maxMessageBytes) {
      this.discarding = true;
      if (edges > 0) {
        this.head = Buffer.concat([...this.chunks, part].map((c) => c.subarray(0, edges))).subarray(0, edges);
        this.tail = lastBytes([...this.chunks, part], edges);
      }
      this.chunks = [];
      this.buffered = 0;
      return;
    }
    this.chunks.push(part);
    this.buffered += part.length;
  }

  private endLine(): void {
    if (this.discarding) {
      this.discarding = false;
      const message = `message too large (over the ${this.opts.maxMessageBytes}-byte limit)`;
      const edges = this.opts.edges
        ? { head: this.head.toString('utf8'), tail: this.tail.toString('utf8') }
        : undefined;
      this.head = this.tail = Buffer.alloc(0);
      this.opts.onProblem({ code: INVALID_REQUEST, message, id: null, ...(edges ? { edges } : {}) });
      return;
    }
    let line = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks = [];
    this.buffered = 0;
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, -1);
    if (line.length === 0) return;
    let text: string;
    try {
      text = this.decoder.decode(line);
    } catch {
      this.opts.onProblem({ code: PARSE_ERROR, message: 'Parse error: invalid UTF-8', id: null });
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      this.opts.onProblem({ code: PARSE_ERROR, message: `Parse error: ${(err as Error).message}`, id: null });
      return;
    }
    if (!isJsonRpcMessage(value)) {
      const id = (value as { id?: unknown } | null)?.id;
      this.opts.onProblem({
        code: INVALID_REQUEST,
        message: 'Invalid Request: not a JSON-RPC 2.0 message',
        id: isId(id) ? id : null,
      });
      return;
    }
    this.opts.onMessage(value);
  }
}

/** The last `n` bytes of the concatenation of `parts`, copying no more than `n` bytes of them. */
function lastBytes(parts: readonly Buffer[], n: number): Buffer {
  const kept: Buffer[] = [];
  let size = 0;
  for (let i = parts.length - 1; i >= 0 && size < n; i--) {
    const part = parts[i]!;
    const take = part.subarray(Math.max(0, part.length - (n - size)));
    kept.unshift(take);
    size += take.length;
  }
  return Buffer.concat(kept);
}

/** A JSON-RPC error object for an error thrown while serving a request, as the SDK's Protocol maps it. */
export function errorObject(err: unknown): { code: number; message: string; data?: unknown } {
  const e = err as { code?: unknown; message?: unknown; data?: unknown };
  const code = Number.isSafeInteger(e?.code) ? (e.code as number) : INTERNAL_ERROR;
  const message = typeof e?.message === 'string' ? e.message : 'Internal error';
  return e?.data === undefined ? { code, message } : { code, message, data: e.data };
}

/** Streams corked by `writeLine` until the current tick's work is done. */
const corked = new WeakSet<Writable>();

/**
 * Writes lines to a stream, joining the lines written in one turn of the event loop into one write:
 * the stream is corked at the first line and uncorked once the current tick's work (its promise
 * jobs included) is done, so under load many answers share one syscall and one wake-up of the reader,
 * and a lone answer goes out as before. Resolves when the stream takes more (backpressure).
 */
export function writeLine(stream: Writable, line: string): Promise<void> {
  if (!corked.has(stream)) {
    corked.add(stream);
    stream.cork();
    process.nextTick(() => {
      corked.delete(stream);
      stream.uncork();
    });
  }
  if (stream.write(line)) return Promise.resolve();
  return new Promise((resolve) => stream.once('drain', resolve));
}
