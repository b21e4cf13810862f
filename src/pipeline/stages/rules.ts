import { evaluateRules } from '../../policy/rules.js';
import { buildRuleInput } from '../rule-input.js';
import { PASS, type Stage } from '../stage.js';
import type { FlowTrace } from '../../flow/tracker.js';

/**
 * Policy rules over the call, deny > escalate > flag > allow; a rule that throws denies (fail closed).
 * A flag lets the call continue, marked for a closer look by the stages after it.
 */
export const checkRules: Stage = (ctx, env) => {
  const verdict = evaluateRules(env.policy.rules, buildRuleInput(ctx, env));
  if (verdict.error) {
    return {
      kind: 'deny',
      code: 'rule_error',
      message: `rule "${verdict.error.ruleId}" failed: ${verdict.error.message}`,
      rules: [verdict.error.ruleId],
    };
  }
  const rules = verdict.matched.map((r) => r.id);
  const deciding = verdict.deciding;
  if (!deciding || verdict.effect === 'allow' || verdict.effect === 'none') {
    return rules.length > 0 ? { kind: 'pass', rules } : PASS;
  }
  const { reason: code } = deciding;
  // A rule on flows names them: which argument came from which tool's result.
  const message =
    deciding.readsFlow && ctx.flow ? withFlows(deciding.description, ctx.flow) : deciding.description;
  if (verdict.effect === 'flag') return { kind: 'flag', code, message, rules };
  return { kind: verdict.effect, code, message, rules, mode: deciding.mode };
};

/** `description (flow: "to" from fs__read_text_file, untrusted; ...)`, at most three flows. */
function withFlows(description: string, trace: FlowTrace): string {
  if (trace.matches.length === 0) return description;
  const named = trace.matches
    .slice(0, 3)
    .map((m) => `"${m.path}" from ${m.source} (${m.integrity}, ${m.confidentiality})`);
  const more = trace.matches.length > 3 ? `; ${trace.matches.length - 3} more` : '';
  return `${description} (flow: ${named.join('; ')}${more})`;
}
