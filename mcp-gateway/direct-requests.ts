import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, McpError, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

export interface DirectRequestOptions {
  signal?: AbortSignal;
  timeoutMs: number;
}

interface Pending {
  resolve: (result: Record<string, unknown>) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** Ids of direct requests; the SDK's client numbers its own requests, so the two never collide. */
const ID_PREFIX = 'mcpgov-';

/**
 * A transport wrapper that lets the gateway send requests on a downstream connection directly, beside
 * the SDK `Client` that owns it (handshake, lists, notifications). Answers to direct requests are
 * taken out before the `Client` sees them and returned as received: forwarding a tool result needs no
 * result schema, and skipping the `Client`'s dispatch keeps the hot path short. Timeouts and
 * cancellation follow the MCP spec: a cancelled request is announced with `notifications/cancelled`.
 */
export class DirectRequestTransport implements Transport {
  onmessage?: (message: JSONRPCMessage) => void;
  onerror?: (error: Error) => void;
  onclose?: () => void;

  private nextId = 0;
  private readonly pending = new Map<string, Pending>();

  constructor(readonly inner: Transport) {
    inner.onmessage = (message) => this.receive(message);
    inner.onerror = (err) => this.onerror?.(err);
    inner.onclose = () => {
      this.failAll(new McpError(ErrorCode.ConnectionClosed, 'Connection closed'));
      this.onclose?.();
    };
  }

  get sessionId(): string | undefined {
    return this.inner.sessionId;
  }

  setProtocolVersion(version: string): void {
    this.inner.setProtocolVersion?.(version);
  }

  start(): Promise<void> {
    return this.inner.start();
  }

  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    return this.inner.send(message, options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** Sends one request and resolves with its result object; a JSON-RPC error rejects as an McpError. */
  request(
    method: string,
    params: Record<string, unknown>,
    opts: DirectRequestOptions,
  ): Promise<Record<string, unknown>> {
    const id = `${ID_PREFIX}${++this.nextId}`;
    const { signal } = opts;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    return new Promise((resolve, reject) => {
      const settle = () => {
        this.pending.delete(id);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const cancel = (err: Error) => {
        settle();
        void this.inner
          .send({
            jsonrpc: '2.0',
            method: 'notifications/cancelled',
            params: { requestId: id, reason: err.message },
          })
          .catch(() => {});
        reject(err);
      };
      const onAbort = () => cancel(abortError(signal!));
      const timer = setTimeout(
        () =>
          cancel(new McpError(ErrorCode.RequestTimeout, 'Request timed out', { timeout: opts.timeoutMs })),
        opts.timeoutMs,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        resolve: (result) => {
          settle();
          resolve(result);
        },
        reject: (err) => {
          settle();
          reject(err);
        },
        timer,
      });
      this.inner.send({ jsonrpc: '2.0', id, method, params } as JSONRPCMessage).catch((err: Error) => {
        this.pending.get(id)?.reject(err);
      });
    });
  }

  private receive(message: JSONRPCMessage): void {
    const id = (message as { id?: unknown }).id;
    const pending = typeof id === 'string' && !('method' in message) ? this.pending.get(id) : undefined;
    if (!pending) {
      this.onmessage?.(message);
      return;
    }
    if ('result' in message) pending.resolve(message.result as Record<string, unknown>);
    else {
      const {
        code,
        message: text,
        data,
      } = (message as { error: { code: number; message: string; data?: unknown } }).error;
      pending.reject(new McpError(code, text, data));
    }
  }

  private failAll(err: Error): void {
    for (const p of [...this.pending.values()]) p.reject(err);
  }
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error
    ? reason
    : new McpError(ErrorCode.RequestTimeout, `Request cancelled: ${String(reason)}`);
}
