import { digest, digestOnce } from '../../evidence/hash.js';
import type { SemanticAnswer, SemanticInput } from '../../semantic/types.js';
import { PASS, type SemanticEnv, type Stage } from '../stage.js';
import type { CallContext } from '../types.js';
import type { SemanticFinding, StageResult } from '../../core/decision.js';

/**
 * Stage 2: asks the configured verifier whether the call fits what the user asked for. It runs where
 * the tool requires it, or the tool asks for it on flagged calls and an earlier stage flagged this
 * one. It can only make a decision stricter, and a verifier that fails or times out yields the
 * tool's `semantic_fail` (escalate by default), never an allow.
 */
export const checkSemantic: Stage = async (ctx, env, earlier = []) => {
  // A tool whose definition was found poisoned and left to stage 2 (`on_poisoned: semantic`) gets it
  // on every call, whatever its registry entry says: that is what listing it was conditional on.
  const leftToStage2 = ctx.liveTool?.review?.poisoned?.action === 'semantic';
  const setting = leftToStage2 ? 'required' : (ctx.toolEntry?.semantic ?? 'off');
  const flagged = earlier.some((o) => o.result.kind === 'flag');
  if (setting === 'off' || (setting === 'flagged' && !flagged) || env.skipSemantic) return PASS;
  if (!env.semantic) {
    if (setting !== 'required') return PASS;
    return {
      kind: 'escalate',
      code: 'semantic_unavailable',
      message: `"${ctx.toolName}" requires a semantic check and no verifier is configured`,
    };
  }
  const input = semanticInput(ctx);
  const started = performance.now();
  const key = cacheKey(ctx, input, env.policy.bundle.digest);
  const cached = env.semantic.cache?.get(key);
  let answer: SemanticAnswer;
  try {
    if (!cached) await env.semantic.verifier.ready?.();
    answer = cached ?? (await verifyWithin(env.semantic, input));
  } catch (err) {
    const message = (err as Error).message;
    const semantic: SemanticFinding = {
      verdict: ctx.toolEntry?.semantic_fail ?? 'escalate',
      confidence: 0,
      signals: [],
      rationale: 'the semantic check did not complete',
      verifier: env.semantic.verifier.name,
      latency_ms: round(performance.now() - started),
      cache_hit: false,
      error: message,
    };
    return {
      kind: ctx.toolEntry?.semantic_fail ?? 'escalate',
      code: 'semantic_failed',
      message: `the semantic check failed (${message}); failing closed`,
      semantic,
    };
  }
  if (!cached) env.semantic.cache?.set(key, answer);
  const semantic: SemanticFinding = {
    verdict: answer.verdict,
    confidence: answer.confidence,
    signals: answer.signals,
    rationale: answer.rationale,
    ...answer.provenance,
    latency_ms: round(
      cached ? performance.now() - started : (answer.provenance.latency_ms ?? performance.now() - started),
    ),
    cache_hit: cached !== undefined,
  };
  return { ...verdictResult(answer), semantic };
};

/**
 * The agent sees the signal names only: a verifier's rationale may quote what it judged, including
 * injected text, and an LLM's wording is not ours to relay. The rationale goes into evidence.
 */
function verdictResult(answer: SemanticAnswer): StageResult {
  if (answer.verdict === 'allow') return PASS;
  const names = [...new Set(answer.signals.map((s) => s.name))];
  const why = names.length > 0 ? ` (signals: ${names.join(', ')})` : '';
  return answer.verdict === 'deny'
    ? { kind: 'deny', code: 'semantic_denied', message: `the semantic check found this call unsafe${why}` }
    : {
        kind: 'escalate',
        code: 'semantic_escalated',
        message: `the semantic check found this call does not clearly fit the request${why}`,
      };
}

/** Runs the verifier, aborting it once the timeout passes. */
async function verifyWithin(semantic: SemanticEnv, input: SemanticInput): Promise<SemanticAnswer> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // Settle first, so the timeout (not the verifier's reaction to the abort) is what is reported.
      reject(new Error(`timed out after ${semantic.timeoutMs} ms`));
      controller.abort();
    }, semantic.timeoutMs);
  });
  try {
    return await Promise.race([semantic.verifier.verify(input, { signal: controller.signal }), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** What the verifier sees: the intent (declared, or the agent's registered purposes), the tool, the session. */
export function semanticInput(ctx: CallContext): SemanticInput {
  const agentIntents = ctx.agent?.intents ?? [];
  const fromRegistry = ctx.session.intent === undefined && agentIntents.length > 0;
  const definition = ctx.liveTool?.definition ?? {};
  return {
    intent: ctx.session.intent ?? (fromRegistry ? agentIntents.join('; ') : undefined),
    intentSource:
      ctx.session.intent !== undefined
        ? (ctx.session.intentSource ?? 'declared')
        : fromRegistry
          ? 'registry'
          : 'none',
    agent: ctx.agent ? { id: ctx.agent.id, intents: agentIntents } : undefined,
    tool: {
      name: ctx.toolName,
      description: typeof definition['description'] === 'string' ? definition['description'] : undefined,
      inputSchema: definition['inputSchema'],
      risk_tier: ctx.toolEntry?.risk_tier,
    },
    arguments: ctx.arguments,
    history: ctx.session.history,
    ...(ctx.flow ? { flow: ctx.flow.matches } : {}),
  };
}

/**
 * Everything the verdict depends on. The session history is part of it (unlike a plain per-call
 * cache): the same call after a tool result that injected an instruction is a different question.
 */
function cacheKey(ctx: CallContext, input: SemanticInput, bundleDigest: string): string {
  return digest({
    agent: input.agent?.id ?? null,
    tool: ctx.toolName,
    definition: ctx.liveTool?.digest ?? null,
    args: digestOnce(ctx.arguments),
    intent: digest(input.intent ?? null),
    // Each entry is digested once, when it is first part of a key: not the whole history per call.
    history: input.history.map(digestOnce),
    bundle: bundleDigest,
  });
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;
