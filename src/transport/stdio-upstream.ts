import type { Readable, Writable } from 'node:stream';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { JSONRPCMessageSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../util/log.js';
import {
  INTERNAL_ERROR,
  INVALID_PARAMS,
  INVALID_REQUEST,
  LineReader,
  type LineProblem,
  writeLine,
} from './jsonrpc-lines.js';
import { cancelledId, InFlightIds, responseId } from './request-ids.js';
import { answerToolCall, isToolCallParams, wantsProgress, type ToolCallHandler } from './tool-call.js';

export { INVALID_REQUEST, PARSE_ERROR } from './jsonrpc-lines.js';

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
 *
 * With a {@link toolCalls} handler set, plain `tools/call` requests (the hot path) are served by it
 * directly instead of through the SDK's `Server`: the same handler the `Server` uses, without a
 * second schema validation and dispatch per call. Everything else, and calls that ask for progress,
 * go to the `Server` as usual.
 */
export class LineStdioServerTransport implements Transport {
  onmessage?: (message: JSONRPCMessage) => void;
  onerror?: (error: Error) => void;
  onclose?: () => void;
  /** Serves `tools/call` without the SDK round trip, once the session's server is built. */
  toolCalls?: ToolCallHandler;

  private readonly input: Readable;
  private readonly output: Writable;
  private readonly reader: LineReader;
  /** Tool calls served by {@link toolCalls} and not yet answered, by request id, for cancellation. */
  private readonly inFlight = new Map<string | number, AbortController>();
  /** Ids of every request not yet answered, direct or not: a request reusing one is refused. */
  private readonly requests = new InFlightIds();
  private closed = false;

  constructor(private readonly opts: LineStdioOptions) {
    this.input = opts.input ?? process.stdin;
    this.output = opts.output ?? process.stdout;
    this.reader = new LineReader({
      maxMessageBytes: opts.maxMessageBytes,
      onMessage: (message) => this.dispatch(message),
      onProblem: (problem) => this.reject(problem),
    });
  }

  async start(): Promise<void> {
    this.input.on('data', this.onData);
    this.input.on('end', this.onEnd);
    this.input.on('error', this.onInputError);
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if (this.closed) return;
    const answered = responseId(message);
    if (answered !== undefined) this.requests.settled(answered);
    return this.write(message);
  }

  /** Writes one message; unlike `send`, an error answer written here leaves the ids in flight alone. */
  private async write(message: JSONRPCMessage): Promise<void> {
    if (this.closed) return;
    await writeLine(this.output, `${JSON.stringify(message)}\n`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.input.off('data', this.onData);
    this.input.off('end', this.onEnd);
    this.input.off('error', this.onInputError);
    for (const controller of this.inFlight.values()) controller.abort(new Error('transport closed'));
    this.requests.clear();
    this.onclose?.();
  }

  private readonly onEnd = () => void this.close();
  private readonly onInputError = (err: Error) => this.onerror?.(err);
  private readonly onData = (data: Buffer) => this.reader.push(data);

  private dispatch(message: JSONRPCMessage): void {
    const m = message as { id?: string | number; method?: string; params?: Record<string, unknown> };
    if (m.method !== undefined && m.id !== undefined && !this.requests.claim([m.id]).ok) {
      const text = `Invalid Request: request id ${JSON.stringify(m.id)} is already in flight`;
      // Written, not sent: the answer names the id of the request still in flight, which stays so.
      void this.write({ jsonrpc: '2.0', id: m.id, error: { code: INVALID_REQUEST, message: text } });
      return;
    }
    // A cancelled request is not answered (MCP cancellation), so its id is free from now on.
    const cancelled = cancelledId(message);
    if (cancelled !== undefined) this.requests.settled(cancelled);
    if (this.toolCalls && m.method === 'tools/call' && m.id !== undefined && !wantsProgress(m.params)) {
      this.serveToolCall(m.id, m.params, this.toolCalls);
      return;
    }
    if (m.method === 'notifications/cancelled') {
      const controller = this.inFlight.get(m.params?.['requestId'] as string | number);
      if (controller) {
        controller.abort(m.params?.['reason'] ?? 'cancelled');
        return;
      }
    }
    this.deliver(message, m.id, m.method);
  }

  /**
   * Hands a message to the SDK side. The SDK's `Protocol` drops, unanswered, a request its schemas
   * refuse (and serializes it for the error report, which throws for data nested deeply enough), so
   * such a request is answered here; and nothing a handler throws may escape into the input stream's
   * event handler, where it would end the process.
   */
  private deliver(
    message: JSONRPCMessage,
    id: string | number | undefined,
    method: string | undefined,
  ): void {
    if (!JSONRPCMessageSchema.safeParse(message).success) {
      return this.refuse(id, method, INVALID_REQUEST, 'Invalid Request: not a valid MCP message');
    }
    try {
      this.onmessage?.(message);
    } catch (err) {
      this.opts.log?.('error', 'stdio message handler failed', { error: (err as Error).message });
      this.refuse(id, method, INTERNAL_ERROR, 'Internal error');
    }
  }

  /** Answers a request with an error; anything else that cannot be handled is only logged. */
  private refuse(
    id: string | number | undefined,
    method: string | undefined,
    code: number,
    text: string,
  ): void {
    if (method === undefined || id === undefined) {
      this.opts.log?.('warn', 'dropped stdio message', { code, message: text });
      return;
    }
    void this.send({ jsonrpc: '2.0', id, error: { code, message: text } });
  }

  private serveToolCall(id: string | number, params: unknown, handler: ToolCallHandler): void {
    if (!isToolCallParams(params)) {
      void this.send({
        jsonrpc: '2.0',
        id,
        error: {
          code: INVALID_PARAMS,
          message: 'Invalid params: tools/call needs a name and object arguments',
        },
      } as JSONRPCMessage);
      return;
    }
    const controller = new AbortController();
    this.inFlight.set(id, controller);
    void answerToolCall(handler, id, params, controller.signal).then((answer) => {
      this.inFlight.delete(id);
      // A cancelled request gets no response (MCP cancellation: the receiver should not answer).
      if (!controller.signal.aborted) void this.send(answer);
    });
  }

  private reject(problem: LineProblem): void {
    this.opts.log?.('warn', 'rejected stdio input', { code: problem.code, message: problem.message });
    // id null is what JSON-RPC prescribes when the request's id cannot be known. Written, not sent:
    // an id echoed from an invalid message must not free a valid request's id still in flight.
    void this.write({
      jsonrpc: '2.0',
      id: problem.id,
      error: { code: problem.code, message: problem.message },
    } as unknown as JSONRPCMessage);
  }
}
