import { randomUUIDv7 } from '../util/uuid.js';
import type { Stage, StageEnv } from './stage.js';
import type { CallContext } from './types.js';
import { checkAgent } from './stages/agent.js';
import { checkToolRegistered } from './stages/tool-registered.js';
import { checkDefinition } from './stages/definition.js';
import { checkToolGroups } from './stages/tool-groups.js';
import { checkScopes } from './stages/scopes.js';
import { checkDataClasses } from './stages/data-classes.js';
import { checkRateCap } from './stages/rate-cap.js';
import { checkSpendCap } from './stages/spend-cap.js';
import { checkRules } from './stages/rules.js';
import { checkApproval } from './stages/approval.js';
import { checkSemantic } from './stages/semantic.js';
import type { Decision, StageRun, StageResult } from '../core/decision.js';
import { BLOCKING_EFFECTS, type BlockingEffect, type Mode } from '../core/effect.js';

/**
 * The static checks: they depend on who calls which tool, never on the arguments. A tool these deny
 * (in enforce mode) is one the agent may never call, so it is also hidden from `tools/list`.
 */
const STATIC_STAGES: readonly (readonly [string, Stage])[] = [
  ['agent', checkAgent], // who before what: an unknown caller learns nothing about tools
  ['tool', checkToolRegistered], // only tools that exist and are registered have policy to apply
  ['definition', checkDefinition], // a changed or poisoned definition is another tool: before any grant of it
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
  const runs = await runStages(STAGES, ctx, env);
  return decide(runs, ctx.toolEntry?.mode, defaultMode);
}

/** The static checks only: a deny here means the agent may never call this tool. Takes no reservations. */
export async function evaluateStatic(ctx: CallContext, env: StageEnv): Promise<StageResult> {
  const runs = await runStages(STATIC_STAGES, ctx, env);
  return runs.find((o) => o.result.kind === 'deny')?.result ?? { kind: 'pass' };
}

async function runStages(stages: typeof STAGES, ctx: CallContext, env: StageEnv): Promise<StageRun[]> {
  const runs: StageRun[] = [];
  for (const [stage, run] of stages) {
    const pending = runStage(run, ctx, env, runs);
    // Most stages answer at once; only an asynchronous one (stage 2) costs a turn of the event loop.
    const result = isPromise(pending) ? await pending : pending;
    runs.push({ stage, result });
    if (result.kind === 'deny') break; // first deny stops: nothing after it can make the call allowed
  }
  return runs;
}

function runStage(
  run: Stage,
  ctx: CallContext,
  env: StageEnv,
  earlier: readonly StageRun[],
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

type Blocking = Extract<StageResult, { kind: BlockingEffect }>;

/**
 * The decision the stages' results add up to: the first deny, else the first escalate, else allow;
 * the mode of the deciding rule, else the tool's, else the default. Every stage's side outputs
 * (reservations, stage 2's finding) are collected here.
 */
export function decide(runs: readonly StageRun[], toolMode: Mode | undefined, defaultMode: Mode): Decision {
  let deciding: Blocking | undefined;
  for (const effect of BLOCKING_EFFECTS) {
    deciding ??= runs.find((r) => r.result.kind === effect)?.result as Blocking | undefined;
  }
  const mode = deciding?.mode ?? toolMode ?? defaultMode;
  const reasons = runs.flatMap((r) => ('code' in r.result ? [r.result.code] : []));
  return {
    id: randomUUIDv7(),
    effect: deciding?.kind ?? 'allow',
    mode,
    enforced: mode === 'enforce',
    reasons: deciding ? [deciding.code, ...reasons.filter((c) => c !== deciding.code)] : reasons,
    message: deciding?.message ?? 'allowed',
    rules: [...new Set(runs.flatMap((r) => r.result.rules ?? []))],
    stages: [...runs],
    reservations: runs.flatMap((r) => r.result.reservations ?? []),
    semantic: runs.find((r) => r.result.semantic)?.result.semantic,
  };
}
