import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { EvidenceSink } from '../evidence/types.js';
import type { OutcomeCheck, PolicySet } from '../policy/policy-set.js';
import { MemoryCounterStore, type CounterStore } from '../pipeline/counters.js';
import { evaluate, evaluateStatic } from '../pipeline/evaluate.js';
import type { SemanticEnv, StageEnv } from '../pipeline/stage.js';
import type { IntentSource } from '../semantic/types.js';
import { recordHistory, resultText } from './session-history.js';
import { DEFAULT_HISTORY_LIMITS, type HistoryLimits } from '../semantic/types.js';
import { resultLabels } from '../flow/labels.js';
import { FlowTracker, type FlowTrace } from '../flow/tracker.js';
import type { CallContext, SessionState } from '../pipeline/types.js';
import { digestOnce, wellFormed } from '../evidence/hash.js';
import { maskedArguments, maskText } from '../evidence/mask.js';
import { digestAnyDepth } from '../evidence/json-limits.js';
import { decide } from '../pipeline/evaluate.js';
import {
  CallGate,
  checkArguments,
  DEFAULT_CALL_LIMITS,
  type ArgumentsRefusal,
  type CallLimits,
} from './call-limits.js';
import type { Logger } from '../util/log.js';
import { randomUUIDv7 } from '../util/uuid.js';
import { refusal, unknownToolAnswer } from './answers.js';
import { ResultRefusedError, ServerUnavailableError } from '../transport/errors.js';
import { checkResult } from './result-check.js';
import { CallTrace, type TraceMeta } from './call-trace.js';
import {
  actionRecord,
  chainRecord,
  decisionRecord,
  ignoredIntentRecord,
  intentRecord,
  outcomeRecord,
} from './records.js';
import { freezeInput, truthy } from '../policy/json-logic.js';
import { governRead, type ReadTarget } from './read-governance.js';
import type { Decision } from '../core/decision.js';
import { hidesTool } from '../core/reason-codes.js';
import type { Identity } from '../core/identity.js';
import type { LiveTool } from '../core/live-tool.js';
import type { Mode } from '../core/effect.js';
import type { PepInfo } from '../evidence/types.js';
import type { ApprovalService } from '../approvals/service.js';
import type { ApprovalRequest } from '../approvals/types.js';
import type { PepMetrics } from '../metrics/pep-metrics.js';
import {
  applyExceptions,
  bindingOf,
  elicitationPrincipal,
  settingsFor,
  USER_CONFIRMABLE,
  type CallHooks,
} from './approval-flow.js';

/** How many earlier tool names a session keeps for rules to see. */
const SESSION_HISTORY = 64;

/** One caller's session at an enforcement point. */
export interface Session {
  identity: Identity;
  state: SessionState;
  /** The caller is a configured host: its `_meta` intents state the user's request. */
  host: boolean;
  /** The last `_meta` intent ignored from a caller that is not a host (recorded once per text). */
  ignoredIntent?: string;
  /**
   * `tools/call` requests the session's transport received (the enforcement point's own
   * declare-intent tool aside), counted by the transport before anything can refuse them. The chain's
   * close record carries it: a call that never reached a decision record shows as a coverage gap.
   */
  received: number;
}

/**
 * Sends a call downstream; throws ServerUnavailableError when the server is down. `trace`: the `_meta`
 * members that carry the call's trace context to the server (empty when tracing is off).
 */
export type Forward = (trace: TraceMeta) => Promise<CallToolResult>;

export interface EnforcerOptions {
  policy: PolicySet;
  evidence: EvidenceSink;
  pep: PepInfo;
  defaultMode: Mode;
  paths?: Record<string, string>;
  /** Each server's roots (real paths), which path rules resolve relative paths against. */
  roots?: Record<string, string[]>;
  counters?: CounterStore;
  log: Logger;
  /** Milliseconds since the epoch; injectable for tests. */
  clock?: () => number;
  /** Stage 2's verifier; without it, tools that require a semantic check escalate. */
  semantic?: SemanticEnv;
  /** How much of each session stage 2 may read. */
  history?: HistoryLimits;
  /** Arguments, results and calls in flight (README: Limits). */
  limits?: CallLimits;
  /** Approvals and waivers; without them an enforced escalation is answered "held" and goes no further. */
  approvals?: ApprovalService;
  /** Counts decided calls and times them (Prometheus). */
  metrics?: PepMetrics;
}

/**
 * The `_meta` key by which a host (a caller `identity.hosts` names) carries the user's request on a
 * call: the highest-priority intent source. From any other caller it is recorded and ignored.
 */
export const INTENT_META_KEY = 'mcpgov/intent';
/** Longest accepted intent, in characters: an intent is a request, not a document. */
const MAX_INTENT_CHARS = 2000;

/**
 * The enforcement point's core, shared by the gateway and the sidecar: decide, write the decision
 * record, forward or refuse, then write the action record. Knows nothing of transports.
 */
export class Enforcer {
  /** The policy in force; replaced as a whole, so a call in flight keeps the policy it started with. */
  policy: PolicySet;
  private readonly counters: CounterStore;
  private readonly clock: () => number;
  private readonly paths: Record<string, string>;
  private readonly history: HistoryLimits;
  private readonly limits: CallLimits;
  private readonly gate: CallGate;
  /** Action records appended once their call's answer has gone out (see `forward`). */
  private readonly afterAnswer = new Set<Promise<void>>();

  constructor(private readonly opts: EnforcerOptions) {
    this.policy = opts.policy;
    this.limits = opts.limits ?? DEFAULT_CALL_LIMITS;
    this.gate = new CallGate(this.limits);
    this.counters = opts.counters ?? new MemoryCounterStore();
    this.clock = opts.clock ?? Date.now;
    this.paths = opts.paths ?? {};
    this.history = opts.history ?? DEFAULT_HISTORY_LIMITS;
    // Warm the verifier (its worker thread) while the PEP starts, where stage 2 may run at all; a
    // failure here shows again, as semantic_failed, on the call that needs it.
    if (usesSemantic(this.policy)) opts.semantic?.verifier.ready?.().catch(() => {});
  }

  /** `tools/call` requests being governed right now, over every session. */
  get callsInFlight(): number {
    return this.gate.inFlight;
  }

  /** Stops what the enforcer started: the semantic verifier's worker thread. */
  async close(): Promise<void> {
    await this.opts.semantic?.verifier.close?.();
  }

  /**
   * Starts a session for an authenticated caller; its chain opens with a record naming the caller.
   * `host`: the caller is a configured host (src/identity/hosts.ts), trusted to state the user's
   * request in `_meta`.
   */
  async openSession(identity: Identity, id: string, host = false): Promise<Session> {
    const session: Session = {
      identity,
      host,
      received: 0,
      state: { id, callCount: 0, tools: [], history: [] },
    };
    await this.opts.evidence.append(chainRecord(session.state, identity, this.opts.pep, 'open', host));
    return session;
  }

  /** Closes a session's chain and signs a checkpoint over it, so the session can be packed and proven. */
  async closeSession(session: Session): Promise<void> {
    // Action records still to be written belong before the chain's close record.
    await Promise.all(this.afterAnswer);
    await this.opts.evidence.append(
      chainRecord(session.state, session.identity, this.opts.pep, 'close', false, session.received),
    );
    await this.opts.evidence.checkpoint?.();
  }

  /**
   * Governs a `resources/read` or `prompts/get` like a call (src/pep/read-governance.ts): decided,
   * recorded before `forward` runs, refused with a JSON-RPC error when blocked.
   */
  read<T>(session: Session, target: ReadTarget, forward: () => Promise<T>): Promise<T> {
    const { evidence, pep, defaultMode, log } = this.opts;
    return governRead(
      { policy: this.policy, evidence, pep, defaultMode, log, now: this.clock() },
      session,
      target,
      forward,
    );
  }

  /** Whether the session's agent may ever call this tool; tools it may not are left out of `tools/list`. */
  async isVisible(session: Session, tool: LiveTool): Promise<boolean> {
    const ctx = this.context(session, tool.name, {}, tool, this.policy);
    const result = await evaluateStatic(ctx, this.env(this.policy));
    if (result.kind !== 'deny') return true;
    // The deciding check's own mode first (a changed definition is blocked whatever the tool's mode).
    return (result.mode ?? ctx.toolEntry?.mode ?? this.opts.defaultMode) === 'observe';
  }

  /**
   * Sets the session's intent (what the user asked for) that stage 2 judges later calls against, and
   * records it in the session's chain. An unchanged intent is not recorded again.
   */
  async declareIntent(
    session: Session,
    intent: string,
    source: Extract<IntentSource, 'meta' | 'declared'>,
  ): Promise<'recorded' | 'unchanged' | 'kept_host_intent'> {
    // Well-formed, so the intent has an RFC 8785 form: a cut through a surrogate pair would otherwise
    // leave a session whose every later decision record fails to hash.
    const text = wellFormed(intent.trim().slice(0, MAX_INTENT_CHARS));
    if (text === '' || (text === session.state.intent && source === session.state.intentSource))
      return 'unchanged';
    // The host's intent (from _meta) outranks one the model declares: a model can be talked into
    // re-declaring its task by an injected instruction; the application that took the user's request
    // cannot.
    if (source === 'declared' && session.state.intentSource === 'meta') return 'kept_host_intent';
    session.state.intent = text;
    session.state.intentSource = source;
    await this.opts.evidence.append(intentRecord(session.state, this.opts.pep, text, source));
    return 'recorded';
  }

  /**
   * A `_meta` intent from a caller that is not a host: any client can put one on a call, and the
   * most trusted intent must not be theirs to set. It is recorded with the reason, once per distinct
   * text, and the session's intent stays what it was.
   */
  private async ignoreIntent(session: Session, intent: string): Promise<void> {
    const text = wellFormed(intent.trim().slice(0, MAX_INTENT_CHARS));
    if (text === '' || text === session.ignoredIntent) return;
    await this.opts.evidence.append(ignoredIntentRecord(session.state, this.opts.pep, text));
    session.ignoredIntent = text;
  }

  /**
   * Governs one `tools/call`: the only path by which a call reaches a downstream server. Throws a
   * JSON-RPC error (`too_many_calls`) when the session or agent already has its limit of calls in flight.
   */
  async call(
    session: Session,
    toolName: string,
    args: Record<string, unknown>,
    liveTool: LiveTool | undefined,
    forward: Forward,
    meta?: Record<string, unknown>,
    hooks: CallHooks = {},
  ): Promise<CallToolResult> {
    const name = wellFormed(toolName);
    // One span per call, continuing the caller's trace from `_meta` (a no-op until an SDK is registered).
    const traced = CallTrace.start(this.opts.pep.kind, name, liveTool?.server, session.state.id, meta);
    let result: CallToolResult | undefined;
    let failure: unknown;
    try {
      const release = this.gate.enter(session.state.id, session.identity.agentId);
      const started = performance.now();
      try {
        result = await this.govern(session, name, args, liveTool, forward, meta, hooks, traced);
        return result;
      } finally {
        release();
        this.opts.metrics?.answered((performance.now() - started) / 1000);
      }
    } catch (err) {
      failure = err;
      throw err;
    } finally {
      traced.end(result, failure);
    }
  }

  private async govern(
    session: Session,
    toolName: string,
    args: Record<string, unknown>,
    liveTool: LiveTool | undefined,
    forward: Forward,
    meta: Record<string, unknown> | undefined,
    hooks: CallHooks,
    traced: CallTrace,
  ): Promise<CallToolResult> {
    // Before anything else walks the arguments: past a limit, the pipeline never sees them.
    const refused = checkArguments(args, this.limits);
    if (refused) return this.refuseArguments(session, toolName, args, liveTool, refused, traced);
    const metaIntent = meta?.[INTENT_META_KEY];
    if (typeof metaIntent === 'string') {
      try {
        if (session.host) await this.declareIntent(session, metaIntent, 'meta');
        else await this.ignoreIntent(session, metaIntent);
      } catch (err) {
        return this.evidenceFailure(err);
      }
    }
    const policy = this.policy;
    const ctx = this.context(session, toolName, args, liveTool, policy);
    if (usesFlow(policy)) ctx.flow = traceFlow(session.state, ctx);
    // Rules see the session as it was before this call; the live state moves on for the next one.
    countCall(session, toolName);

    const env = this.env(policy);
    const started = process.hrtime.bigint();
    const evaluated = await evaluate(ctx, env, this.opts.defaultMode);
    const evalUs = Number(process.hrtime.bigint() - started) / 1000;
    const argsDigest = digestOnce(args);
    const binding = bindingOf(ctx, argsDigest, policy.bundle.digest);
    const approvals = this.opts.approvals;
    // A waiver, or an approved request's grant for exactly this call, may let an enforced block through.
    const { decision, waiver, grant } = approvals
      ? await applyExceptions(approvals, ctx, evaluated, binding, this.opts.log)
      : { decision: evaluated, waiver: undefined, grant: undefined };
    traced.decided(decision);

    try {
      // The decision is durable before anything is forwarded (README: Evidence).
      await this.opts.evidence.append(
        decisionRecord(ctx, decision, policy.bundle, this.opts.pep, evalUs, argsDigest, traced.traceId),
      );
    } catch (err) {
      releaseAll(decision);
      return this.evidenceFailure(err, decision.id);
    }
    this.opts.metrics?.decided(liveTool, decision, evalUs);
    if (approvals && waiver && decision.waiver) {
      await approvals.waiverUsed(waiver, decision.id, decision.waiver.waived_effect).catch(this.logFailure);
    }
    if (approvals && grant) await approvals.grantUsed(grant, decision.id).catch(this.logFailure);

    // A tool that does not exist downstream has nothing to forward to, whatever the mode.
    const blocked = (decision.effect !== 'allow' && decision.enforced) || liveTool === undefined;
    if (blocked && approvals && liveTool && decision.effect === 'escalate') {
      return this.escalate(approvals, session, ctx, policy, decision, argsDigest, forward, hooks, traced);
    }
    if (blocked) {
      releaseAll(decision);
      return this.answerBlocked(decision, toolName);
    }
    return this.forward(session, ctx, policy, decision, argsDigest, forward, traced);
  }

  private readonly logFailure = (err: Error) =>
    this.opts.log('error', 'approval evidence not written', { error: err.message });

  /**
   * An enforced escalation becomes an approval request. In return mode the agent is answered at once
   * (`approval_pending`, with the request id); in hold mode the call waits, with progress, for the
   * verdict: approved, it is forwarded under this decision; otherwise it is refused with why.
   */
  private async escalate(
    approvals: ApprovalService,
    live: Session,
    ctx: CallContext,
    policy: PolicySet,
    decision: Decision,
    argsDigest: string,
    forward: Forward,
    hooks: CallHooks,
    traced: CallTrace,
  ): Promise<CallToolResult> {
    const settings = settingsFor(policy, ctx, decision);
    const tier = settings.tier ?? ctx.toolEntry?.risk_tier ?? 'high';
    const mode = settings.mode ?? approvals.config.mode;
    const session = ctx.session;
    let request: ApprovalRequest;
    try {
      request = await approvals.open({
        binding: bindingOf(ctx, argsDigest, policy.bundle.digest),
        verified: ctx.identity.verified,
        pep: this.opts.pep.id,
        session: session.id,
        server: ctx.liveTool?.server,
        decision_id: decision.id,
        reasons: decision.reasons,
        signals: decision.semantic?.signals.map((s) => s.name) ?? [],
        args: maskedArguments(ctx.arguments).args,
        tier,
        owner: ctx.toolEntry?.owner,
        agent_owner: ctx.agent?.owner,
        approvers: settings.approvers ?? [],
        mode,
        intent: session.intent === undefined ? undefined : maskText(session.intent),
        recent_calls: session.tools.slice(-10).map((t) => maskText(t)),
        timeoutSeconds: settings.timeout ?? approvals.config.timeout,
      });
    } catch (err) {
      releaseAll(decision);
      this.opts.log('error', 'approval request not stored; refusing the call', {
        error: (err as Error).message,
      });
      return refusal(
        'failed',
        'the approval request could not be stored',
        'approval_unavailable',
        decision.id,
      );
    }
    traced.approvalOpened(request.id);
    const confirmable =
      settings.user_confirmation === true && USER_CONFIRMABLE.includes(tier) && hooks.confirm;
    // The user's question is withdrawn once the request is settled, whoever settles it.
    const asking = new AbortController();
    const lifetimeMs = (settings.timeout ?? approvals.config.timeout) * 1000;
    if (confirmable) void this.askUser(approvals, ctx, request, hooks, asking.signal, lifetimeMs);
    else if (mode === 'return') {
      releaseAll(decision);
      return refusal(
        'held',
        `${decision.message} (${decision.reasons[0] ?? 'escalated'}); ask a person to approve request ${request.id}, then retry the same call`,
        'approval_pending',
        decision.id,
        request.id,
      );
    }

    const outcome = await approvals.hold(request, hooks.signal, (waited) =>
      hooks.progress?.({
        progress: waited,
        message: `waiting ${waited} s for approval of request ${request.id}`,
      }),
    );
    asking.abort();
    if (outcome.state !== 'approved') {
      releaseAll(decision);
      const verdict = outcome.request.verdict;
      const [kind, message, code] =
        outcome.state === 'denied'
          ? [
              'denied' as const,
              `request ${request.id} was denied by ${verdict?.approver.sub ?? 'an approver'}: ${verdict?.reason ?? ''}`,
              'approval_denied' as const,
            ]
          : outcome.state === 'expired'
            ? [
                'denied' as const,
                `nobody decided request ${request.id} before it expired at ${request.expires_at}`,
                'approval_timeout' as const,
              ]
            : outcome.state === 'withdrawn'
              ? [
                  'failed' as const,
                  `the call was cancelled; request ${request.id} is withdrawn`,
                  'approval_withdrawn' as const,
                ]
              : [
                  'held' as const,
                  `the enforcement point is shutting down; request ${request.id} stays open: once it is approved, retry the same call`,
                  'approval_interrupted' as const,
                ];
      return refusal(kind, message, code, decision.id, request.id);
    }
    // Approved: this held call is its own grant's one use (an older grant for the same call is left
    // to the retry it was given for).
    const grant =
      outcome.request.grant?.used_by === decision.id
        ? outcome.request // used by this call as the verdict was stored
        : await approvals.takeGrant(request.binding, decision.id, request.id).catch(() => undefined);
    if (!grant) {
      releaseAll(decision);
      return refusal(
        'failed',
        `request ${request.id} was approved but its grant was already used`,
        'approval_granted',
        decision.id,
        request.id,
      );
    }
    await approvals.grantUsed(grant, decision.id).catch(this.logFailure);
    return this.forward(live, ctx, policy, decision, argsDigest, forward, traced);
  }

  /** Asks the client's user (elicitation); their answer is the verdict, recorded as theirs. */
  private async askUser(
    approvals: ApprovalService,
    ctx: CallContext,
    request: ApprovalRequest,
    hooks: CallHooks,
    signal: AbortSignal,
    timeoutMs: number,
  ): Promise<void> {
    try {
      const answer = await hooks.confirm?.(
        `Allow ${ctx.toolName} (${request.tier} risk)? ${request.reasons.join(', ')}. Request ${request.id}.`,
        { signal, timeoutMs },
      );
      if (answer === undefined || answer === 'cancel') return; // left to the other approvers
      await approvals.decide(
        request.id,
        {
          verdict: answer === 'accept' ? 'approve' : 'deny',
          reason: `the user ${answer === 'accept' ? 'confirmed' : 'declined'} the call`,
        },
        elicitationPrincipal(ctx),
      );
    } catch (err) {
      if (signal.aborted) return; // settled another way: the question was withdrawn
      this.opts.log('warn', 'user confirmation failed; the request stays with approvers', {
        error: (err as Error).message,
      });
    }
  }

  /**
   * Denies a call whose arguments are past a limit, and records it. The record carries the arguments'
   * digest and size only (computed without recursion), never the arguments.
   */
  private async refuseArguments(
    session: Session,
    toolName: string,
    args: Record<string, unknown>,
    liveTool: LiveTool | undefined,
    refused: ArgumentsRefusal,
    traced: CallTrace,
  ): Promise<CallToolResult> {
    const policy = this.policy;
    const ctx = this.context(session, toolName, {}, liveTool, policy);
    countCall(session, toolName);
    const decision = decide([{ stage: 'limits', result: refused }], undefined, 'enforce');
    const { digest, bytes } = digestAnyDepth(args);
    const recorded = { args: `[digest ${digest} ${bytes} bytes]`, masked: [''] };
    traced.decided(decision);
    try {
      await this.opts.evidence.append(
        decisionRecord(ctx, decision, policy.bundle, this.opts.pep, 0, digest, traced.traceId, recorded),
      );
    } catch (err) {
      return this.evidenceFailure(err, decision.id);
    }
    this.opts.metrics?.decided(liveTool, decision);
    return this.answerBlocked(decision, toolName);
  }

  private evidenceFailure(err: unknown, decisionId = randomUUIDv7()): CallToolResult {
    this.opts.log('error', 'evidence record not written; refusing the call', {
      error: (err as Error).message,
    });
    return refusal('failed', 'the decision record could not be written', 'evidence_unavailable', decisionId);
  }

  private async forward(
    session: Session,
    ctx: CallContext,
    /** The policy the call was decided under: a bundle activated meanwhile must not change its checks. */
    policy: PolicySet,
    decision: Decision,
    argsDigest: string,
    forward: Forward,
    traced: CallTrace,
  ): Promise<CallToolResult> {
    const started = performance.now();
    let result: CallToolResult | undefined;
    let failure: unknown;
    try {
      result = await traced.forward(forward);
    } catch (err) {
      failure = err;
    }
    const durationMs = performance.now() - started;
    const unavailable = failure instanceof ServerUnavailableError;
    if (unavailable) releaseAll(decision);
    // The answer is checked before the agent sees it: the framing may have refused it already (too
    // large to read), else its form, size and shape are checked here, whatever the transport.
    const checked = result === undefined ? undefined : checkResult(result, this.limits.resultBytes);
    const facts = checked?.facts;
    const refused =
      failure instanceof ResultRefusedError
        ? { code: failure.reason, message: failure.message }
        : checked?.refusal;
    // The action record is telemetry about a call already made: the caller does not wait for it, not
    // even for its hashing. It is built and appended on the next turn of the event loop, after this
    // call's answer has been written. (The decision record, durable before forwarding, is what proves
    // the call was governed.)
    const action = {
      forwarded: !unavailable,
      durationMs,
      isError: failure !== undefined || refused !== undefined || result?.isError === true,
      result: facts,
      error:
        refused ??
        (failure === undefined
          ? undefined
          : {
              code: unavailable ? 'server_unavailable' : 'downstream_error',
              message: (failure as Error).message,
            }),
    };
    // The outcome check (a tool that declares one) follows its action record, as before.
    const check = result !== undefined && ctx.toolEntry ? policy.outcomes.get(ctx.toolEntry) : undefined;
    const written: Promise<void> = new Promise<void>((resolve) => {
      setImmediate(() => {
        const appended = this.opts.evidence.append(
          actionRecord(ctx, decision.id, this.opts.pep, argsDigest, action),
          { durable: false },
        );
        if (check && !unavailable && !refused && failure === undefined) {
          this.recordOutcome(ctx, decision.id, result, facts?.digest, check);
        }
        appended
          .then(
            () => undefined,
            (err: Error) => this.opts.log('error', 'action record not written', { error: err.message }),
          )
          .finally(() => {
            this.afterAnswer.delete(written);
            resolve();
          });
      });
    });
    this.afterAnswer.add(written);
    if (unavailable) return refusal('failed', (failure as Error).message, 'server_unavailable', decision.id);
    if (refused) {
      this.opts.log('warn', 'downstream result refused', {
        tool: ctx.toolName,
        reason: refused.code,
        error: refused.message,
      });
      // The call ran downstream: say so, since it may have changed something.
      return refusal(
        'failed',
        `${refused.message}; the call ran, its result is withheld`,
        refused.code,
        decision.id,
      );
    }
    if (failure !== undefined) throw failure; // protocol errors from downstream stay protocol errors
    // Only stage 2 reads the history: a policy that never asks for it does not pay for keeping it.
    if (result && usesSemantic(policy)) {
      const labels = resultLabels(ctx.toolEntry?.results, ctx.toolEntry?.data_classes ?? []);
      recordHistory(session.state, ctx.toolName, ctx.arguments, result, this.history, labels);
    }
    // Only a rule that reads `flow` needs the session's labelled values.
    if (result && facts && usesFlow(policy)) observeFlow(session.state, ctx, result, facts.digest);
    return result as CallToolResult;
  }

  /** Checks what the call achieved against the tool's declared outcome, and records it. */
  private recordOutcome(
    ctx: CallContext,
    decisionId: string,
    result: CallToolResult | undefined,
    resultDigest: string | undefined,
    check: OutcomeCheck,
  ): void {
    let passed = false;
    let error: string | undefined;
    try {
      passed = truthy(
        check.logic.evaluate(
          freezeInput({ result, call: { name: ctx.toolName, arguments: ctx.arguments } }) as object,
        ),
      );
    } catch (err) {
      error = (err as Error).message;
    }
    const checks = [{ check: check.description, passed, ...(error === undefined ? {} : { error }) }];
    void this.opts.evidence
      .append(outcomeRecord(ctx, decisionId, this.opts.pep, resultDigest, checks), { durable: false })
      .catch((err: Error) => this.opts.log('error', 'outcome record not written', { error: err.message }));
  }

  private answerBlocked(decision: Decision, toolName: string): CallToolResult {
    const code = decision.reasons[0] ?? 'internal_error';
    if (decision.effect === 'deny' && hidesTool(code)) return unknownToolAnswer(toolName);
    if (decision.effect === 'allow') return unknownToolAnswer(toolName);
    return refusal(decision.effect === 'deny' ? 'denied' : 'held', decision.message, code, decision.id);
  }

  private context(
    session: Session,
    toolName: string,
    args: Record<string, unknown>,
    liveTool: LiveTool | undefined,
    policy: PolicySet,
  ): CallContext {
    const agentId = session.identity.agentId;
    return {
      identity: session.identity,
      agent: agentId === undefined ? undefined : policy.agents.get(agentId),
      toolName,
      toolEntry: policy.tools.match(toolName),
      liveTool,
      arguments: args,
      // A snapshot: the live state moves on while this call is decided and forwarded.
      session: {
        ...session.state,
        callCount: session.state.callCount + 1,
        tools: [...session.state.tools],
        history: [...session.state.history],
      },
      now: this.clock(),
    };
  }

  private env(policy: PolicySet): StageEnv {
    return {
      policy,
      counters: this.counters,
      paths: this.paths,
      roots: this.opts.roots,
      semantic: this.opts.semantic,
    };
  }
}

const semanticUse = new WeakMap<PolicySet, boolean>();

/** Whether any tool of a policy may be checked by stage 2. */
function usesSemantic(policy: PolicySet): boolean {
  let uses = semanticUse.get(policy);
  if (uses === undefined) {
    uses = policy.tools.file.tools.some((t) => t.semantic !== 'off');
    semanticUse.set(policy, uses);
  }
  return uses;
}

const flowUse = new WeakMap<PolicySet, boolean>();

/** Whether any rule of a policy reads `flow`: only then does a session track its flows. */
function usesFlow(policy: PolicySet): boolean {
  let uses = flowUse.get(policy);
  if (uses === undefined) {
    uses = policy.rules.some((r) => r.readsFlow);
    flowUse.set(policy, uses);
  }
  return uses;
}

/** Which of the call's arguments carry values of the session's earlier results. */
function traceFlow(state: SessionState, ctx: CallContext): FlowTrace {
  state.flow ??= new FlowTracker();
  // The tool's names, not its server's: a server named `memory` or `everything` is a common word.
  const names = [ctx.toolName, ctx.liveTool?.tool].filter((n) => n !== undefined);
  return state.flow.trace(ctx.arguments, state.intent, names, state.tools);
}

/** Files a forwarded call's result under its tool's labels, for the calls after it. */
function observeFlow(state: SessionState, ctx: CallContext, result: CallToolResult, digest: string): void {
  const text = resultText(result, FLOW_TEXT_CHARS);
  if (text === undefined) return;
  state.flow ??= new FlowTracker();
  state.flow.observe(
    ctx.toolName,
    digest,
    text,
    resultLabels(ctx.toolEntry?.results, ctx.toolEntry?.data_classes ?? []),
  );
}
const FLOW_TEXT_CHARS = 32_768;

/** Counts a decided call in the session's live state (rules of later calls see it). */
function countCall(session: Session, toolName: string): void {
  session.state.callCount += 1;
  session.state.tools.push(toolName);
  if (session.state.tools.length > SESSION_HISTORY) session.state.tools.shift();
}

function releaseAll(decision: Decision): void {
  for (const r of decision.reservations) r.release();
}
