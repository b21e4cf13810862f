import { randomUUIDv7 } from '../util/uuid.js';
import type { Mode } from '../config/schema.js';
import type { Stage, StageEnv } from './stage.js';
import type { CallContext, Decision, StageOutcome, StageResult } from './types.js';
import { checkAgent } from './stages/agent.js';
import { checkToolRegistered } from './stages/tool-registered.js';
import { checkDefinitionPin } from './stages/definition-pin.js';
import { checkToolGroups } from './stages/tool-groups.js';
import { checkScopes } from './stages/scopes.js';
import { checkDataClasses } from './stages/data-classes.js';
import { checkRateCap } from './stages/rate-cap.js';
import { checkSpendCap } from './stages/spend-cap.js';
import { checkRules } from './stages/rules.js';
import { checkApproval } from './stages/approval.js';
import { checkSemantic } from './stages/semantic.js';

/**
 * The static checks: they depend on who calls which tool, never on the arguments. A tool these deny
 * (in enforce mode) is one the agent may never call, so it is also hidden from `tools/list`.
 */
const STATIC_STAGES: readonly (readonly [string, Stage])[] = [
  ['agent', checkAgent], // who before what: an unknown caller learns nothing about tools
  ['tool', checkToolRegistered], // only tools that exist and are registered have policy to apply
  ['definition', checkDefinitionPin], // a changed definition is a different tool: before any grant of it
  ['tool_groups', checkToolGroups], // the coarse grant: is this tool in the agent's reach at all
  ['scopes', checkScopes], // then the fine grants the tool requires
  ['data_classes', checkDataClasses],
];

/** The whole pipeline, in order. */
const STAGES: readonly (readonly [string, Stage])[] = [
  ...STATIC_STAGES,
  ['rate_cap', checkRateCap], // caps after access checks, so calls that are refused anyway take no quota
  ['spend_cap', checkSpendCap],
  ['rules', checkRules], // rules see only calls every static control allows, and may deny or escalate
  ['approval', checkApproval], // a standing approval requirement escalates what the rules allowed
  ['semantic', checkSemantic], // stage 2 last: the costliest check runs only on calls still standing
];

/** Runs the pipeline over one call. Never throws: a fault in a stage is a deny (unless `fail_open`). */
export async function evaluate(ctx: CallContext, env: StageEnv, defaultMode: Mode): Promise<Decision> {
  const outcomes = await runStages(STAGES, ctx, env);
  return decide(outcomes, ctx, env, defaultMode);
}

/** The static checks only: a deny here means the agent may never call this tool. Takes no reservations. */
export async function evaluateStatic(ctx: CallContext, env: StageEnv): Promise<StageResult> {
  const outcomes = await runStages(STATIC_STAGES, ctx, env);
  return outcomes.find((o) => o.result.kind === 'deny')?.result ?? { kind: 'pass' };
}

async function runStages(stages: typeof STAGES, ctx: CallContext, env: StageEnv): Promise<StageOutcome[]> {
  const outcomes: StageOutcome[] = [];
  for (const [stage, run] of stages) {
    const pending = runStage(run, ctx, env, outcomes);
    // Most stages answer at once; only an asynchronous one (stage 2) costs a turn of the event loop.
    const result = isPromise(pending) ? await pending : pending;
    outcomes.push({ stage, result });
    if (result.kind === 'deny') break; // first deny stops: nothing after it can make the call allowed
  }
  return outcomes;
}

function runStage(
  run: Stage,
  ctx: CallContext,
  env: StageEnv,
  earlier: readonly StageOutcome[],
): StageResult | Promise<StageResult> {
  const fault = (err: unknown): StageResult => {
    const message = `internal error: ${(err as Error)?.message ?? String(err)}`;
    // fail_open is explicit per tool and still leaves a trace in the decision's stages.
    if (ctx.toolEntry?.fail_open) return { kind: 'flag', code: 'internal_error', message };
    return { kind: 'deny', code: 'internal_error', message };
  };
  try {
    const result = run(ctx, env, earlier);
    return isPromise(result) ? result.catch(fault) : result;
  } catch (err) {
    return fault(err);
  }
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

type Blocking = Extract<StageResult, { kind: 'deny' | 'escalate' }>;

function decide(outcomes: StageOutcome[], ctx: CallContext, env: StageEnv, defaultMode: Mode): Decision {
  const find = (kind: Blocking['kind']) =>
    outcomes.find((o) => o.result.kind === kind)?.result as Blocking | undefined;
  const deciding = find('deny') ?? find('escalate');
  const rules = outcomes.flatMap((o) => ('rules' in o.result ? (o.result.rules ?? []) : []));
  const mode = deciding?.mode ?? ctx.toolEntry?.mode ?? defaultMode;
  const effect = deciding?.kind ?? 'allow';
  const reasons = outcomes.flatMap((o) => ('code' in o.result ? [o.result.code] : []));
  return {
    id: randomUUIDv7(),
    effect,
    mode,
    enforced: mode === 'enforce',
    reasons: deciding ? [deciding.code, ...reasons.filter((c) => c !== deciding.code)] : reasons,
    message: deciding?.message ?? 'allowed',
    rules: [...new Set(rules)],
    stages: outcomes,
    reservations: env.reservations,
    semantic: env.semanticOutcome,
  };
}
