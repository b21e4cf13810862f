import type { ApprovalSettings } from '../config/approvals-schema.js';
import type { RuleEffect, RuleSource } from '../config/schema.js';
import type { Mode } from '../core/effect.js';
import type { RuleReason } from '../core/reason-codes.js';
import { compileLogic, truthy } from './json-logic.js';

/** A rule ready to evaluate. */
export interface CompiledRule {
  id: string;
  description: string;
  effect: RuleEffect;
  reason: RuleReason;
  mode?: Mode;
  /** How the rule's escalations reach a person, over the tool's settings. */
  approval?: ApprovalSettings;
  /** Whether the condition reads `flow`: the enforcement point then tracks the session's flows. */
  readsFlow: boolean;
  /** Whether the rule's condition holds; throws when the condition fails on this input. */
  evaluate(input: object): boolean;
}

/** A compile problem, located by the caller's `location` and a path inside the rule. */
export interface RuleProblem {
  location: string;
  path: string;
  message: string;
}

/** Compiles rules once, at load. Every problem in every rule is reported; duplicate ids are problems. */
export function compileRules(sources: readonly { rule: RuleSource; location: string }[]): {
  rules: CompiledRule[];
  problems: RuleProblem[];
} {
  const rules: CompiledRule[] = [];
  const problems: RuleProblem[] = [];
  const seen = new Set<string>();
  for (const { rule, location } of sources) {
    if (seen.has(rule.id)) problems.push({ location, path: 'id', message: `duplicate rule id "${rule.id}"` });
    seen.add(rule.id);
    const compiled = compileLogic(rule.when);
    if (!compiled.ok) {
      for (const p of compiled.problems)
        problems.push({ location, path: p.path ? `when.${p.path}` : 'when', message: p.message });
      continue;
    }
    const { logic } = compiled;
    rules.push({
      id: rule.id,
      description: rule.description,
      effect: rule.effect,
      reason: rule.reason as RuleReason,
      mode: rule.mode,
      approval: rule.approval,
      readsFlow: readsVar(rule.when, 'flow'),
      evaluate: (input) => truthy(logic.evaluate(input)),
    });
  }
  return { rules, problems };
}

/** Whether json-logic reads a variable under `root` (`{var: "flow.x"}` or `{var: ["flow.x", default]}`). */
function readsVar(logic: unknown, root: string): boolean {
  if (Array.isArray(logic)) return logic.some((item) => readsVar(item, root));
  if (logic === null || typeof logic !== 'object') return false;
  for (const [op, arg] of Object.entries(logic)) {
    if (op === 'var') {
      const name = Array.isArray(arg) ? arg[0] : arg;
      if (typeof name === 'string' && (name === root || name.startsWith(`${root}.`))) return true;
    }
    if (readsVar(arg, root)) return true;
  }
  return false;
}

/** What the rules concluded about one call. */
export interface RuleVerdict {
  effect: RuleEffect | 'none';
  /** Rules whose condition held, in order. */
  matched: CompiledRule[];
  /** The rule whose effect decided: the first deny, else the first escalate, flag, allow. */
  deciding?: CompiledRule;
  /** Set when a rule threw: the verdict is then a deny (fail closed). */
  error?: { ruleId: string; message: string };
}

/** The strongest effect among the matching rules decides. */
const PRECEDENCE = ['deny', 'escalate', 'flag', 'allow'] as const satisfies readonly RuleEffect[];

/** Evaluates every rule; deny > escalate > flag > allow, and a rule that throws denies. */
export function evaluateRules(rules: readonly CompiledRule[], input: object): RuleVerdict {
  const matched: CompiledRule[] = [];
  for (const rule of rules) {
    try {
      if (rule.evaluate(input)) matched.push(rule);
    } catch (err) {
      return {
        effect: 'deny',
        matched,
        deciding: rule,
        error: { ruleId: rule.id, message: (err as Error).message },
      };
    }
  }
  for (const effect of PRECEDENCE) {
    const deciding = matched.find((r) => r.effect === effect);
    if (deciding) return { effect, matched, deciding };
  }
  return { effect: 'none', matched };
}
