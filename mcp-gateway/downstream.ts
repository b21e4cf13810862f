import { EventEmitter } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CompleteResultSchema,
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  EmptyResultSchema,
  ErrorCode,
  GetPromptResultSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  McpError,
  ResourceUpdatedNotificationSchema,
  ListPromptsResultSchema,
  ListResourcesResultSchema,
  ListResourceTemplatesResultSchema,
  ListToolsResultSchema,
  PromptListChangedNotificationSchema,
  ReadResourceResultSchema,
  ResourceListChangedNotificationSchema,
  ToolListChangedNotificationSchema,
  type CallToolResult,
  type ClientCapabilities,
  type CompleteRequest,
  type CompleteResult,
  type GetPromptRequest,
  type GetPromptResult,
  type Prompt,
  type ReadResourceRequest,
  type ReadResourceResult,
  type Resource,
  type LoggingLevel,
  type LoggingMessageNotification,
  type ResourceTemplate,
  type Result,
  type ServerCapabilities,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import type { ServerConfig } from '../src/config/schema.js';
import { DirectRequestTransport } from '../src/transport/direct-requests.js';
import { LineStdioClientTransport } from '../src/transport/stdio-client.js';
import type { ResolvedConfig } from '../src/config/load-config.js';
import { ServerUnavailableError } from '../src/transport/errors.js';
import { createLogger, type Logger } from '../src/util/log.js';

/** Connection state of a downstream server. */
export type DownstreamState = 'starting' | 'up' | 'down' | 'stopped';

/** Which cached list changed. */
export type ListKind = 'tools' | 'resources' | 'prompts';

export interface RestartPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  factor: number;
}

export interface DownstreamOptions {
  log?: Logger;
  clientInfo?: { name: string; version: string };
  restart?: Partial<RestartPolicy>;
  /** Base folder for a relative `cwd` in the server config. */
  cwd?: string;
  /** Largest message a stdio server may send (`limits.max_downstream_message_bytes`); longer ones are refused unread. */
  maxMessageBytes?: number;
}

/** A request a downstream server sends its client: relayed by the gateway to one of its own clients. */
export type ServerToClientRequest =
  | { method: 'sampling/createMessage'; params: Record<string, unknown> }
  | { method: 'elicitation/create'; params: Record<string, unknown> }
  | { method: 'roots/list'; params?: Record<string, unknown> };

/** Answers a downstream server's requests to its client (the gateway relays them upstream). */
export type ClientRequestHandler = (
  server: string,
  request: ServerToClientRequest,
  signal: AbortSignal,
) => Promise<Result>;

/**
 * What the gateway offers downstream servers as their client: sampling, elicitation and roots are
 * answered by the gateway's own clients (relayed), so a server may use them during a call.
 */
export const DOWNSTREAM_CLIENT_CAPABILITIES: ClientCapabilities = {
  sampling: {},
  elicitation: { form: {}, url: {} },
  roots: { listChanged: true },
};

/** Per-call options. */
export interface CallOptions {
  signal?: AbortSignal;
  onprogress?: (p: { progress: number; total?: number; message?: string }) => void;
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 300_000;
/** A connection that stays up this long resets the backoff, so a flapping server backs off for real. */
const STABLE_AFTER_MS = 10_000;

/**
 * One downstream MCP server: connects, caches its tools, resources and prompts, forwards calls without
 * re-validating results, and restarts it with exponential backoff and jitter when it goes away. The
 * last known lists survive an outage, so the gateway can answer its tools with a clear error meanwhile.
 */
export class Downstream extends EventEmitter {
  state: DownstreamState = 'starting';
  tools: Tool[] = [];
  resources: Resource[] = [];
  resourceTemplates: ResourceTemplate[] = [];
  prompts: Prompt[] = [];
  capabilities?: ServerCapabilities;
  serverInfo?: { name: string; version: string };

  /**
   * Answers the server's requests to its client (sampling, elicitation, roots); without one they are
   * refused.
   */
  clientRequests?: ClientRequestHandler;

  private client?: Client;
  private transport?: DirectRequestTransport;
  /** The logging level last asked for, and the resources subscribed to: applied again on reconnect. */
  private loggingLevel?: LoggingLevel;
  private readonly subscribed = new Set<string>();
  private attempt = 0;
  private restartTimer?: NodeJS.Timeout;
  private stableTimer?: NodeJS.Timeout;
  private readonly log: Logger;
  private readonly restart: RestartPolicy;

  constructor(
    readonly name: string,
    readonly config: ServerConfig,
    private readonly opts: DownstreamOptions = {},
  ) {
    super();
    this.log = opts.log ?? createLogger('downstream');
    this.restart = { initialDelayMs: 250, maxDelayMs: 30_000, factor: 2, ...opts.restart };
  }

  /** Process id of a stdio server's child, while it runs. */
  get pid(): number | undefined {
    const inner = this.transport?.inner;
    return inner instanceof LineStdioClientTransport ? inner.pid : undefined;
  }

  /** Connects and loads the lists. Never throws: a server that fails to start is retried in the background. */
  async start(): Promise<void> {
    if (this.state === 'stopped') return;
    this.setState('starting');
    const client = new Client(this.opts.clientInfo ?? { name: 'mcpgov', version: '0' }, {
      capabilities: DOWNSTREAM_CLIENT_CAPABILITIES,
    });
    this.answerServerRequests(client);
    const transport = new DirectRequestTransport(this.createTransport());
    this.client = client;
    this.transport = transport;
    client.onclose = () => {
      if (this.client === client) this.lost('connection closed');
    };
    client.onerror = (err) =>
      this.log('debug', 'downstream transport error', { server: this.name, error: err.message });
    try {
      await client.connect(transport);
      this.capabilities = client.getServerCapabilities();
      this.serverInfo = client.getServerVersion();
      this.watchListChanges(client);
      await this.refresh(['tools', 'resources', 'prompts']);
      await this.restoreInterest(client);
    } catch (err) {
      this.log('warn', 'downstream server failed to start', {
        server: this.name,
        error: (err as Error).message,
      });
      if (this.client === client) {
        this.client = undefined;
        await client.close().catch(() => {});
        this.scheduleRestart();
      }
      return;
    }
    if (this.client !== client) return;
    this.setState('up');
    this.log('info', 'downstream server up', { server: this.name, tools: this.tools.length });
    this.stableTimer = setTimeout(() => (this.attempt = 0), STABLE_AFTER_MS);
    this.stableTimer.unref();
  }

  /** Closes the connection and stops restarting. */
  async stop(): Promise<void> {
    this.setState('stopped');
    clearTimeout(this.restartTimer);
    clearTimeout(this.stableTimer);
    const client = this.client;
    this.client = undefined;
    await client?.close().catch(() => {});
  }

  /**
   * Forwards `tools/call`; the result is returned as received: the gateway checks it only for what
   * evidence needs, and the upstream answer passes it on.
   */
  async callTool(
    params: { name: string; arguments?: Record<string, unknown>; _meta?: Record<string, unknown> },
    opts: CallOptions = {},
  ): Promise<CallToolResult> {
    this.up();
    return (await this.transport!.request('tools/call', params, {
      signal: opts.signal,
      onprogress: opts.onprogress,
      timeoutMs: opts.timeoutMs ?? this.config.timeout_ms ?? DEFAULT_TIMEOUT_MS,
    })) as CallToolResult;
  }

  /** Forwards `resources/read`. */
  async readResource(
    params: ReadResourceRequest['params'],
    opts: CallOptions = {},
  ): Promise<ReadResourceResult> {
    return this.up().request(
      { method: 'resources/read', params },
      ReadResourceResultSchema,
      this.requestOptions(opts),
    );
  }

  /** Forwards `prompts/get`. */
  async getPrompt(params: GetPromptRequest['params'], opts: CallOptions = {}): Promise<GetPromptResult> {
    return this.up().request(
      { method: 'prompts/get', params },
      GetPromptResultSchema,
      this.requestOptions(opts),
    );
  }

  /** Forwards `completion/complete` (the ref already in the server's own names). */
  async complete(params: CompleteRequest['params'], opts: CallOptions = {}): Promise<CompleteResult> {
    return this.up().request(
      { method: 'completion/complete', params },
      CompleteResultSchema,
      this.requestOptions(opts),
    );
  }

  /**
   * Asks the server to send log messages at `level` and above, when it declares `logging`; kept and
   * asked again after a reconnect.
   */
  async setLoggingLevel(level: LoggingLevel): Promise<void> {
    this.loggingLevel = level;
    if (!this.capabilities?.logging || this.state !== 'up' || !this.client) return;
    await this.client.setLoggingLevel(level);
  }

  /** Subscribes to a resource's updates (kept, and subscribed again after a reconnect). */
  async subscribeResource(uri: string): Promise<void> {
    const client = this.up();
    await client.request({ method: 'resources/subscribe', params: { uri } }, EmptyResultSchema);
    this.subscribed.add(uri);
  }

  /** Ends a subscription to a resource's updates. */
  async unsubscribeResource(uri: string): Promise<void> {
    this.subscribed.delete(uri);
    if (this.state !== 'up' || !this.client) return;
    await this.client.request({ method: 'resources/unsubscribe', params: { uri } }, EmptyResultSchema);
  }

  /** Tells the server its client's roots changed (`notifications/roots/list_changed`). */
  async rootsChanged(): Promise<void> {
    if (this.state !== 'up' || !this.client) return;
    await this.client.sendRootsListChanged();
  }

  private up(): Client {
    if (this.state !== 'up' || !this.client) throw new ServerUnavailableError(this.name);
    return this.client;
  }

  private requestOptions(opts: CallOptions) {
    return {
      signal: opts.signal,
      onprogress: opts.onprogress,
      resetTimeoutOnProgress: true,
      timeout: opts.timeoutMs ?? this.config.timeout_ms ?? DEFAULT_TIMEOUT_MS,
    };
  }

  private createTransport(): StreamableHTTPClientTransport | LineStdioClientTransport {
    const config = this.config;
    if ('url' in config) {
      return new StreamableHTTPClientTransport(new URL(config.url), {
        requestInit: { headers: config.headers },
      });
    }
    const base = this.opts.cwd ?? process.cwd();
    const transport = new LineStdioClientTransport({
      command: config.command === 'node' ? process.execPath : config.command,
      args: config.args,
      env: config.env,
      cwd: path.resolve(base, config.cwd ?? '.'),
      maxMessageBytes: this.opts.maxMessageBytes,
    });
    createInterface({ input: transport.stderr }).on('line', (line) =>
      this.log('info', line, { server: this.name, stream: 'stderr' }),
    );
    return transport;
  }

  /**
   * The server's requests to its client go to `clientRequests`; its log messages and resource updates
   * are emitted (`log`, `resourceUpdated`) for the gateway to relay to its own clients.
   */
  private answerServerRequests(client: Client): void {
    const ask = (request: ServerToClientRequest, signal: AbortSignal) => {
      const handler = this.clientRequests;
      if (!handler) throw new McpError(ErrorCode.MethodNotFound, `${request.method} is not relayed`);
      return handler(this.name, request, signal);
    };
    client.setRequestHandler(CreateMessageRequestSchema, (request, extra) =>
      ask({ method: 'sampling/createMessage', params: request.params }, extra.signal),
    );
    client.setRequestHandler(ElicitRequestSchema, (request, extra) =>
      ask({ method: 'elicitation/create', params: request.params }, extra.signal),
    );
    client.setRequestHandler(ListRootsRequestSchema, (request, extra) =>
      ask({ method: 'roots/list', params: request.params }, extra.signal),
    );
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n: LoggingMessageNotification) => {
      this.emit('log', n.params);
    });
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      this.emit('resourceUpdated', n.params.uri);
    });
  }

  /** After a (re)connect: the logging level and the subscriptions the gateway's clients asked for. */
  private async restoreInterest(client: Client): Promise<void> {
    if (this.loggingLevel && this.capabilities?.logging) await client.setLoggingLevel(this.loggingLevel);
    for (const uri of this.subscribed) {
      await client.request({ method: 'resources/subscribe', params: { uri } }, EmptyResultSchema);
    }
  }

  private watchListChanges(client: Client): void {
    const on = (kind: ListKind) => () => void this.refresh([kind]).catch(() => {});
    client.setNotificationHandler(ToolListChangedNotificationSchema, on('tools'));
    client.setNotificationHandler(ResourceListChangedNotificationSchema, on('resources'));
    client.setNotificationHandler(PromptListChangedNotificationSchema, on('prompts'));
  }

  /** Reloads the given lists (all pages), emitting `listChanged` for each that differs. */
  private async refresh(kinds: ListKind[]): Promise<void> {
    const client = this.client;
    const caps = this.capabilities ?? {};
    if (!client) return;
    for (const kind of kinds) {
      let changed = false;
      if (kind === 'tools' && caps.tools) {
        changed = this.replace(
          'tools',
          await paginate(client, 'tools/list', ListToolsResultSchema, (r) => r.tools),
        );
      }
      if (kind === 'resources' && caps.resources) {
        changed = this.replace(
          'resources',
          await paginate(client, 'resources/list', ListResourcesResultSchema, (r) => r.resources),
        );
        changed =
          this.replace(
            'resourceTemplates',
            await paginate(
              client,
              'resources/templates/list',
              ListResourceTemplatesResultSchema,
              (r) => r.resourceTemplates,
            ),
          ) || changed;
      }
      if (kind === 'prompts' && caps.prompts) {
        changed = this.replace(
          'prompts',
          await paginate(client, 'prompts/list', ListPromptsResultSchema, (r) => r.prompts),
        );
      }
      if (changed) this.emit('listChanged', kind);
    }
  }

  private replace<K extends 'tools' | 'resources' | 'resourceTemplates' | 'prompts'>(
    key: K,
    value: this[K],
  ): boolean {
    const changed = JSON.stringify(this[key]) !== JSON.stringify(value);
    this[key] = value;
    return changed;
  }

  private lost(why: string): void {
    if (this.state === 'stopped') return;
    this.log('warn', 'downstream server went away', { server: this.name, why });
    this.client = undefined;
    clearTimeout(this.stableTimer);
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (this.state === 'stopped') return;
    this.setState('down');
    clearTimeout(this.restartTimer);
    const { initialDelayMs, maxDelayMs, factor } = this.restart;
    const base = Math.min(maxDelayMs, initialDelayMs * factor ** this.attempt);
    // Full jitter over the upper half, so many gateways restarting one server do not stampede it.
    const delay = base / 2 + Math.random() * (base / 2);
    this.attempt += 1;
    this.restartTimer = setTimeout(() => void this.start(), delay);
    this.restartTimer.unref();
  }

  private setState(state: DownstreamState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
  }
}

/** Fetches every page of a list method. */
async function paginate<R extends { nextCursor?: string }, T>(
  client: Client,
  method: 'tools/list' | 'resources/list' | 'resources/templates/list' | 'prompts/list',
  schema: { parse(v: unknown): R } & Parameters<Client['request']>[1],
  items: (r: R) => T[],
): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const result = (await client.request({ method, params: cursor ? { cursor } : {} }, schema)) as R;
    out.push(...items(result));
    cursor = result.nextCursor;
    if (!cursor) break;
  }
  return out;
}

/** A client for every configured server, not yet started (so listeners can attach before the first list). */
export function createDownstreams(
  config: ResolvedConfig,
  log: Logger,
  clientInfo: { name: string; version: string },
): Map<string, Downstream> {
  const downstreams = new Map<string, Downstream>();
  const maxMessageBytes = config.limits.max_downstream_message_bytes;
  for (const [name, server] of Object.entries(config.servers)) {
    downstreams.set(
      name,
      new Downstream(name, server, { log, cwd: config.dir, clientInfo, maxMessageBytes }),
    );
  }
  return downstreams;
}

/**
 * Starts a client for every configured server. A server that fails to start is retried in the
 * background; it affects only its own tools.
 */
export async function startDownstreams(
  config: ResolvedConfig,
  log: Logger,
  clientInfo: { name: string; version: string },
): Promise<Map<string, Downstream>> {
  const downstreams = createDownstreams(config, log, clientInfo);
  await Promise.all([...downstreams.values()].map((ds) => ds.start()));
  return downstreams;
}
