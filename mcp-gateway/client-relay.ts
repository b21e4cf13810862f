import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CreateMessageResultSchema,
  ElicitResultSchema,
  ErrorCode,
  ListRootsResultSchema,
  McpError,
  type LoggingLevel,
  type LoggingMessageNotification,
  type Result,
  type Root,
} from '@modelcontextprotocol/sdk/types.js';
import { digest } from '../src/evidence/hash.js';
import type { EvidenceSink, PepInfo, RecordBody } from '../src/evidence/types.js';
import type { Session } from '../src/pep/enforcer.js';
import { relayRecord, resultFacts } from '../src/pep/records.js';
import type { Logger } from '../src/util/log.js';
import type { Downstream, ServerToClientRequest } from './downstream.js';

/** RFC 5424 severities in MCP's order (`logging/setLevel`): a level lets itself and those after it through. */
const LEVELS: readonly LoggingLevel[] = [
  'debug',
  'info',
  'notice',
  'warning',
  'error',
  'critical',
  'alert',
  'emergency',
];

/** How long a client may take to list its roots (its request waits for them). */
const ROOTS_TIMEOUT_MS = 10_000;
/** How long a client may take to answer a relayed request (a person may be answering it). */
const CLIENT_ANSWER_TIMEOUT_MS = 300_000;

/** One upstream session as the relay sees it. */
export interface Peer {
  server: Server;
  session: Session;
  /** The downstream servers this session may use (its agent may call some of their tools). */
  visible: () => Promise<ReadonlySet<string>>;
  /** Requests of this session being served by a downstream server: server name → upstream request ids. */
  calls: Map<string, (string | number)[]>;
  /** The client's roots, when it declares the capability. */
  roots?: Root[];
  /** The client's roots are to be read (again): it declared them and has not been asked since they changed. */
  rootsWanted?: boolean;
  /** The level the client asked for with `logging/setLevel`. */
  level?: LoggingLevel;
  /** Resource URIs the client subscribed to, with the server that owns each. */
  subscriptions: Map<string, string>;
}

/**
 * What passes between the gateway's clients and its downstream servers besides calls: the servers'
 * requests to a client (sampling, elicitation: relayed to the session whose call is in flight, and
 * recorded; roots: answered with the clients' roots), their log messages and resource updates
 * (relayed to the sessions that may see them, or subscribed), and the clients' logging level, roots
 * and subscriptions (passed down). Downstream connections are shared by every session, so a server's
 * request is routed by which session has a call in flight to that server.
 */
export class ClientRelay {
  private readonly peers = new Set<Peer>();

  constructor(
    private readonly downstreams: ReadonlyMap<string, Downstream>,
    private readonly evidence: EvidenceSink,
    private readonly pep: PepInfo,
    private readonly log: Logger,
  ) {
    for (const ds of downstreams.values()) {
      ds.clientRequests = (server, request, signal) => this.answer(server, request, signal);
      ds.on('log', (params: LoggingMessageNotification['params']) => void this.relayLog(ds.name, params));
      ds.on('resourceUpdated', (uri: string) => this.relayUpdate(ds.name, uri));
    }
  }

  /** Starts relaying for a new session; its roots are fetched once its client has initialized. */
  attach(peer: Omit<Peer, 'calls' | 'subscriptions'>): Peer {
    const full: Peer = { ...peer, calls: new Map(), subscriptions: new Map() };
    this.peers.add(full);
    return full;
  }

  /**
   * A session ended: its subscriptions end, servers learn that the clients' roots changed, and its
   * logging level no longer counts.
   */
  async detach(peer: Peer): Promise<void> {
    this.peers.delete(peer);
    for (const [uri, server] of peer.subscriptions) await this.unsubscribe(peer, server, uri).catch(() => {});
    if (peer.roots !== undefined) await this.tellRootsChanged();
    if (peer.level !== undefined) await this.applyLevel();
  }

  /**
   * Marks a request of `peer` as being served by `server` until the returned function is called: a
   * request the server sends its client meanwhile is relayed to this session.
   */
  calling(peer: Peer, server: string, requestId: string | number | undefined): () => void {
    const id = requestId ?? '';
    const ids = peer.calls.get(server) ?? [];
    ids.push(id);
    peer.calls.set(server, ids);
    return () => {
      const at = ids.indexOf(id);
      if (at >= 0) ids.splice(at, 1);
      if (ids.length === 0) peer.calls.delete(server);
    };
  }

  /** The client initialized, or said its roots changed: they are read with its next request. */
  rootsChanged(peer: Peer): void {
    if (peer.server.getClientCapabilities()?.roots) peer.rootsWanted = true;
  }

  /**
   * Reads the client's roots when they are wanted, as part of the client's request `requestId` (over
   * Streamable HTTP a server's request reaches the client on the response stream of one of its
   * requests; the optional standalone stream may not be open), and tells the servers they changed.
   */
  async readRoots(peer: Peer, requestId: string | number | undefined): Promise<void> {
    if (!peer.rootsWanted) return;
    peer.rootsWanted = false;
    try {
      const { roots } = await peer.server.request({ method: 'roots/list' }, ListRootsResultSchema, {
        relatedRequestId: requestId,
        timeout: ROOTS_TIMEOUT_MS,
      });
      peer.roots = roots;
    } catch (err) {
      this.log('warn', 'could not read the client roots', { error: (err as Error).message });
      return;
    }
    await this.tellRootsChanged();
  }

  /**
   * A client's `logging/setLevel`: kept for the session (its messages are filtered by it), and each
   * downstream server that declares logging is asked for the most verbose level any session wants.
   */
  async setLevel(peer: Peer, level: LoggingLevel): Promise<void> {
    peer.level = level;
    await this.applyLevel();
  }

  /** Subscribes a session to a resource of `server`; the server is subscribed once for all sessions. */
  async subscribe(peer: Peer, server: string, uri: string): Promise<void> {
    const ds = this.downstream(server);
    if (!ds.capabilities?.resources?.subscribe) {
      throw new McpError(ErrorCode.InvalidParams, `server ${server} does not offer resource subscriptions`);
    }
    if (!this.subscribed(server, uri)) await ds.subscribeResource(uri);
    peer.subscriptions.set(uri, server);
  }

  /** Ends a session's subscription; the server's ends with the last session's. */
  async unsubscribe(peer: Peer, server: string, uri: string): Promise<void> {
    if (peer.subscriptions.get(uri) !== server) return;
    peer.subscriptions.delete(uri);
    if (!this.subscribed(server, uri)) await this.downstream(server).unsubscribeResource(uri);
  }

  /** Every client's roots, deduplicated by URI: a downstream server is shared by every session. */
  roots(): Root[] {
    const roots = new Map<string, Root>();
    for (const peer of this.peers) for (const root of peer.roots ?? []) roots.set(root.uri, root);
    return [...roots.values()];
  }

  /** Asks every server that declares logging for the most verbose level a session wants, if any does. */
  private async applyLevel(): Promise<void> {
    const wanted = [...this.peers].flatMap((p) => (p.level ? [LEVELS.indexOf(p.level)] : []));
    const level = LEVELS[Math.min(...wanted)];
    if (level === undefined) return;
    await Promise.all(
      [...this.downstreams.values()].map((ds) =>
        ds
          .setLoggingLevel(level)
          .catch((err: Error) =>
            this.log('warn', 'logging level not set downstream', { server: ds.name, error: err.message }),
          ),
      ),
    );
  }

  private subscribed(server: string, uri: string): boolean {
    return [...this.peers].some((p) => p.subscriptions.get(uri) === server);
  }

  private async tellRootsChanged(): Promise<void> {
    await Promise.all(
      [...this.downstreams.values()].map((ds) =>
        ds
          .rootsChanged()
          .catch((err: Error) =>
            this.log('debug', 'roots change not sent', { server: ds.name, error: err.message }),
          ),
      ),
    );
  }

  /** A downstream server's request to its client. */
  private async answer(server: string, request: ServerToClientRequest, signal: AbortSignal): Promise<Result> {
    if (request.method === 'roots/list') return { roots: this.roots() };
    const params = request.params;
    const base = { method: request.method, server, params_digest: digest(params) };
    const callers = [...this.peers].filter((p) => p.calls.has(server));
    const peer = callers.length === 1 ? callers[0] : undefined;
    const refuse = async (code: string, message: string): Promise<never> => {
      await this.record(peer, { ...base, event: 'refused', code, error: message }).catch(() => {});
      throw new McpError(ErrorCode.InvalidRequest, message);
    };
    if (!peer) {
      return refuse(
        callers.length === 0 ? 'no_caller' : 'caller_ambiguous',
        callers.length === 0
          ? `${request.method} is relayed only during a call from a client, and none is in flight to ${server}`
          : `${request.method} cannot be relayed: several sessions have calls in flight to ${server}`,
      );
    }
    if (!supports(peer.server, request)) {
      return refuse('client_unsupported', `the client does not support ${request.method}`);
    }
    try {
      // Durable before the client is asked, like a decision before its call is forwarded.
      await this.record(peer, { ...base, event: 'requested', message: askedText(request) });
    } catch (err) {
      this.log('error', 'relay record not written; refusing the request', { error: (err as Error).message });
      throw new McpError(ErrorCode.InternalError, 'the evidence record could not be written');
    }
    const ids = peer.calls.get(server) ?? [];
    const started = performance.now();
    const schema =
      request.method === 'sampling/createMessage' ? CreateMessageResultSchema : ElicitResultSchema;
    try {
      const result = await peer.server.request({ method: request.method, params } as never, schema, {
        signal,
        timeout: CLIENT_ANSWER_TIMEOUT_MS,
        relatedRequestId: ids[ids.length - 1],
      });
      const answer = result as { action?: string; model?: string };
      void this.recordAfter(peer, {
        ...base,
        event: 'answered',
        action: answer.action,
        model: answer.model,
        result_digest: resultFacts(result).digest,
        duration_ms: performance.now() - started,
      });
      return result;
    } catch (err) {
      void this.recordAfter(peer, {
        ...base,
        event: 'failed',
        code: signal.aborted ? 'cancelled' : 'client_error',
        error: (err as Error).message,
        duration_ms: performance.now() - started,
      });
      throw err;
    }
  }

  private record(peer: Peer | undefined, relay: NonNullable<RecordBody['relay']>): Promise<unknown> {
    const session = peer && { id: peer.session.state.id, identity: peer.session.identity };
    return this.evidence.append(relayRecord(this.pep, session, relay));
  }

  /** What happened after: nothing waits on it (as for an action record). */
  private async recordAfter(peer: Peer, relay: NonNullable<RecordBody['relay']>): Promise<void> {
    const session = { id: peer.session.state.id, identity: peer.session.identity };
    await this.evidence
      .append(relayRecord(this.pep, session, relay), { durable: false })
      .catch((err: Error) => this.log('error', 'relay record not written', { error: err.message }));
  }

  /**
   * A server's log message goes to every session that may use the server and whose level lets it
   * through, with the server named in `logger`.
   */
  private async relayLog(server: string, params: LoggingMessageNotification['params']): Promise<void> {
    const logger = params.logger ? `${server}/${params.logger}` : server;
    for (const peer of this.peers) {
      if (peer.level && LEVELS.indexOf(params.level) < LEVELS.indexOf(peer.level)) continue;
      if (!(await peer.visible()).has(server)) continue;
      peer.server
        .notification({ method: 'notifications/message', params: { ...params, logger } })
        .catch(() => {});
    }
  }

  /** A resource's update goes to the sessions subscribed to it at that server, and to no other. */
  private relayUpdate(server: string, uri: string): void {
    for (const peer of this.peers) {
      if (peer.subscriptions.get(uri) !== server) continue;
      peer.server.sendResourceUpdated({ uri }).catch(() => {});
    }
  }

  private downstream(server: string): Downstream {
    const ds = this.downstreams.get(server);
    if (!ds) throw new McpError(ErrorCode.InvalidParams, `unknown server ${server}`);
    return ds;
  }
}

/** Whether the session's client declared what the request needs (URL-mode elicitation is its own). */
function supports(server: Server, request: ServerToClientRequest): boolean {
  const caps = server.getClientCapabilities();
  if (request.method === 'sampling/createMessage') return caps?.sampling !== undefined;
  const elicitation = caps?.elicitation as { url?: object } | undefined;
  if (elicitation === undefined) return false;
  return request.params?.['mode'] !== 'url' || elicitation.url !== undefined;
}

/** The text a relayed request shows the user: the elicitation's message, the last sampling message's text. */
function askedText(request: ServerToClientRequest): string | undefined {
  const params = request.params ?? {};
  if (request.method === 'elicitation/create') {
    return typeof params['message'] === 'string' ? params['message'] : undefined;
  }
  const messages = params['messages'];
  if (!Array.isArray(messages) || messages.length === 0) return undefined;
  const content = (messages[messages.length - 1] as { content?: { type?: string; text?: unknown } })?.content;
  return content?.type === 'text' && typeof content.text === 'string' ? content.text : undefined;
}
