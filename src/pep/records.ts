import { recordBase, type PepInfo, type RecordBody } from '../evidence/types.js';
import type { FlowTrace } from '../flow/tracker.js';
import { canonicalJson, digest, sha256Hex } from '../evidence/hash.js';
import { maskedArguments, maskText } from '../evidence/mask.js';
import type { BundleRef } from '../policy/policy-set.js';
import type { CallContext } from '../pipeline/types.js';
import type { Decision, SemanticFinding } from '../core/decision.js';
import type { Identity } from '../core/identity.js';

/*
 * Every text here that a caller, a downstream server or a verifier wrote (tool names, the intent,
 * error messages, a verifier's rationale and signal details, which may quote arguments or results)
 * passes `maskText` on its way into a record, like argument values do (src/evidence/mask.ts).
 *
 * Objects built here list their members in RFC 8785 order (code-unit order of the names), so the
 * evidence writer's canonicalization can hand them to the native JSON.stringify (see hash.ts). Order
 * never changes a hash: an object out of order only takes the slower serializer.
 */

/** The enforcement point writing the records. */

function subjectOf(identity: Identity): RecordBody['subject'] {
  return {
    agent: identity.agentId,
    client_id: identity.client_id,
    iss: identity.iss,
    scopes: identity.scopes,
    spiffe_id: identity.spiffe_id,
    sub: identity.sub,
    token_jti_sha256: identity.token_jti_sha256,
    verified: identity.verified,
  };
}

/**
 * A session's chain opening or closing; the open record names who the session belongs to, the close
 * record how many calls were decided and how many `tools/call` requests the transport `received`.
 */
export function chainRecord(
  session: { id: string; callCount: number },
  identity: Identity,
  pep: PepInfo,
  event: 'open' | 'close',
  host = false,
  received?: number,
): RecordBody {
  return {
    ...recordBase('chain', session.id, pep),
    subject: event === 'open' ? subjectOf(identity) : undefined,
    chain_event:
      event === 'open' ? { event, host: host || undefined } : { calls: session.callCount, event, received },
  };
}

/** A session's declared intent: recorded once per change, so decisions can cite it by digest. */
export function intentRecord(
  session: { id: string },
  pep: PepInfo,
  intent: string,
  source: 'meta' | 'declared',
): RecordBody {
  return {
    ...recordBase('chain', session.id, pep),
    chain_event: { event: 'intent', intent: maskText(intent), source },
  };
}

/**
 * A `_meta` intent the session's caller may not set (it is not a configured host): recorded, with the
 * reason, once per distinct text, and never used.
 */
export function ignoredIntentRecord(session: { id: string }, pep: PepInfo, intent: string): RecordBody {
  return {
    ...recordBase('chain', session.id, pep),
    chain_event: {
      event: 'intent_ignored',
      intent: maskText(intent),
      reason: 'intent_untrusted',
      source: 'meta',
    },
  };
}

/** The outcome record of a forwarded call whose tool declares an outcome check. */
export function outcomeRecord(
  ctx: CallContext,
  decisionId: string,
  pep: PepInfo,
  resultDigest: string | undefined,
  checks: { check: string; passed: boolean; error?: string }[],
): RecordBody {
  return {
    ...recordBase('outcome', ctx.session.id, pep),
    outcome: {
      checks: checks.map((c) => (c.error === undefined ? c : { ...c, error: maskText(c.error) })),
      decision_id: decisionId,
      result_digest: resultDigest,
      tool: maskText(ctx.toolName),
      verified: checks.every((c) => c.passed),
    },
  };
}

/** The decision record: who asked for what, what was decided and under which policy. */
export function decisionRecord(
  ctx: CallContext,
  decision: Decision,
  bundle: BundleRef,
  pep: PepInfo,
  evalUs: number,
  argsDigest: string,
  /** The OpenTelemetry trace the call's span belongs to, when tracing is on. */
  traceId?: string,
  /** The arguments as recorded, when not the masked `ctx.arguments` (arguments refused by a limit). */
  recorded: { args: unknown; masked: string[] } = maskedArguments(ctx.arguments),
  /** What was asked of which server, when not a `tools/call` of the live tool (`resources/read`, `prompts/get`). */
  target: { method: string; server?: string } = { method: 'tools/call', server: ctx.liveTool?.server },
): RecordBody {
  const masked = recorded;
  return {
    // The decision's id is the record's: the answer the agent sees cites it.
    ...recordBase('decision', ctx.session.id, pep, new Date(ctx.now), decision.id),
    subject: subjectOf(ctx.identity),
    request: {
      args: masked.args,
      args_digest: argsDigest,
      definition_digest: ctx.liveTool?.digest,
      masked: masked.masked,
      method: target.method,
      server: target.server,
      session: {
        call_count: ctx.session.callCount,
        id: ctx.session.id,
        intent_digest: ctx.session.intent === undefined ? undefined : digest(ctx.session.intent),
      },
      tool: maskText(ctx.toolName),
      tool_hints: toolHints(ctx),
    },
    decision: {
      approval: decision.approval,
      bundle: { digest: bundle.digest, name: bundle.name, revision: bundle.revision },
      effect: decision.effect,
      enforced: decision.enforced,
      eval_us: evalUs,
      flow: ctx.flow && ctx.flow.matches.length > 0 ? flowInfo(ctx.flow) : undefined,
      id: decision.id,
      mode: decision.mode,
      reasons: decision.reasons,
      rules: decision.rules,
      semantic: decision.semantic && semanticInfo(decision.semantic),
      stages: decision.stages.map(({ stage, result }) => ({
        code: 'code' in result ? result.code : undefined,
        kind: result.kind,
        stage,
      })),
      trace_id: traceId,
      waiver: decision.waiver,
    },
  };
}

/** The flows a decision names, at most `MAX_FLOWS`, masked like every other text of the record. */
function flowInfo(trace: FlowTrace): NonNullable<NonNullable<RecordBody['decision']>['flow']> {
  return trace.matches.slice(0, MAX_FLOWS).map((m) => ({
    confidentiality: m.confidentiality,
    digest: m.digest,
    integrity: m.integrity,
    path: maskText(m.path),
    source: maskText(m.source),
    via: m.via,
  }));
}
const MAX_FLOWS = 32;

/**
 * What the live tool's MCP annotations say it does, where they say it (`readOnlyHint`,
 * `destructiveHint`): hints from the server, not guarantees, kept so a SIEM can class the call as a
 * read or an update (src/evidence/export-ocsf.ts). Undefined when the tool states neither.
 */
function toolHints(ctx: CallContext): RequestToolHints | undefined {
  const annotations = ctx.liveTool?.definition['annotations'];
  if (typeof annotations !== 'object' || annotations === null) return undefined;
  const { destructiveHint, readOnlyHint } = annotations as Record<string, unknown>;
  const destructive = typeof destructiveHint === 'boolean' ? destructiveHint : undefined;
  const readOnly = typeof readOnlyHint === 'boolean' ? readOnlyHint : undefined;
  if (destructive === undefined && readOnly === undefined) return undefined;
  return { destructive, read_only: readOnly };
}

type RequestToolHints = NonNullable<NonNullable<RecordBody['request']>['tool_hints']>;

/** Stage 2's verdict as the decision record carries it (members in canonical order). */
function semanticInfo(s: SemanticFinding): NonNullable<NonNullable<RecordBody['decision']>['semantic']> {
  return {
    cache_hit: s.cache_hit,
    confidence: s.confidence,
    cost_usd: s.cost_usd,
    error: s.error === undefined ? undefined : maskText(s.error),
    latency_ms: s.latency_ms,
    model: s.model,
    prompt_hash: s.prompt_hash,
    rationale: maskText(s.rationale),
    signals: s.signals.map((x) => ({ detail: maskText(x.detail), name: x.name, score: x.score })),
    tokens: s.tokens && { completion: s.tokens.completion, prompt: s.tokens.prompt },
    verdict: s.verdict,
    verifier: s.verifier,
  };
}

/** What happened when a call was forwarded (or could not be). */
export interface ActionFacts {
  forwarded: boolean;
  durationMs: number;
  isError: boolean;
  /** Size and digest of the result's RFC 8785 form, when there is a result. */
  result?: { bytes: number; digest: string };
  error?: { code: string; message: string };
}

/** Size and `sha256:` digest of a result's RFC 8785 form, from one serialization. */
export function resultFacts(result: unknown): { bytes: number; digest: string } {
  const canonical = canonicalJson(result);
  return { bytes: Buffer.byteLength(canonical), digest: `sha256:${sha256Hex(canonical)}` };
}

/** The action record that follows a forwarded call's decision record. */
export function actionRecord(
  ctx: CallContext,
  decisionId: string,
  pep: PepInfo,
  argsDigest: string,
  facts: ActionFacts,
  /** The server asked, when not the live tool's (`resources/read`, `prompts/get`). */
  server: string | undefined = ctx.liveTool?.server,
): RecordBody {
  return {
    ...recordBase('action', ctx.session.id, pep),
    // Who made the call, as on its decision record: a result event names its actor on its own.
    subject: subjectOf(ctx.identity),
    action: {
      args_digest: argsDigest,
      decision_id: decisionId,
      duration_ms: facts.durationMs,
      error: facts.error && { code: facts.error.code, message: maskText(facts.error.message) },
      forwarded: facts.forwarded,
      is_error: facts.isError,
      result_bytes: facts.result?.bytes ?? 0,
      result_digest: facts.result?.digest,
      server,
      tool: maskText(ctx.toolName),
      tool_hints: toolHints(ctx),
    },
  };
}

/** The chain that groups an enforcement point's findings about downstream tool definitions. */
export const DEFINITIONS_CHAIN = 'definitions';

/** A downstream tool definition found poisoned or carrying invisible characters when it loaded. */
export function definitionRecord(
  pep: PepInfo,
  time: Date,
  definition: NonNullable<RecordBody['definition']>,
): RecordBody {
  return { ...recordBase('definition', DEFINITIONS_CHAIN, pep, time), definition };
}

/** A downstream tool whose definition differs from its pin or from the one first seen (a rug pull). */
export function definitionDriftRecord(
  pep: PepInfo,
  time: Date,
  drift: NonNullable<RecordBody['drift']>,
): RecordBody {
  return { ...recordBase('drift', DEFINITIONS_CHAIN, pep, time), drift };
}

/** The chain of relayed requests no session can be named for (no call was in flight to their server). */
export const RELAY_CHAIN = 'relay';

/**
 * A downstream server's request to a client (sampling, elicitation) relayed through the enforcement
 * point, or refused: the server that asked, in the chain of the session asked (`RELAY_CHAIN` when
 * none could be), naming who the session belongs to.
 */
export function relayRecord(
  pep: PepInfo,
  session: { id: string; identity: Identity } | undefined,
  relay: NonNullable<RecordBody['relay']>,
): RecordBody {
  return {
    ...recordBase('relay', session?.id ?? RELAY_CHAIN, pep),
    subject: session && subjectOf(session.identity),
    relay: {
      action: relay.action,
      code: relay.code,
      duration_ms: relay.duration_ms,
      error: relay.error === undefined ? undefined : maskText(relay.error),
      event: relay.event,
      message: relay.message === undefined ? undefined : maskText(relay.message),
      method: relay.method,
      model: relay.model,
      params_digest: relay.params_digest,
      result_digest: relay.result_digest,
      server: relay.server,
    },
  };
}
