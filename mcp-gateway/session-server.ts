import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  RootsListChangedNotificationSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type CallToolResult,
  type CompleteRequest,
  type ServerNotification,
  type ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { Identity } from '../src/core/identity.js';
import { INTENT_META_KEY, type Enforcer, type Session } from '../src/pep/enforcer.js';
import type { Kernel } from '../src/pep/kernel.js';
import type { TraceMeta } from '../src/pep/call-trace.js';
import { HttpSession } from '../src/transport/http-session.js';
import { LineStdioServerTransport } from '../src/transport/stdio-upstream.js';
import { declareIntent, DECLARE_INTENT_TOOL } from '../src/pep/intent-tool.js';
import { listedTools, visibleServers } from '../src/pep/visibility.js';
import type { Progress, ToolCallHandler } from '../src/transport/tool-call.js';
import type { Catalog } from './catalog.js';
import type { ClientRelay, Peer } from './client-relay.js';
import type { Downstream, ListKind } from './downstream.js';

/** What a session's server needs from the gateway. */
export interface SessionDeps {
  catalog: Catalog;
  enforcer: Enforcer;
  relay: ClientRelay;
  serverInfo: { name: string; version: string };
}

/**
 * The MCP server one upstream session talks to. Built on the SDK's low-level `Server` so that the
 * downstream servers' JSON schemas and results pass through untouched. Every `tools/call`,
 * `resources/read` and `prompts/get` goes through the enforcer; lists show only what the session's
 * agent may use; logging, subscriptions, completion and roots pass through the client relay.
 */
export function createSessionServer(
  deps: SessionDeps,
  session: Session,
): { server: Server; callTool: ToolCallHandler; peer: Peer } {
  const { catalog, enforcer, relay } = deps;
  const server = new Server(deps.serverInfo, {
    capabilities: {
      tools: { listChanged: true },
      resources: { listChanged: true, subscribe: true },
      prompts: { listChanged: true },
      logging: {},
      completions: {},
    },
    instructions: 'Tools of several MCP servers, named <server>__<tool>, governed by mcpgov policy.',
  });

  const tools = () => catalog.tools().values();
  const servers = () => visibleServers(enforcer, session, tools());
  const allServers: ReadonlySet<string> = new Set(catalog.downstreams.keys());
  const peer = relay.attach({ server, session, visible: servers });
  // While a request is served downstream, what that server asks its client is relayed to this one.
  const served = async <T>(owner: string, requestId: string | number, send: () => Promise<T>): Promise<T> => {
    const done = relay.calling(peer, owner, requestId);
    try {
      return await send();
    } finally {
      done();
    }
  };
  // The client's roots are read, when wanted, as part of whatever it asks next.
  const withRoots =
    <Req, Res>(handler: (request: Req, extra: Extra) => Promise<Res>) =>
    async (request: Req, extra: Extra): Promise<Res> => {
      await relay.readRoots(peer, extra.requestId);
      return handler(request, extra);
    };
  const progressOf = (extra: ProgressExtra, token: string | number | undefined) =>
    token === undefined
      ? undefined
      : (p: Progress) =>
          void extra.sendNotification({
            method: 'notifications/progress',
            params: { ...p, progressToken: token },
          });

  server.setRequestHandler(
    ListToolsRequestSchema,
    withRoots(async () => ({
      tools: await listedTools(enforcer, session, tools()),
    })),
  );

  const callTool = toolCallHandler(deps, session, server, peer);
  server.setRequestHandler(
    CallToolRequestSchema,
    withRoots(async (request, extra): Promise<CallToolResult> => {
      const onprogress = progressOf(extra, request.params._meta?.progressToken);
      return callTool(request.params, extra.signal, onprogress, extra.requestId);
    }),
  );

  server.setRequestHandler(
    ListResourcesRequestSchema,
    withRoots(async () => ({
      resources: catalog.resources(await servers()),
    })),
  );
  server.setRequestHandler(
    ListResourceTemplatesRequestSchema,
    withRoots(async () => ({
      resourceTemplates: catalog.resourceTemplates(await servers()),
    })),
  );
  server.setRequestHandler(
    ReadResourceRequestSchema,
    withRoots(async (request, extra) => {
      const { uri } = request.params;
      const visible = await servers();
      // A server the agent may not use still owns its resources: reading one is decided and recorded.
      const owner = catalog.resourceServer(uri, visible) ?? catalog.resourceServer(uri, allServers);
      if (owner === undefined) throw new McpError(ErrorCode.InvalidParams, `Resource ${uri} not found`);
      const onprogress = progressOf(extra, request.params._meta?.progressToken);
      const target = { method: 'resources/read' as const, server: owner, name: uri, params: request.params };
      return enforcer.read(session, { ...target, serverVisible: visible.has(owner) }, () =>
        served(owner, extra.requestId, () =>
          downstream(catalog, owner).readResource(request.params, { signal: extra.signal, onprogress }),
        ),
      );
    }),
  );
  server.setRequestHandler(
    SubscribeRequestSchema,
    withRoots(async (request) => {
      const { uri } = request.params;
      const visible = await servers();
      // A URI no server lists (a resource yet to exist) goes to the one server that offers
      // subscriptions, when only one does: no other could send its updates.
      const subscribable = [...visible].filter(
        (s) => catalog.downstreams.get(s)?.capabilities?.resources?.subscribe,
      );
      const owner =
        catalog.resourceServer(uri, visible) ?? (subscribable.length === 1 ? subscribable[0] : undefined);
      if (owner === undefined) throw new McpError(ErrorCode.InvalidParams, `Resource ${uri} not found`);
      await relay.subscribe(peer, owner, uri);
      return {};
    }),
  );
  server.setRequestHandler(
    UnsubscribeRequestSchema,
    withRoots(async (request) => {
      const { uri } = request.params;
      const owner = peer.subscriptions.get(uri);
      if (owner !== undefined) await relay.unsubscribe(peer, owner, uri);
      return {};
    }),
  );

  server.setRequestHandler(
    ListPromptsRequestSchema,
    withRoots(async () => ({
      prompts: catalog.prompts(await servers()),
    })),
  );
  server.setRequestHandler(
    GetPromptRequestSchema,
    withRoots(async (request, extra) => {
      const { name } = request.params;
      const parts = catalog.promptOwner(name, allServers);
      if (!parts) {
        throw new McpError(ErrorCode.InvalidParams, `Prompt ${name} not found`);
      }
      const onprogress = progressOf(extra, request.params._meta?.progressToken);
      const serverVisible = (await servers()).has(parts.server);
      const target = { method: 'prompts/get' as const, server: parts.server, name, params: request.params };
      return enforcer.read(session, { ...target, serverVisible }, () =>
        served(parts.server, extra.requestId, () =>
          downstream(catalog, parts.server).getPrompt(
            { ...request.params, name: parts.name },
            { signal: extra.signal, onprogress },
          ),
        ),
      );
    }),
  );

  server.setRequestHandler(
    CompleteRequestSchema,
    withRoots(async (request, extra) => {
      const target = completionTarget(catalog, request.params.ref, await servers());
      if (!target) throw new McpError(ErrorCode.InvalidParams, 'Completion reference not found');
      return downstream(catalog, target.server).complete(
        { ...request.params, ref: target.ref },
        { signal: extra.signal },
      );
    }),
  );

  server.setRequestHandler(
    SetLevelRequestSchema,
    withRoots(async (request) => {
      await relay.setLevel(peer, request.params.level);
      return {};
    }),
  );
  // The client's roots are offered to every downstream server: read with its first request, and
  // again with the next one after they change.
  server.oninitialized = () => relay.rootsChanged(peer);
  server.setNotificationHandler(RootsListChangedNotificationSchema, () => relay.rootsChanged(peer));

  return { server, callTool, peer };
}

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;
type ProgressExtra = {
  sendNotification: (n: {
    method: 'notifications/progress';
    params: Progress & { progressToken: string | number };
  }) => Promise<void>;
};

/**
 * The server a `completion/complete` reference belongs to, and the reference in its own names: a
 * prompt by its `<server>__<name>`, a resource template by the server that lists it (else that owns
 * a matching URI).
 */
function completionTarget(
  catalog: Catalog,
  ref: CompleteRequest['params']['ref'],
  servers: ReadonlySet<string>,
): { server: string; ref: CompleteRequest['params']['ref'] } | undefined {
  if (ref.type === 'ref/prompt') {
    const parts = catalog.promptOwner(ref.name, servers);
    return parts && { server: parts.server, ref: { ...ref, name: parts.name } };
  }
  for (const [server, ds] of catalog.downstreams) {
    if (servers.has(server) && ds.resourceTemplates.some((t) => t.uriTemplate === ref.uri))
      return { server, ref };
  }
  const server = catalog.resourceServer(ref.uri, servers);
  return server === undefined ? undefined : { server, ref };
}

/**
 * The one path by which a session's `tools/call` reaches a downstream server, shared by the SDK
 * `Server` and the stdio transport's direct path: look the tool up, let the enforcer decide, forward.
 */
function toolCallHandler(deps: SessionDeps, session: Session, server: Server, peer: Peer): ToolCallHandler {
  const { catalog, enforcer } = deps;
  // The user confirms through their client (MCP elicitation), where the client can ask them.
  // The SDK's default request timeout (60 s) would drop an answer a person takes longer to give:
  // the question stands as long as the request, and is withdrawn (notifications/cancelled) with it.
  // It goes on the call's own response stream (Streamable HTTP: requests during a call SHOULD relate
  // to it), which the client is reading, not on the optional standalone stream.
  const elicit =
    (relatedRequestId: string | number | undefined) =>
    async (message: string, opts: { signal: AbortSignal; timeoutMs: number }) => {
      const answer = await server.elicitInput(
        { message, requestedSchema: { type: 'object', properties: {} } },
        { signal: opts.signal, timeout: opts.timeoutMs, relatedRequestId },
      );
      return answer.action;
    };
  return async (params, signal, onprogress, requestId) => {
    // The direct paths (stdio, HTTP) come here without the SDK's handlers: roots are read here too.
    await deps.relay.readRoots(peer, requestId);
    const { name, arguments: args = {}, _meta } = params;
    if (name === DECLARE_INTENT_TOOL) return declareIntent(enforcer, session, args);
    // Counted before anything can refuse the call (the SDK path and the stdio direct path both land
    // here): a call that never gets a decision record shows in the report as a coverage gap.
    session.received += 1;
    const live = catalog.tools().get(name);
    const ds = live ? catalog.downstreams.get(live.server) : undefined;
    const forward = async (trace: TraceMeta) => {
      if (!live || !ds) throw new McpError(ErrorCode.InvalidParams, `Tool ${name} not found`);
      // Our own keys stay here; the downstream server gets the rest of `_meta`, with the gateway's
      // span in place of the caller's as its trace parent when tracing is on.
      const { progressToken: _drop, [INTENT_META_KEY]: _intent, ...rest } = _meta ?? {};
      const meta = { ...rest, ...trace };
      const done = deps.relay.calling(peer, live.server, requestId);
      try {
        return await ds.callTool(
          { name: live.tool, arguments: args, ...(Object.keys(meta).length > 0 ? { _meta: meta } : {}) },
          { signal, onprogress },
        );
      } finally {
        done();
      }
    };
    const confirm = server.getClientCapabilities()?.elicitation ? elicit(requestId) : undefined;
    return enforcer.call(session, name, args, live, forward, _meta, {
      signal,
      progress: onprogress,
      confirm,
    });
  };
}

function downstream(catalog: Catalog, server: string): Downstream {
  const ds = catalog.downstreams.get(server);
  if (!ds) throw new McpError(ErrorCode.InvalidParams, `unknown server ${server}`);
  return ds;
}

/**
 * The gateway's open sessions: one SDK server each, connected to its caller's transport, told when
 * the downstream lists or the policy change, and closed with its chain.
 */
export class SessionServers {
  private readonly servers = new Set<Server>();

  constructor(
    private readonly kernel: Kernel,
    private readonly catalog: Catalog,
    private readonly relay: ClientRelay,
    private readonly serverInfo: { name: string; version: string },
  ) {
    catalog.onChange((kind) => this.notify(kind));
    // Which tools an agent may see can change with a new policy, so sessions are told to list again.
    kernel.onPolicyChange(() => this.notify('tools'));
  }

  /** Opens a session for an authenticated caller and serves it on `transport`. */
  async connect(transport: Transport, identity: Identity, sessionId: string): Promise<void> {
    // The stdio client launched this gateway; an HTTP caller is whoever reached the port.
    const channel = transport instanceof LineStdioServerTransport ? 'launcher' : 'network';
    const session = await this.kernel.openSession(identity, sessionId, channel);
    const deps = {
      catalog: this.catalog,
      enforcer: this.kernel.enforcer,
      relay: this.relay,
      serverInfo: this.serverInfo,
    };
    const { server, callTool, peer } = createSessionServer(deps, session);
    if (transport instanceof LineStdioServerTransport) transport.toolCalls = callTool;
    if (transport instanceof HttpSession) {
      transport.toolCalls = callTool;
      // A client that may be asked something during a call (elicitation, sampling) gets the SDK's SSE
      // stream: a question relates to the call, on the call's own response stream.
      transport.directCalls = () => {
        const caps = server.getClientCapabilities();
        return !caps?.elicitation && !caps?.sampling && !peer.rootsWanted;
      };
    }
    this.servers.add(server);
    server.onclose = () => {
      this.servers.delete(server);
      void this.relay.detach(peer);
      void this.kernel.closeSession(session);
    };
    await server.connect(transport);
  }

  /** Closes every session's server (each closes its chain through the kernel). */
  async close(): Promise<void> {
    await Promise.all([...this.servers].map((s) => s.close().catch(() => {})));
  }

  private notify(kind: ListKind): void {
    for (const server of this.servers) {
      const sent =
        kind === 'tools'
          ? server.sendToolListChanged()
          : kind === 'resources'
            ? server.sendResourceListChanged()
            : server.sendPromptListChanged();
      sent.catch(() => {});
    }
  }
}
