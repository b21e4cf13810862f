import { evaluateRules } from '../../policy/rules.js';
import { buildRuleInput } from '../rule-input.js';
import { PASS, type Stage } from '../stage.js';

/** Policy rules over the call, deny > escalate > allow; a rule that throws denies (fail closed). */
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
  if (!deciding || (outcome.effect !== 'deny' && outcome.effect !== 'escalate')) {
    return rules.length > 0 ? { kind: 'pass', rules } : PASS;
  }
  return {
    kind: outcome.effect,
    code: deciding.reason,
    message: deciding.description,
    rules,
    mode: deciding.mode,
  };
};
