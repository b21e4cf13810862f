import type { Readable, Writable } from 'node:stream';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { JSONRPCMessageSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../src/util/log.js';

/** JSON-RPC 2.0 error codes (https://www.jsonrpc.org/specification#error_object). */
export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;

export interface LineStdioOptions {
  input?: Readable;
  output?: Writable;
  /** Longest accepted line in bytes; longer ones are answered with -32600 and skipped. */
  maxMessageBytes: number;
  log?: Logger;
}

/**
 * The gateway's stdio transport: newline-delimited JSON-RPC, hardened. Unlike the SDK's stdio server
 * transport, it answers bad input instead of dropping it: invalid UTF-8 and invalid JSON get a parse
 * error, non-JSON-RPC objects and oversized lines an invalid-request error, and it keeps serving.
 */
export class LineStdioServerTransport implements Transport {
  onmessage?: (message: JSONRPCMessage) => void;
  onerror?: (error: Error) => void;
  onclose?: () => void;

  private readonly input: Readable;
  private readonly output: Writable;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** True while skipping the rest of an oversized line. */
  private discarding = false;
  private closed = false;

  constructor(private readonly opts: LineStdioOptions) {
    this.input = opts.input ?? process.stdin;
    this.output = opts.output ?? process.stdout;
  }

  async start(): Promise<void> {
    this.input.on('data', this.onData);
    this.input.on('end', this.onEnd);
    this.input.on('error', this.onInputError);
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if (this.closed) return;
    if (!this.output.write(`${JSON.stringify(message)}\n`)) {
      await new Promise<void>((resolve) => this.output.once('drain', resolve));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.input.off('data', this.onData);
    this.input.off('end', this.onEnd);
    this.input.off('error', this.onInputError);
    this.onclose?.();
  }

  private readonly onEnd = () => void this.close();
  private readonly onInputError = (err: Error) => this.onerror?.(err);

  private readonly onData = (data: Buffer) => {
    let start = 0;
    for (let nl = data.indexOf(0x0a); nl !== -1; nl = data.indexOf(0x0a, start)) {
      this.take(data.subarray(start, nl));
      this.endLine();
      start = nl + 1;
    }
    if (start < data.length) this.take(data.subarray(start));
  };

  /** Buffers part of a line, switching to discard mode once the line passes the limit. */
  private take(part: Buffer): void {
    if (this.discarding || part.length === 0) return;
    if (this.buffered + part.length > this.opts.maxMessageBytes) {
      this.discarding = true;
      this.buffered += part.length;
      this.chunks = [];
      return;
    }
    this.chunks.push(part);
    this.buffered += part.length;
  }

  private endLine(): void {
    if (this.discarding) {
      this.discarding = false;
      this.reset();
      this.reply(
        null,
        INVALID_REQUEST,
        `message too large (over the ${this.opts.maxMessageBytes}-byte limit)`,
      );
      return;
    }
    let line = Buffer.concat(this.chunks);
    this.reset();
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, -1);
    if (line.length === 0) return;
    let text: string;
    try {
      text = this.decoder.decode(line);
    } catch {
      this.reply(null, PARSE_ERROR, 'Parse error: invalid UTF-8');
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      this.reply(null, PARSE_ERROR, `Parse error: ${(err as Error).message}`);
      return;
    }
    const parsed = JSONRPCMessageSchema.safeParse(value);
    if (!parsed.success) {
      const id = (value as { id?: unknown } | null)?.id;
      this.reply(
        typeof id === 'string' || typeof id === 'number' ? id : null,
        INVALID_REQUEST,
        'Invalid Request: not a JSON-RPC 2.0 message',
      );
      return;
    }
    this.onmessage?.(parsed.data);
  }

  private reset(): void {
    this.chunks = [];
    this.buffered = 0;
  }

  private reply(id: string | number | null, code: number, message: string): void {
    this.opts.log?.('warn', 'rejected stdio input', { code, message });
    // id null is what JSON-RPC prescribes when the request's id cannot be known.
    void this.send({ jsonrpc: '2.0', id, error: { code, message } } as unknown as JSONRPCMessage);
  }
}
