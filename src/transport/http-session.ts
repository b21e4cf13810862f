import type { IncomingMessage, ServerResponse } from 'node:http';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  SUPPORTED_PROTOCOL_VERSIONS,
  type JSONRPCMessage,
  type MessageExtraInfo,
} from '@modelcontextprotocol/sdk/types.js';
import { cancelledId, InFlightIds, requestIds, responseId, type RequestId } from './request-ids.js';
import {
  answerToolCall,
  isToolCallParams,
  wantsProgress,
  type ToolCallHandler,
  type ToolCallParams,
} from './tool-call.js';

type MessageHandler = NonNullable<Transport['onmessage']>;

/**
 * One stateful Streamable HTTP session: the SDK's server transport, seen by the session's MCP server
 * through this wrapper, which keeps track of the request ids in flight (a request that reuses one is
 * refused before the SDK sees it: the SDK would route the first request's answer to the second's
 * stream) and of whether the session is in use (for the idle timeout).
 */
export class HttpSession implements Transport {
  /** The SDK transport that serves this session's HTTP requests. */
  readonly transport: StreamableHTTPServerTransport;
  private readonly inFlight = new InFlightIds();
  /** HTTP requests of this session whose responses are still open (SSE streams included). */
  private streams = 0;
  private handler?: MessageHandler;
  /** When it was last used (a request began or a response ended), in milliseconds since the epoch. */
  private lastSeen: number;
  /**
   * Serves a plain `tools/call` without the SDK: answered as one JSON object (Streamable HTTP lets a
   * server answer a request with `application/json` instead of an SSE stream), with no second schema
   * validation and dispatch. Set once the session's server is built.
   */
  toolCalls?: ToolCallHandler;
  /**
   * Whether a call may take that path: only when nothing can need the call's own response stream
   * meanwhile (the client cannot be asked anything during the call, e.g. no elicitation).
   */
  directCalls?: () => boolean;
  /** Calls served directly and not yet answered, for cancellation. */
  private readonly directInFlight = new Map<RequestId, AbortController>();

  constructor(
    readonly id: string,
    /** Who opened it, as sessions are counted per caller. */
    readonly caller: string,
    /** The credentials the session was opened with (HttpAuthResult.binding): later requests must match. */
    readonly binding: string,
    private readonly clock: () => number = Date.now,
  ) {
    this.lastSeen = clock();
    this.transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => id });
  }

  get sessionId(): string {
    return this.id;
  }

  get onclose(): (() => void) | undefined {
    return this.transport.onclose;
  }

  set onclose(handler: (() => void) | undefined) {
    this.transport.onclose = handler;
  }

  get onerror(): ((error: Error) => void) | undefined {
    return this.transport.onerror;
  }

  set onerror(handler: ((error: Error) => void) | undefined) {
    this.transport.onerror = handler;
  }

  get onmessage(): MessageHandler | undefined {
    return this.handler;
  }

  set onmessage(handler: MessageHandler | undefined) {
    this.handler = handler;
    this.transport.onmessage =
      handler &&
      ((message: JSONRPCMessage, extra?: MessageExtraInfo) => {
        this.received(message);
        handler(message, extra);
      });
  }

  start(): Promise<void> {
    return this.transport.start();
  }

  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    // Freed before the SDK writes the answer: once the client has it, it may use the id again.
    const answered = responseId(message);
    if (answered !== undefined) this.inFlight.settled(answered);
    return this.transport.send(message, options);
  }

  close(): Promise<void> {
    for (const controller of this.directInFlight.values()) controller.abort(new Error('session closed'));
    this.inFlight.clear();
    return this.transport.close();
  }

  /** Whether the session has had no request and no open stream since `cutoff`. */
  idleSince(cutoff: number): boolean {
    return this.streams === 0 && this.lastSeen < cutoff;
  }

  /**
   * Serves one HTTP request of the session (its body already parsed). When the body holds a request
   * whose id is in flight in this session, nothing is served and that id is returned for the caller
   * to refuse the request with.
   */
  async handle(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<{ duplicate?: RequestId }> {
    const claimed = this.inFlight.claim(requestIds(body));
    if (!claimed.ok) return { duplicate: claimed.id };
    this.lastSeen = this.clock();
    this.streams += 1;
    res.once('close', () => {
      this.streams -= 1;
      this.lastSeen = this.clock();
    });
    const call = this.directCall(req, body);
    if (call) {
      this.inFlight.delivered(call.id);
      await this.serveToolCall(res, call.id, call.params, call.handler);
      return {};
    }
    try {
      await this.transport.handleRequest(req, res, body);
    } finally {
      // Ids the SDK refused (a bad batch, a bad header) never reached a handler: free them.
      this.inFlight.release(claimed.claim);
    }
    return {};
  }

  /**
   * The call in `body`, when it can be served directly: one `tools/call` request (not a batch) without
   * a progress token, on an initialized session, from a client that sent what the SDK path would
   * require (JSON content, both media types accepted, a supported protocol version). Anything else
   * takes the SDK path, which answers it or says what is wrong with it.
   */
  private directCall(
    req: IncomingMessage,
    body: unknown,
  ): { id: RequestId; params: ToolCallParams; handler: ToolCallHandler } | undefined {
    const handler = this.toolCalls;
    if (!handler || this.transport.sessionId === undefined || this.directCalls?.() === false)
      return undefined;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
    const m = body as { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown };
    if (m.jsonrpc !== '2.0' || m.method !== 'tools/call') return undefined;
    if (typeof m.id !== 'string' && typeof m.id !== 'number') return undefined;
    if (!isToolCallParams(m.params) || wantsProgress(m.params)) return undefined;
    const accept = req.headers.accept ?? '';
    if (!accept.includes('application/json') || !accept.includes('text/event-stream')) return undefined;
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') return undefined;
    const version = req.headers['mcp-protocol-version'];
    if (version !== undefined && (Array.isArray(version) || !SUPPORTED_PROTOCOL_VERSIONS.includes(version))) {
      return undefined;
    }
    return { id: m.id, params: m.params, handler };
  }

  /**
   * Answers one `tools/call` as a JSON object. The client cancels it with `notifications/cancelled`
   * (then it gets no answer, as MCP cancellation says) or by going away.
   */
  private async serveToolCall(
    res: ServerResponse,
    id: RequestId,
    params: ToolCallParams,
    handler: ToolCallHandler,
  ): Promise<void> {
    const controller = new AbortController();
    this.directInFlight.set(id, controller);
    const gone = () => {
      if (!res.writableFinished) controller.abort(new Error('the client closed the request'));
    };
    res.once('close', gone);
    const answer = await answerToolCall(handler, id, params, controller.signal);
    this.directInFlight.delete(id);
    // Freed before the answer is written: once the client has it, it may use the id again.
    this.inFlight.settled(id);
    if (res.destroyed) return;
    if (controller.signal.aborted) {
      res.writeHead(202).end();
      return;
    }
    const text = JSON.stringify(answer);
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'mcp-session-id': this.id,
    });
    res.end(text);
  }

  private received(message: JSONRPCMessage): void {
    const cancelled = cancelledId(message);
    if (cancelled !== undefined)
      this.directInFlight.get(cancelled)?.abort(new Error('cancelled by the client'));
    // A cancelled request is not answered (MCP cancellation), so its id is free from now on.
    if (cancelled !== undefined) this.inFlight.settled(cancelled);
    else if ('method' in message && 'id' in message) this.inFlight.delivered(message.id);
  }
}
