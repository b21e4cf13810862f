import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';
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
import type { Downstream, ListKind } from './downstream.js';

/** What a session's server needs from the gateway. */
export interface SessionDeps {
  catalog: Catalog;
  enforcer: Enforcer;
  serverInfo: { name: string; version: string };
}

/**
 * The MCP server one upstream session talks to. Built on the SDK's low-level `Server` so that the
 * downstream servers' JSON schemas and results pass through untouched. Every `tools/call` goes through
 * the enforcer; lists show only what the session's agent may use.
 */
export function createSessionServer(
  deps: SessionDeps,
  session: Session,
): { server: Server; callTool: ToolCallHandler } {
  const { catalog, enforcer } = deps;
  const server = new Server(deps.serverInfo, {
    capabilities: {
      tools: { listChanged: true },
      resources: { listChanged: true },
      prompts: { listChanged: true },
    },
    instructions: 'Tools of several MCP servers, named <server>__<tool>, governed by mcpgov policy.',
  });

  const tools = () => catalog.tools().values();
  const servers = () => visibleServers(enforcer, session, tools());

  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: await listedTools(enforcer, session, tools()),
  }));

  const callTool = toolCallHandler(deps, session, server);
  server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    const progressToken = request.params._meta?.progressToken;
    const onprogress =
      progressToken === undefined
        ? undefined
        : (p: Progress) =>
            void extra.sendNotification({
              method: 'notifications/progress',
              params: { ...p, progressToken },
            });
    return callTool(request.params, extra.signal, onprogress, extra.requestId);
  });

  server.setRequestHandler(ListResourcesRequestSchema, async () => ({
    resources: catalog.resources(await servers()),
  }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({
    resourceTemplates: catalog.resourceTemplates(await servers()),
  }));
  server.setRequestHandler(ReadResourceRequestSchema, async (request, extra) => {
    const owner = catalog.resourceServer(request.params.uri, await servers());
    if (owner === undefined)
      throw new McpError(ErrorCode.InvalidParams, `Resource ${request.params.uri} not found`);
    return downstream(catalog, owner).readResource(request.params, { signal: extra.signal });
  });

  server.setRequestHandler(ListPromptsRequestSchema, async () => ({
    prompts: catalog.prompts(await servers()),
  }));
  server.setRequestHandler(GetPromptRequestSchema, async (request, extra) => {
    const parts = catalog.promptOwner(request.params.name, await servers());
    if (!parts) throw new McpError(ErrorCode.InvalidParams, `Prompt ${request.params.name} not found`);
    return downstream(catalog, parts.server).getPrompt(
      { ...request.params, name: parts.name },
      { signal: extra.signal },
    );
  });

  return { server, callTool };
}

/**
 * The one path by which a session's `tools/call` reaches a downstream server, shared by the SDK
 * `Server` and the stdio transport's direct path: look the tool up, let the enforcer decide, forward.
 */
function toolCallHandler(deps: SessionDeps, session: Session, server: Server): ToolCallHandler {
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
  return (params, signal, onprogress, requestId) => {
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
      return ds.callTool(
        { name: live.tool, arguments: args, ...(Object.keys(meta).length > 0 ? { _meta: meta } : {}) },
        { signal, onprogress },
      );
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
    const deps = { catalog: this.catalog, enforcer: this.kernel.enforcer, serverInfo: this.serverInfo };
    const { server, callTool } = createSessionServer(deps, session);
    if (transport instanceof LineStdioServerTransport) transport.toolCalls = callTool;
    if (transport instanceof HttpSession) {
      transport.toolCalls = callTool;
      // A client that may be asked something during a call (elicitation) gets the SDK's SSE stream.
      transport.directCalls = () => !server.getClientCapabilities()?.elicitation;
    }
    this.servers.add(server);
    server.onclose = () => {
      this.servers.delete(server);
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
