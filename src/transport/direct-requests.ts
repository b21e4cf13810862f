import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, McpError, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { answerError } from './errors.js';

export interface DirectRequestOptions {
  signal?: AbortSignal;
  /** Without a response (or progress, with `onprogress`) for this long, the request is cancelled. */
  timeoutMs: number;
  /** Asks the server for progress notifications and receives them; each one restarts the timeout. */
  onprogress?: (progress: { progress: number; total?: number; message?: string }) => void;
}

interface Pending {
  resolve: (result: Record<string, unknown>) => void;
  reject: (err: Error) => void;
  /** Progress for this request, when it asked for some. */
  progress?: (params: Record<string, unknown>) => void;
}

/** Ids of direct requests; the SDK's client numbers its own requests, so the two never collide. */
const ID_PREFIX = 'mcpgov-';

/**
 * A transport wrapper that lets the PEP send requests on a downstream connection directly, beside
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
      this.connectionLost();
      this.onclose?.();
    };
  }

  /** Everything that is not an answer to a direct request goes on to the owner of the connection. */
  protected deliver(message: JSONRPCMessage): void {
    this.onmessage?.(message);
  }

  /** The connection ended: requests still waiting fail. */
  protected connectionLost(): void {
    const closed = new McpError(ErrorCode.ConnectionClosed, 'Connection closed');
    for (const p of [...this.pending.values()]) p.reject(closed);
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
      let timer: NodeJS.Timeout;
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
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(
          () =>
            cancel(new McpError(ErrorCode.RequestTimeout, 'Request timed out', { timeout: opts.timeoutMs })),
          opts.timeoutMs,
        );
      };
      arm();
      signal?.addEventListener('abort', onAbort, { once: true });
      const { onprogress } = opts;
      this.pending.set(id, {
        resolve: (result) => {
          settle();
          resolve(result);
        },
        reject: (err) => {
          settle();
          reject(err);
        },
        progress:
          onprogress &&
          (({ progressToken: _token, ...p }) => {
            arm(); // a long call that reports progress is alive (the SDK's resetTimeoutOnProgress)
            onprogress(p as { progress: number; total?: number; message?: string });
          }),
      });
      // With a progress handler, the request's own id is its progress token.
      const sent = onprogress
        ? { ...params, _meta: { ...(params['_meta'] as object | undefined), progressToken: id } }
        : params;
      this.inner.send({ jsonrpc: '2.0', id, method, params: sent } as JSONRPCMessage).catch((err: Error) => {
        this.pending.get(id)?.reject(err);
      });
    });
  }

  private receive(message: JSONRPCMessage): void {
    const m = message as { id?: unknown; method?: string; params?: Record<string, unknown> };
    if (m.method === 'notifications/progress') {
      const token = m.params?.['progressToken'];
      const progress = typeof token === 'string' ? this.pending.get(token)?.progress : undefined;
      if (progress) return progress(m.params!);
    }
    const pending = typeof m.id === 'string' && m.method === undefined ? this.pending.get(m.id) : undefined;
    if (!pending) return this.deliver(message);
    if ('result' in message) pending.resolve(message.result as Record<string, unknown>);
    else pending.reject(answerError((message as { error: { code: number; message: string } }).error));
  }
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error
    ? reason
    : new McpError(ErrorCode.RequestTimeout, `Request cancelled: ${String(reason)}`);
}
