import { evaluateRules } from '../../policy/rules.js';
import { buildRuleInput } from '../rule-input.js';
import { PASS, type Stage } from '../stage.js';

/**
 * Policy rules over the call, deny > escalate > flag > allow; a rule that throws denies (fail closed).
 * A flag lets the call continue, marked for a closer look by the stages after it.
 */
export const checkRules: Stage = (ctx, env) => {
  const outcome = evaluateRules(env.policy.rules, buildRuleInput(ctx, env));
  if (outcome.error) {
    return {
      kind: 'deny',
      code: 'rule_error',
      message: `rule "${outcome.error.ruleId}" failed: ${outcome.error.message}`,
      rules: [outcome.error.ruleId],
    };
  }
  const rules = outcome.matched.map((r) => r.id);
  const deciding = outcome.deciding;
  if (!deciding || outcome.effect === 'allow' || outcome.effect === 'none') {
    return rules.length > 0 ? { kind: 'pass', rules } : PASS;
  }
  const { reason: code, description: message } = deciding;
  if (outcome.effect === 'flag') return { kind: 'flag', code, message, rules };
  return { kind: outcome.effect, code, message, rules, mode: deciding.mode };
};
