import type { IncomingMessage, ServerResponse } from 'node:http';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage, MessageExtraInfo } from '@modelcontextprotocol/sdk/types.js';
import { cancelledId, InFlightIds, requestIds, responseId, type RequestId } from './request-ids.js';

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
    try {
      await this.transport.handleRequest(req, res, body);
    } finally {
      // Ids the SDK refused (a bad batch, a bad header) never reached a handler: free them.
      this.inFlight.release(claimed.claim);
    }
    return {};
  }

  private received(message: JSONRPCMessage): void {
    const cancelled = cancelledId(message);
    // A cancelled request is not answered (MCP cancellation), so its id is free from now on.
    if (cancelled !== undefined) this.inFlight.settled(cancelled);
    else if ('method' in message && 'id' in message) this.inFlight.delivered(message.id);
  }
}
