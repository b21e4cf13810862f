import { describe, expect, it } from 'vitest';
import { RuleSchema } from '../../../src/config/schema.js';
import { freezeInput } from '../../../src/policy/json-logic.js';
import { compileRules, evaluateRules } from '../../../src/policy/rules.js';

const rule = (id: string, effect: string, when: unknown) =>
  RuleSchema.parse({ id, description: `${id} rule`, when, effect, reason: `${id.replace(/-/g, '_')}_hit` });

describe('rule compilation', () => {
  it('reports every problem with the rule location and a path inside when', () => {
    const { problems } = compileRules([
      { rule: rule('a', 'deny', { '==': [1, 1] }), location: 'p.yaml#0' },
      { rule: rule('a', 'allow', true), location: 'p.yaml#1' },
    ]);
    expect(problems).toEqual([
      { location: 'p.yaml#0', path: 'when.==', message: 'loose "==" is not allowed; use "===" (strict)' },
      { location: 'p.yaml#1', path: 'id', message: 'duplicate rule id "a"' },
    ]);
  });
});

describe('rule reasons', () => {
  it("refuses a reason that is one of mcpgov's own codes, so a rule cannot pose as a built-in check", () => {
    const parsed = RuleSchema.safeParse({
      id: 'hide',
      description: 'pretends the tool does not exist',
      when: true,
      effect: 'deny',
      reason: 'unknown_tool',
    });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toContain("one of mcpgov's own reason codes");
  });
});

describe('rule evaluation', () => {
  const input = freezeInput({ call: { name: 'x', arguments: { n: 3 } } }) as object;

  it('combines matching rules deny > escalate > allow', () => {
    const { rules } = compileRules(
      [
        rule('ok', 'allow', true),
        rule('hold', 'escalate', true),
        rule('block', 'deny', { '>': [{ var: 'call.arguments.n' }, 2] }),
      ].map((r, i) => ({ rule: r, location: `#${i}` })),
    );
    const outcome = evaluateRules(rules, input);
    expect(outcome.effect).toBe('deny');
    expect(outcome.deciding?.id).toBe('block');
    expect(outcome.matched.map((r) => r.id)).toEqual(['ok', 'hold', 'block']);
    expect(evaluateRules(rules.slice(0, 2), input)).toMatchObject({
      effect: 'escalate',
      deciding: { id: 'hold' },
    });
    expect(evaluateRules(rules.slice(0, 1), input)).toMatchObject({ effect: 'allow' });
    expect(evaluateRules([], input)).toMatchObject({ effect: 'none', matched: [] });
  });

  it('denies, naming the rule, when a rule throws', () => {
    const { rules } = compileRules([
      { rule: rule('broken', 'allow', { missing_some: [1, { var: 'nope' }] }), location: '#0' },
    ]);
    expect(evaluateRules(rules, input)).toMatchObject({ effect: 'deny', error: { ruleId: 'broken' } });
  });
});
