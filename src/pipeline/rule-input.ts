import type { AgentEntry, ToolEntry } from '../config/schema.js';
import { freezeInput } from '../policy/json-logic.js';
import type { StageEnv } from './stage.js';
import type { CallContext } from './types.js';
import type { LiveTool } from '../core/live-tool.js';
import { resultLabels } from '../flow/labels.js';
import type { FlowTrace } from '../flow/tracker.js';

/** Frozen rule views of registry entries, built once per entry rather than once per call. */
const agentDocs = new WeakMap<AgentEntry, unknown>();
const toolDocs = new WeakMap<object, Map<string, unknown>>();
/** Identities and path tables live as long as a session or a policy: their views are built once. */
const sharedDocs = new WeakMap<object, unknown>();
const NO_ENTRY = {};

function agentDoc(agent: AgentEntry | undefined): unknown {
  if (!agent) return undefined;
  let doc = agentDocs.get(agent);
  if (doc === undefined) {
    const { id, owner, intents, tool_groups, scopes, clearance } = agent;
    doc = freezeInput({ id, owner, intents, tool_groups, scopes, clearance });
    agentDocs.set(agent, doc);
  }
  return doc;
}

function toolDoc(name: string, entry: ToolEntry | undefined, live: LiveTool | undefined): unknown {
  const key = `${name}\u0000${live?.digest ?? ''}`;
  let byName = toolDocs.get(entry ?? NO_ENTRY);
  if (!byName) toolDocs.set(entry ?? NO_ENTRY, (byName = new Map()));
  let doc = byName.get(key);
  if (doc === undefined) {
    doc = freezeInput({
      name,
      server: live?.server ?? null,
      tool: live?.tool ?? null,
      owner: entry?.owner ?? null,
      risk_tier: entry?.risk_tier ?? null,
      scopes: entry?.scopes ?? [],
      data_classes: entry?.data_classes ?? [],
      sink: entry?.sink ?? null,
      results: resultLabels(entry?.results, entry?.data_classes ?? []),
    });
    if (byName.size < 10_000) byName.set(key, doc);
  }
  return doc;
}

function identityDoc(identity: CallContext['identity']): unknown {
  let doc = sharedDocs.get(identity);
  if (doc === undefined) {
    doc = freezeInput({
      iss: identity.iss ?? null,
      sub: identity.sub ?? null,
      verified: identity.verified,
      claims: identity.claims,
    });
    sharedDocs.set(identity, doc);
  }
  return doc;
}

function pathsDoc(paths: Record<string, string>): unknown {
  let doc = sharedDocs.get(paths);
  if (doc === undefined) sharedDocs.set(paths, (doc = freezeInput(paths)));
  return doc;
}

/** `server`: the calling tool's server and its roots, built once per roots table and server. */
function serverDoc(name: string | undefined, roots: StageEnv['roots']): unknown {
  if (name === undefined) return EMPTY_SERVER;
  const table = roots ?? NO_ROOTS;
  let byName = sharedDocs.get(table) as Map<string, unknown> | undefined;
  if (!byName) sharedDocs.set(table, (byName = new Map()));
  let doc = byName.get(name);
  if (doc === undefined) {
    doc = freezeInput({ name, roots: Object.hasOwn(table, name) ? table[name] : [] });
    byName.set(name, doc);
  }
  return doc;
}
/** `flow`: which arguments carry values of earlier results (README: Information flow). */
function flowDoc(trace: FlowTrace | undefined, entry: ToolEntry | undefined): unknown {
  if (!trace) return NO_FLOW;
  const targets = entry?.sink?.targets ?? [];
  const isTarget = (path: string) => targets.length === 0 || targets.includes(path.split(/[.[]/, 1)[0]!);
  return {
    args_from_untrusted: trace.argsFromUntrusted,
    // Only a sink has targets: where its data goes.
    targets_from_untrusted: entry?.sink ? trace.argsFromUntrusted.filter(isTarget) : [],
    max_confidentiality_in_args: trace.maxConfidentialityInArgs ?? null,
    sources: trace.sources,
    untrusted_sources: [
      ...new Set(trace.matches.filter((m) => m.integrity === 'untrusted').map((m) => m.source)),
    ],
    tool_named_only_in_untrusted: trace.toolNamedOnlyInUntrusted,
    matches: trace.matches.map(({ path, source, integrity, confidentiality, via }) => ({
      path,
      source,
      integrity,
      confidentiality,
      via,
    })),
  };
}
const NO_FLOW = freezeInput({
  args_from_untrusted: [],
  targets_from_untrusted: [],
  max_confidentiality_in_args: null,
  sources: [],
  untrusted_sources: [],
  tool_named_only_in_untrusted: false,
  matches: [],
});

const NO_ROOTS: Readonly<Record<string, readonly string[]>> = {};
const EMPTY_SERVER = freezeInput({ name: null, roots: [] });

/**
 * The one document rules see, frozen with null prototypes, so a rule can read only these own
 * properties and can change nothing. The registry parts are cached; the call parts are fresh.
 */
export function buildRuleInput(ctx: CallContext, env: StageEnv): object {
  const { identity, session } = ctx;
  const time = new Date(ctx.now);
  return freezeInput({
    agent: agentDoc(ctx.agent),
    tool: toolDoc(ctx.toolName, ctx.toolEntry, ctx.liveTool),
    call: { name: ctx.toolName, arguments: ctx.arguments },
    session: {
      id: session.id,
      intent: session.intent ?? null,
      call_count: session.callCount,
      tools: session.tools,
    },
    identity: identityDoc(identity),
    paths: pathsDoc(env.paths),
    server: serverDoc(ctx.liveTool?.server, env.roots),
    flow: flowDoc(ctx.flow, ctx.toolEntry),
    time: {
      iso: time.toISOString(),
      epoch_ms: ctx.now,
      hour_utc: time.getUTCHours(),
      weekday_utc: time.getUTCDay(),
    },
  }) as object;
}
