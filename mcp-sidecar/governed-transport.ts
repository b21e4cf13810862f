import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { CallToolResult, JSONRPCMessage, Tool } from '@modelcontextprotocol/sdk/types.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { LiveTool } from '../src/core/live-tool.js';
import { INTENT_META_KEY, type Enforcer, type Session } from '../src/pep/enforcer.js';
import type { TraceMeta } from '../src/pep/call-trace.js';
import { declareIntent, DECLARE_INTENT_TOOL } from '../src/pep/intent-tool.js';
import { listedTools, visibleServers } from '../src/pep/visibility.js';
import { NAME_SEPARATOR } from '../src/registry/live-tool.js';
import type { DefinitionGuard } from '../src/pep/definition-guard.js';
import { DirectRequestTransport } from '../src/transport/direct-requests.js';
import { answerError } from '../src/transport/errors.js';
import { errorObject, isObject } from '../src/transport/jsonrpc-lines.js';

export interface GovernedTransportOptions {
  enforcer: Enforcer;
  /** The caller's session at the enforcement point (identity and chain). */
  session: Session;
  /** Name of the governed server in the registry and in evidence (`server` of every tool). */
  server: string;
  /** The kernel's review of tool lists as they load (first-seen digests, poisoned definitions, drift). */
  definitions: Pick<DefinitionGuard, 'review'>;
  /**
   * Expose tools as `<server>__<tool>` (as the gateway does) instead of their own names. Registry
   * entries name tools as exposed.
   */
  prefix?: boolean;
}

type Id = string | number;
interface Pending {
  resolve: (result: Record<string, unknown>) => void;
  reject: (err: Error) => void;
}

/** How long the middleware's own tools/list may take. */
const LIST_TIMEOUT_MS = 60_000;

/** Lists of a server's resources and prompts: shown only to an agent that may use one of its tools. */
const GUARDED_LISTS: Record<string, string> = {
  'resources/list': 'resources',
  'resources/templates/list': 'resourceTemplates',
  'prompts/list': 'prompts',
};
/** Requests naming one resource or prompt: refused, as not found, when the lists would hide it. */
const GUARDED_REQUESTS = new Set([
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'prompts/get',
]);

/**
 * A client transport that governs another: every `tools/call` the client sends goes through the
 * enforcer (decision, evidence before forwarding, action record after), and `tools/list` answers
 * show only the tools the session's agent may use, plus `mcpgov__declare_intent`. Everything else
 * passes through untouched, with the client's own ids, so progress and cancellation work as before.
 *
 * This is the in-process sidecar: an agent built on the MCP SDK connects its `Client` to
 * `governTransport(transport, ...)` instead of `transport`, and changes nothing else.
 */
export class GovernedTransport extends DirectRequestTransport {
  /** Live tools by exposed name, from the server's latest tools/list. */
  private tools?: Map<string, LiveTool>;
  private loadingTools?: Promise<Map<string, LiveTool>>;
  /** Client requests forwarded after a decision, whose answers come back to the enforcer first. */
  private readonly forwarded = new Map<Id, Pending>();
  /** tools/list requests of the client, whose answers are filtered before the client sees them. */
  private readonly listing = new Set<Id>();
  /** Resource and prompt list requests of the client, by id: the result key their answer lists. */
  private readonly guardedLists = new Map<Id, string>();
  /** Calls being governed (a held call may wait for a person), by id: cancelled by the client's notice. */
  private readonly governing = new Map<Id, AbortController>();

  constructor(
    inner: Transport,
    private readonly opts: GovernedTransportOptions,
  ) {
    super(inner);
  }

  protected override connectionLost(): void {
    super.connectionLost();
    const closed = new Error('Connection closed');
    for (const p of this.forwarded.values()) p.reject(closed);
    this.forwarded.clear();
  }

  /** A new policy is in force: which tools the agent may see can change, so the client lists again. */
  policyChanged(): void {
    this.onmessage?.({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
  }

  override async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    const m = message as { id?: Id; method?: string; params?: Record<string, unknown> };
    if (m.method === 'notifications/cancelled') {
      const requestId = m.params?.['requestId'] as Id | undefined;
      if (requestId !== undefined) this.governing.get(requestId)?.abort();
    }
    if (m.id !== undefined && m.method === 'tools/call') {
      // Counted before anything can refuse the call: one without a decision record is a coverage gap.
      if (m.params?.['name'] !== DECLARE_INTENT_TOOL) this.opts.session.received += 1;
      void this.governCall(m.id, m.params ?? {}, message, options);
      return;
    }
    if (m.id !== undefined && m.method === 'tools/list') this.listing.add(m.id);
    if (m.id !== undefined && m.method !== undefined && GUARDED_REQUESTS.has(m.method)) {
      void this.guardRequest(m.id, m.method, m.params ?? {}, message, options);
      return;
    }
    const list = m.method === undefined ? undefined : GUARDED_LISTS[m.method];
    if (m.id !== undefined && list !== undefined) this.guardedLists.set(m.id, list);
    return super.send(message, options);
  }

  /** Whether the session's agent may see this server's resources and prompts (as the gateway decides). */
  private async serverVisible(): Promise<boolean> {
    const visible = await visibleServers(
      this.opts.enforcer,
      this.opts.session,
      (await this.liveTools()).values(),
    );
    return visible.has(this.opts.server);
  }

  /**
   * Forwards a request for one resource or prompt if the agent may see the server's, and answers it
   * exactly as the gateway answers an unknown resource or prompt otherwise. A prefixed prompt name
   * is renamed back to the server's own.
   */
  private async guardRequest(
    id: Id,
    method: string,
    params: Record<string, unknown>,
    message: JSONRPCMessage,
    options?: TransportSendOptions,
  ): Promise<void> {
    const notFound = (what: string) =>
      this.onmessage?.({
        jsonrpc: '2.0',
        id,
        error: errorObject(new McpError(ErrorCode.InvalidParams, `${what} not found`)),
      } as JSONRPCMessage);
    try {
      const visible = await this.serverVisible();
      if (method === 'prompts/get') {
        const name = typeof params['name'] === 'string' ? params['name'] : '';
        const own = this.ownName(name);
        if (!visible || own === undefined) return notFound(`Prompt ${name}`);
        return await super.send({ ...message, params: { ...params, name: own } } as JSONRPCMessage, options);
      }
      if (!visible) return notFound(`Resource ${String(params['uri'])}`);
      return await super.send(message, options);
    } catch (err) {
      this.onmessage?.({ jsonrpc: '2.0', id, error: errorObject(err) } as JSONRPCMessage);
    }
  }

  /** The server's own name for an exposed prompt name; undefined when a prefixed name lacks the prefix. */
  private ownName(exposed: string): string | undefined {
    if (!this.opts.prefix) return exposed;
    const prefix = `${this.opts.server}${NAME_SEPARATOR}`;
    return exposed.startsWith(prefix) ? exposed.slice(prefix.length) : undefined;
  }

  /** A resource or prompt list as the agent may see it: empty when the server's are hidden, else renamed. */
  private async filterGuardedList(id: Id, key: string, result: Record<string, unknown>): Promise<void> {
    let items: unknown[] = [];
    try {
      if (await this.serverVisible()) items = Array.isArray(result[key]) ? (result[key] as unknown[]) : [];
    } catch {
      items = []; // visibility unknown: show nothing (fail closed)
    }
    const prefix = this.opts.prefix ? `${this.opts.server}${NAME_SEPARATOR}` : '';
    const renamed = items.map((item) =>
      isObject(item) && typeof item['name'] === 'string'
        ? { ...item, name: `${prefix}${item['name']}` }
        : item,
    );
    const answer =
      items.length === 0 ? { ...result, [key]: [], nextCursor: undefined } : { ...result, [key]: renamed };
    this.onmessage?.({ jsonrpc: '2.0', id, result: answer } as JSONRPCMessage);
  }

  /** Decides a client's tools/call and answers it: the downstream result, or the enforcer's refusal. */
  private async governCall(
    id: Id,
    params: Record<string, unknown>,
    message: JSONRPCMessage,
    options?: TransportSendOptions,
  ): Promise<void> {
    const name = typeof params['name'] === 'string' ? params['name'] : '';
    const args = isObject(params['arguments']) ? params['arguments'] : {};
    const meta = isObject(params['_meta']) ? params['_meta'] : undefined;
    const progressToken = meta?.['progressToken'];
    const controller = new AbortController();
    this.governing.set(id, controller);
    const hooks = {
      signal: controller.signal,
      progress:
        progressToken === undefined
          ? undefined
          : (p: { progress: number; total?: number; message?: string }) =>
              this.onmessage?.({
                jsonrpc: '2.0',
                method: 'notifications/progress',
                params: { ...p, progressToken },
              } as JSONRPCMessage),
    };
    try {
      let result: CallToolResult;
      if (name === DECLARE_INTENT_TOOL) {
        result = await declareIntent(this.opts.enforcer, this.opts.session, args);
      } else {
        const live = (await this.liveTools()).get(name);
        result = await this.opts.enforcer.call(
          this.opts.session,
          name,
          args,
          live,
          (trace) => this.forward(id, live as LiveTool, message, controller.signal, trace, options),
          meta,
          hooks,
        );
      }
      // A cancelled request gets no answer (MCP cancellation: the receiver should not respond).
      if (!controller.signal.aborted) this.onmessage?.({ jsonrpc: '2.0', id, result } as JSONRPCMessage);
    } catch (err) {
      if (!controller.signal.aborted)
        this.onmessage?.({ jsonrpc: '2.0', id, error: errorObject(err) } as JSONRPCMessage);
    } finally {
      this.governing.delete(id);
    }
  }

  /**
   * Sends the client's own request (renamed back to the server's tool name when prefixed). Once the
   * client cancels it, the server will not answer it either: the wait ends there, so the call's
   * action record is written and its place among the calls in flight is freed. `trace`: the
   * sidecar's span as the server's trace parent, in place of the client's, when tracing is on.
   */
  private forward(
    id: Id,
    live: LiveTool,
    message: JSONRPCMessage,
    signal: AbortSignal,
    trace: TraceMeta,
    options?: TransportSendOptions,
  ): Promise<CallToolResult> {
    const request = message as { params: Record<string, unknown> };
    const { [INTENT_META_KEY]: _intent, ...meta } =
      (request.params['_meta'] as Record<string, unknown>) ?? {};
    const params: Record<string, unknown> = { ...request.params, name: live.tool };
    if (request.params['_meta'] !== undefined || Object.keys(trace).length > 0)
      params['_meta'] = { ...meta, ...trace };
    return new Promise((resolve, reject) => {
      const cancelled = () => {
        this.forwarded.delete(id);
        reject(new Error('the client cancelled the call'));
      };
      if (signal.aborted) return cancelled();
      signal.addEventListener('abort', cancelled, { once: true });
      const done = () => signal.removeEventListener('abort', cancelled);
      this.forwarded.set(id, {
        resolve: (r) => {
          done();
          resolve(r as CallToolResult);
        },
        reject: (err) => {
          done();
          reject(err);
        },
      });
      this.inner.send({ ...message, params } as JSONRPCMessage, options).catch((err: Error) => {
        this.forwarded.delete(id);
        done();
        reject(err);
      });
    });
  }

  /** Answers to forwarded calls go to the enforcer, tool lists are filtered, the rest passes. */
  protected override deliver(message: JSONRPCMessage): void {
    const m = message as {
      id?: Id;
      method?: string;
      result?: Record<string, unknown>;
      error?: { code: number; message: string; data?: unknown };
    };
    if (m.method === 'notifications/tools/list_changed') this.tools = undefined;
    if (m.id === undefined || m.method !== undefined) {
      this.onmessage?.(message);
      return;
    }
    const pending = this.forwarded.get(m.id);
    if (pending) {
      this.forwarded.delete(m.id);
      if (m.error) pending.reject(answerError(m.error));
      else pending.resolve(m.result ?? {});
      return;
    }
    if (this.listing.delete(m.id) && m.result) {
      void this.filterList(m.id, m.result);
      return;
    }
    const list = this.guardedLists.get(m.id);
    if (list !== undefined) {
      this.guardedLists.delete(m.id);
      if (m.result) {
        void this.filterGuardedList(m.id, list, m.result);
        return;
      }
    }
    this.onmessage?.(message);
  }

  /** Answers a client's tools/list with the tools its agent may use, and remembers their definitions. */
  private async filterList(id: Id, result: Record<string, unknown>): Promise<void> {
    const defs = Array.isArray(result['tools']) ? (result['tools'] as Tool[]) : [];
    const page = this.toLiveTools(defs);
    // A first page replaces what was known; later pages (with a cursor) add to it.
    this.tools = new Map([...(this.tools ?? []), ...page]);
    // The own tool goes on the last page: the one without a cursor to a next.
    const lastPage = result['nextCursor'] === undefined;
    const tools = await listedTools(this.opts.enforcer, this.opts.session, page.values(), lastPage);
    this.onmessage?.({ jsonrpc: '2.0', id, result: { ...result, tools } } as JSONRPCMessage);
  }

  /** The server's tools, listed on first use when the client has not listed them itself. */
  private async liveTools(): Promise<Map<string, LiveTool>> {
    if (this.tools) return this.tools;
    this.loadingTools ??= this.listAll().finally(() => (this.loadingTools = undefined));
    return this.loadingTools;
  }

  private async listAll(): Promise<Map<string, LiveTool>> {
    const tools = new Map<string, LiveTool>();
    let cursor: string | undefined;
    for (let page = 0; page < 1000; page++) {
      const result = await this.request('tools/list', cursor ? { cursor } : {}, {
        timeoutMs: LIST_TIMEOUT_MS,
      });
      const defs = Array.isArray(result['tools']) ? (result['tools'] as Tool[]) : [];
      for (const [name, live] of this.toLiveTools(defs)) tools.set(name, live);
      cursor = typeof result['nextCursor'] === 'string' ? result['nextCursor'] : undefined;
      if (!cursor) break;
    }
    this.tools = tools;
    return tools;
  }

  private toLiveTools(defs: Tool[]): Map<string, LiveTool> {
    const out = new Map<string, LiveTool>();
    for (const live of this.opts.definitions.review(this.opts.server, defs, this.opts.prefix ?? false)) {
      out.set(live.name, live);
    }
    return out;
  }
}
