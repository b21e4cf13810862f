import { digest } from '../evidence/hash.js';
import { resultLabels } from '../flow/labels.js';
import { FlowTracker, forgetReadResults } from '../flow/tracker.js';
import { forgetReadTexts } from '../semantic/heuristic/history.js';
import { MemoryCounterStore } from '../pipeline/counters.js';
import { decide, evaluate } from '../pipeline/evaluate.js';
import type { StageEnv } from '../pipeline/stage.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { CallContext } from '../pipeline/types.js';
import { liveTool, NAME_SEPARATOR } from '../registry/live-tool.js';
import type { PolicySet } from '../policy/policy-set.js';
import type { SemanticInput, SemanticVerifier } from '../semantic/types.js';
import type { Effect } from '../core/effect.js';
import type { EvalCase } from './case.js';
import { verifierWindow, withSessionLength } from './session-filler.js';
import { confusionOf, metricsOf, percentile, type Confusion, type Metrics } from './metrics.js';

/** Which part of the decision path a run measures. */
export type EvalStage = 'deterministic' | 'semantic' | 'pipeline';
export const EVAL_STAGES: readonly EvalStage[] = ['deterministic', 'semantic', 'pipeline'];

/** One case's outcome. */
export interface CaseResult {
  id: string;
  expect: Effect;
  got: Effect;
  /** Reason codes of the decision (stage runs), or the verifier's signal names (semantic run). */
  reasons: string[];
  latency_ms: number;
}

/** What `mcpgov evals run --json` prints (evals/README.md). */
export interface EvalReport {
  cases: number;
  confusion: Confusion;
  metrics: Metrics;
  latency_ms: { p50: number; p99: number };
  results: { id: string; expect: Effect; got: Effect; reasons: string[] }[];
}

export interface RunOptions {
  stage: EvalStage;
  /** Required for `deterministic` and `pipeline`: the registries and rules the cases run against. */
  policy?: PolicySet;
  /** Required for `semantic` and `pipeline`. */
  verifier?: SemanticVerifier;
  /** Agent for cases that name none (deterministic and pipeline stages). */
  defaultAgent?: string;
  /** Named paths rules read as `paths.<name>`. */
  paths?: Record<string, string>;
  /** Verifier timeout in the pipeline stage. */
  timeoutMs?: number;
  /** The instant every case is decided at, so time-based rules are reproducible. */
  now?: number;
  /**
   * Decide each case as call N of a session of N calls: plain earlier calls fill its history up
   * (session-filler.ts). Measures what a long session costs; the verdicts should not move.
   */
  sessionLength?: number;
}

/** A fixed weekday morning (UTC): cases do not depend on when they are run. */
export const EVAL_TIME = Date.UTC(2026, 0, 6, 10, 0, 0);

/** Runs the cases one after another (latency is per case, not under contention) and scores them. */
export async function runEvals(cases: readonly EvalCase[], options: RunOptions): Promise<EvalReport> {
  const results: CaseResult[] = [];
  if (options.sessionLength && cases[0]) {
    // A long-running enforcement point: code and patterns already compiled (one untimed pass), every
    // earlier call of the session decided when it came (the suite's registry has stage 2 on every
    // tool), so its result was read then. Each timed case pays for what is new in it: its own
    // earlier results and its call.
    for (const c of cases) await runCase(c, options);
    forgetReadTexts();
    forgetReadResults();
    await runCase({ ...cases[0], history: [] }, options); // the shared earlier calls only
  }
  for (const c of cases) results.push(await runCase(c, options));
  return reportOf(results);
}

/** Scores per-case results into the report. */
export function reportOf(results: readonly CaseResult[]): EvalReport {
  const confusion = confusionOf(results);
  const latencies = results.map((r) => r.latency_ms);
  return {
    cases: results.length,
    confusion,
    metrics: metricsOf(confusion),
    latency_ms: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)) },
    results: results.map(({ id, expect, got, reasons }) => ({ id, expect, got, reasons })),
  };
}

/** Decides one case at the given stage and times it. */
export async function runCase(original: EvalCase, options: RunOptions): Promise<CaseResult> {
  const session = options.sessionLength ? withSessionLength(original, options.sessionLength) : original;
  // The enforcement point files each result as it arrives, not when the next call comes: only the
  // trace of this call's arguments belongs to its latency.
  const flow = options.stage === 'semantic' ? undefined : flowOfSession(session, options.policy);
  // Stage 2 reads the window of the session an enforcement point keeps (a long session's last calls).
  const c = session === original ? original : { ...session, history: verifierWindow(session.history) };
  const started = performance.now();
  if (options.stage === 'semantic') {
    if (!options.verifier) throw new Error('the semantic stage needs a verifier');
    const answer = await options.verifier.verify(semanticInputOf(c));
    const latency = answer.provenance.latency_ms ?? performance.now() - started;
    const reasons = answer.signals.filter((s) => s.score > 0).map((s) => s.name);
    return { id: c.id, expect: c.expect, got: answer.verdict, reasons, latency_ms: round(latency) };
  }
  if (!options.policy) throw new Error(`the ${options.stage} stage needs a policy`);
  const semantic =
    options.stage === 'pipeline'
      ? (() => {
          if (!options.verifier) throw new Error('the pipeline stage needs a verifier');
          return { verifier: options.verifier, timeoutMs: options.timeoutMs ?? 2000 };
        })()
      : undefined;
  const env: StageEnv = {
    policy: options.policy,
    counters: new MemoryCounterStore(),
    paths: options.paths ?? {},
    semantic,
  };
  const decision = await evaluate(callContextOf(c, options, flow), env, 'enforce');
  for (const r of decision.reservations) r.release();
  const latency = round(performance.now() - started);
  if (options.stage === 'pipeline') {
    return {
      id: c.id,
      expect: c.expect,
      got: decision.effect,
      reasons: decision.reasons,
      latency_ms: latency,
    };
  }
  // Stage 1 alone: what the decision would be without the semantic stage's result.
  const stage1 = decide(
    decision.stages.filter((s) => s.stage !== 'semantic'),
    undefined,
    'enforce',
  );
  return { id: c.id, expect: c.expect, got: stage1.effect, reasons: stage1.reasons, latency_ms: latency };
}

/** What the semantic stage sees of a case, as the PEP would build it from a session. */
export function semanticInputOf(c: EvalCase): SemanticInput {
  return {
    intent: c.intent,
    intentSource: c.intent === undefined ? 'none' : 'case',
    tool: { name: c.tool.name, description: c.tool.description, inputSchema: c.tool.inputSchema },
    arguments: c.arguments,
    history: c.history,
  };
}

/** A case as the PEP would see the call: identity, registry entries, live definition, session. */
export function callContextOf(
  c: EvalCase,
  options: Pick<RunOptions, 'policy' | 'defaultAgent' | 'now'>,
  flow?: FlowTracker,
): CallContext {
  const policy = options.policy;
  const agentId = c.agent ?? options.defaultAgent;
  const [server = '', ...rest] = c.tool.name.split(NAME_SEPARATOR);
  const prefixed = rest.length > 0;
  const definition = {
    name: prefixed ? rest.join(NAME_SEPARATOR) : c.tool.name,
    ...(c.tool.description === undefined ? {} : { description: c.tool.description }),
    inputSchema: c.tool.inputSchema ?? { type: 'object' },
  } as Tool;
  return {
    identity: { verified: false, claims: {}, agentId },
    agent: agentId === undefined ? undefined : policy?.agents.get(agentId),
    toolName: c.tool.name,
    toolEntry: policy?.tools.match(c.tool.name),
    liveTool: liveTool(prefixed ? server : '', definition, prefixed),
    arguments: c.arguments,
    flow: flow?.trace(
      c.arguments,
      c.intent,
      [c.tool.name, definition.name],
      c.history.map((h) => h.tool),
    ),
    session: {
      id: `eval:${c.id}`,
      intent: c.intent,
      intentSource: c.intent === undefined ? undefined : 'case',
      callCount: c.history.length + 1,
      tools: c.history.map((h) => h.tool),
      history: c.history,
    },
    now: options.now ?? EVAL_TIME,
  };
}

/**
 * The case's session as flow tracking saw it, when a rule of the policy reads `flow`: each earlier
 * result filed under its tool's registry labels.
 */
export function flowOfSession(c: EvalCase, policy: PolicySet | undefined): FlowTracker | undefined {
  if (!policy?.rules.some((r) => r.readsFlow)) return undefined;
  const tracker = new FlowTracker();
  for (const h of c.history) {
    if (h.result === undefined) continue;
    const entry = policy.tools.match(h.tool);
    tracker.observe(
      h.tool,
      digest(h.result),
      h.result,
      resultLabels(entry?.results, entry?.data_classes ?? []),
    );
  }
  return tracker;
}

const round = (x: number) => Math.round(x * 1000) / 1000;
