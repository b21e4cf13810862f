import { describe, expect, it } from 'vitest';
import { AgentsFileSchema, RuleSchema, ToolsFileSchema, type ToolEntry } from '../../../src/config/schema.js';
import { compileRules } from '../../../src/policy/rules.js';
import type { PolicySet } from '../../../src/policy/policy-set.js';
import { CounterUnavailableError, MemoryCounterStore } from '../../../src/pipeline/counters.js';
import { evaluate, evaluateStatic } from '../../../src/pipeline/evaluate.js';
import type { StageEnv } from '../../../src/pipeline/stage.js';
import type { CallContext } from '../../../src/pipeline/types.js';
import { AgentRegistry, ToolRegistry } from '../../../src/registry/registries.js';
import type { Identity } from '../../../src/core/identity.js';
import type { LiveTool } from '../../../src/core/live-tool.js';

const tools = ToolsFileSchema.parse({
  tools: [
    {
      name: 'cloud__delete_bucket',
      owner: 'cloud',
      risk_tier: 'critical',
      scopes: ['cloud.admin'],
      data_classes: ['customer'],
    },
    {
      name: 'cloud__list_buckets',
      owner: 'cloud',
      risk_tier: 'low',
      scopes: ['cloud.read'],
      caps: { rate_per_minute: 3 },
    },
    {
      name: 'billing__run_report',
      owner: 'finance',
      risk_tier: 'medium',
      caps: { cost_per_call: 40, spend_per_day: 100 },
    },
    { name: 'iam__grant', owner: 'identity', risk_tier: 'high', approval: 'always' },
    { name: 'pinned__tool', owner: 'x', risk_tier: 'low', definition_digest: `sha256:${'a'.repeat(64)}` },
    { name: 'flaky__*', owner: 'x', risk_tier: 'low', fail_open: true },
    { name: 'iam__rotate_key', owner: 'identity', risk_tier: 'high', approval: 'flagged' },
  ],
  groups: { cloud: ['cloud__*'], finance: ['billing__*'], iam: ['iam__*'], misc: ['pinned__*', 'flaky__*'] },
});
const agents = AgentsFileSchema.parse({
  agents: [
    {
      id: 'ops',
      owner: 'sre',
      tool_groups: ['cloud', 'finance', 'iam', 'misc'],
      scopes: ['cloud.read', 'cloud.admin'],
      clearance: ['customer'],
    },
    { id: 'intern', owner: 'sre', tool_groups: ['cloud'], scopes: ['cloud.read'] },
  ],
});

function policyWith(rules: unknown[] = []): PolicySet {
  const compiled = compileRules(rules.map((r, i) => ({ rule: RuleSchema.parse(r), location: `test#${i}` })));
  expect(compiled.problems).toEqual([]);
  const digest = `sha256:${'0'.repeat(64)}`;
  return {
    tools: new ToolRegistry(structuredClone(tools)),
    agents: new AgentRegistry(structuredClone(agents)),
    rules: compiled.rules,
    outcomes: new Map(),
    bundle: { name: 't', revision: 't', digest },
  };
}

function live(name: string): LiveTool {
  const [server = '', tool = ''] = name.split('__');
  return { name, server, tool, definition: { name: tool }, digest: `sha256:${'b'.repeat(64)}` };
}

function call(
  policy: PolicySet,
  agentId: string | undefined,
  toolName: string,
  over: Partial<CallContext> = {},
): CallContext {
  const identity: Identity = { verified: false, claims: {}, agentId };
  return {
    identity,
    agent: agentId === undefined ? undefined : policy.agents.get(agentId),
    toolName,
    toolEntry: policy.tools.match(toolName),
    liveTool: live(toolName),
    arguments: {},
    session: { id: 's1', callCount: 1, tools: [], history: [] },
    now: Date.UTC(2026, 0, 1, 9, 0, 0),
    ...over,
  };
}

function env(policy: PolicySet, counters = new MemoryCounterStore()): StageEnv {
  return { policy, counters, paths: {} };
}

describe('pipeline stage 1', () => {
  const policy = policyWith();

  it('denies an unknown agent before looking at the tool', async () => {
    const d = await evaluate(
      call(policy, 'ghost', 'nope__tool', { liveTool: undefined }),
      env(policy),
      'enforce',
    );
    expect(d).toMatchObject({ effect: 'deny', reasons: ['unknown_agent'] });
    expect(d.stages.map((s) => s.stage)).toEqual(['agent']);
  });

  it('denies a tool that no server exposes, and one with no registry entry', async () => {
    expect(
      (await evaluate(call(policy, 'ops', 'cloud__x', { liveTool: undefined }), env(policy), 'enforce'))
        .reasons,
    ).toEqual(['unknown_tool']);
    expect((await evaluate(call(policy, 'ops', 'other__x'), env(policy), 'enforce')).reasons).toEqual([
      'unregistered_tool',
    ]);
  });

  it('denies a pinned tool whose live definition digest differs', async () => {
    const d = await evaluate(call(policy, 'ops', 'pinned__tool'), env(policy), 'enforce');
    expect(d.reasons).toEqual(['definition_mismatch']);
  });

  it('denies a tool outside the agent groups, a missing scope, and an uncleared data class', async () => {
    expect(
      (await evaluate(call(policy, 'intern', 'billing__run_report'), env(policy), 'enforce')).reasons,
    ).toEqual(['tool_not_in_groups']);
    const narrow = call(policy, 'ops', 'cloud__delete_bucket', {
      identity: { verified: true, claims: {}, agentId: 'ops', scopes: ['cloud.read'] },
    });
    expect((await evaluate(narrow, env(policy), 'enforce')).reasons).toEqual(['missing_scope']);
    const noClearance = policyWith();
    noClearance.agents.get('ops')!.clearance = [];
    expect(
      (await evaluate(call(noClearance, 'ops', 'cloud__delete_bucket'), env(noClearance), 'enforce')).reasons,
    ).toEqual(['data_class_not_cleared']);
  });

  it('allows a call every check passes, in the mode the tool or config gives', async () => {
    const d = await evaluate(call(policy, 'ops', 'cloud__delete_bucket'), env(policy), 'observe');
    expect(d).toMatchObject({ effect: 'allow', mode: 'observe', enforced: false, reasons: [] });
  });

  it('treats static checks alone as visibility, without taking quota', async () => {
    const counters = new MemoryCounterStore();
    for (let i = 0; i < 10; i++)
      await evaluateStatic(call(policy, 'ops', 'cloud__list_buckets'), env(policy, counters));
    expect(
      (await evaluate(call(policy, 'ops', 'cloud__list_buckets'), env(policy, counters), 'enforce')).effect,
    ).toBe('allow');
    expect((await evaluateStatic(call(policy, 'intern', 'billing__run_report'), env(policy))).kind).toBe(
      'deny',
    );
  });
});

describe('rate cap', () => {
  const policy = policyWith();
  const t0 = Date.UTC(2026, 0, 1, 9, 0, 0);

  it('denies the fourth call in a minute of a tool capped at 3/min, and allows again a minute later', async () => {
    const counters = new MemoryCounterStore();
    const at = async (ms: number) =>
      (
        await evaluate(
          call(policy, 'ops', 'cloud__list_buckets', { now: t0 + ms }),
          env(policy, counters),
          'enforce',
        )
      ).reasons;
    expect(await at(0)).toEqual([]);
    expect(await at(10_000)).toEqual([]);
    expect(await at(20_000)).toEqual([]);
    expect(await at(30_000)).toEqual(['rate_limited']);
    expect(await at(60_001)).toEqual([]); // the first call left the window
  });

  it('counts agents separately', async () => {
    const counters = new MemoryCounterStore();
    for (let i = 0; i < 3; i++)
      await evaluate(
        call(policy, 'ops', 'cloud__list_buckets', { now: t0 }),
        env(policy, counters),
        'enforce',
      );
    const other = await evaluate(
      call(policy, 'intern', 'cloud__list_buckets', { now: t0 }),
      env(policy, counters),
      'enforce',
    );
    expect(other.effect).toBe('allow');
  });

  it('gives the slot back when a call is not forwarded', async () => {
    const counters = new MemoryCounterStore();
    for (let i = 0; i < 3; i++) {
      const d = await evaluate(
        call(policy, 'ops', 'cloud__list_buckets', { now: t0 }),
        env(policy, counters),
        'enforce',
      );
      for (const r of d.reservations) r.release();
    }
    expect(
      (
        await evaluate(
          call(policy, 'ops', 'cloud__list_buckets', { now: t0 }),
          env(policy, counters),
          'enforce',
        )
      ).effect,
    ).toBe('allow');
  });
});

describe('spend cap', () => {
  it('denies the call that would pass the daily cap, and resets on the next UTC day', async () => {
    const policy = policyWith();
    const counters = new MemoryCounterStore();
    const day1 = Date.UTC(2026, 0, 1, 23, 0, 0);
    const run = async (now: number) =>
      (await evaluate(call(policy, 'ops', 'billing__run_report', { now }), env(policy, counters), 'enforce'))
        .reasons;
    expect(await run(day1)).toEqual([]);
    expect(await run(day1)).toEqual([]);
    expect(await run(day1)).toEqual(['spend_cap_exceeded']); // 120 > 100
    expect(await run(day1 + 2 * 3600_000)).toEqual([]);
  });
});

describe('rules', () => {
  const base = { description: 'd', reason: 'r' };

  it('combines deny over escalate over allow and cites every matching rule', async () => {
    const policy = policyWith([
      { ...base, id: 'allow-all', when: true, effect: 'allow', reason: 'ok' },
      { ...base, id: 'hold', when: true, effect: 'escalate', reason: 'needs_review' },
      {
        ...base,
        id: 'block',
        when: { '===': [{ var: 'call.arguments.bucket' }, 'prod'] },
        effect: 'deny',
        reason: 'prod_bucket',
      },
    ]);
    const held = await evaluate(
      call(policy, 'ops', 'cloud__delete_bucket', { arguments: { bucket: 'dev' } }),
      env(policy),
      'enforce',
    );
    expect(held).toMatchObject({
      effect: 'escalate',
      reasons: ['needs_review'],
      rules: ['allow-all', 'hold'],
    });
    const denied = await evaluate(
      call(policy, 'ops', 'cloud__delete_bucket', { arguments: { bucket: 'prod' } }),
      env(policy),
      'enforce',
    );
    expect(denied).toMatchObject({ effect: 'deny', reasons: ['prod_bucket'] });
    expect(denied.rules).toContain('block');
  });

  it("applies a rule's own mode, so a new rule can be trialled in observe", async () => {
    const policy = policyWith([
      { ...base, id: 'trial', when: true, effect: 'deny', reason: 'trial_rule', mode: 'observe' },
    ]);
    const d = await evaluate(call(policy, 'ops', 'cloud__delete_bucket'), env(policy), 'enforce');
    expect(d).toMatchObject({ effect: 'deny', mode: 'observe', enforced: false });
  });

  it('denies with rule_error when a rule throws while evaluating', async () => {
    const policy = policyWith([
      { ...base, id: 'bad', when: { missing_some: [1, { var: 'call.arguments.missing' }] }, effect: 'allow' },
    ]);
    const d = await evaluate(call(policy, 'ops', 'cloud__delete_bucket'), env(policy), 'enforce');
    expect(d).toMatchObject({ effect: 'deny', reasons: ['rule_error'], rules: ['bad'] });
  });

  it('sees the session, the identity and the time', async () => {
    const policy = policyWith([
      {
        ...base,
        id: 'after-hours',
        when: {
          and: [{ '>=': [{ var: 'time.hour_utc' }, 20] }, { '===': [{ var: 'identity.verified' }, false] }],
        },
        effect: 'escalate',
        reason: 'after_hours',
      },
    ]);
    const night = Date.UTC(2026, 0, 1, 22, 0, 0);
    expect(
      (await evaluate(call(policy, 'ops', 'cloud__list_buckets', { now: night }), env(policy), 'enforce'))
        .reasons,
    ).toEqual(['after_hours']);
    expect(
      (await evaluate(call(policy, 'ops', 'cloud__list_buckets'), env(policy), 'enforce')).reasons,
    ).toEqual([]);
  });
});

describe('approval and faults', () => {
  it('escalates every call of a tool registered with approval: always', async () => {
    const policy = policyWith();
    expect(await evaluate(call(policy, 'ops', 'iam__grant'), env(policy), 'enforce')).toMatchObject({
      effect: 'escalate',
      reasons: ['approval_required'],
    });
  });

  it('escalates a flagged call of a tool registered with approval: flagged, and lets the others through', async () => {
    const policy = policyWith([
      {
        id: 'off-hours',
        description: 'key rotation outside office hours',
        when: { '>': [{ var: 'time.hour_utc' }, 18] },
        effect: 'flag',
        reason: 'off_hours',
      },
    ]);
    const at = (hour: number) => ({ now: Date.UTC(2026, 0, 1, hour, 0, 0) });
    const flagged = await evaluate(call(policy, 'ops', 'iam__rotate_key', at(22)), env(policy), 'enforce');
    expect(flagged).toMatchObject({
      effect: 'escalate',
      reasons: ['flagged_for_approval', 'off_hours'],
      rules: ['off-hours'],
    });
    expect(flagged.message).toContain('key rotation outside office hours');
    const daytime = await evaluate(call(policy, 'ops', 'iam__rotate_key', at(10)), env(policy), 'enforce');
    expect(daytime).toMatchObject({ effect: 'allow', reasons: [] });
    // A flag alone blocks nothing: a tool without approval: flagged goes ahead, the flag recorded.
    const listed = await evaluate(call(policy, 'ops', 'cloud__list_buckets', at(22)), env(policy), 'enforce');
    expect(listed).toMatchObject({ effect: 'allow', reasons: ['off_hours'], rules: ['off-hours'] });
  });

  it('denies with internal_error when a stage throws, unless the tool is fail_open', async () => {
    const policy = policyWith();
    const broken: StageEnv = {
      ...env(policy),
      counters: {
        acquireRate: () => {
          throw new Error('counter store down');
        },
        chargeSpend: () => Promise.resolve(undefined),
      },
    };
    const closed = await evaluate(call(policy, 'ops', 'cloud__list_buckets'), broken, 'enforce');
    expect(closed).toMatchObject({ effect: 'deny', reasons: ['internal_error'] });

    const flakyEntry = policy.tools.match('flaky__x') as ToolEntry;
    flakyEntry.caps = { rate_per_minute: 1 };
    const open = await evaluate(call(policy, 'ops', 'flaky__x'), broken, 'enforce');
    expect(open.effect).toBe('allow');
    expect(open.reasons).toEqual(['internal_error']);
  });

  it('denies a capped call with counter_unavailable when the counters are down, unless the tool is fail_open', async () => {
    const policy = policyWith();
    const down: StageEnv = {
      ...env(policy),
      counters: {
        acquireRate: () => Promise.reject(new CounterUnavailableError('connection refused')),
        chargeSpend: () => Promise.reject(new CounterUnavailableError('connection refused')),
      },
    };
    const closed = await evaluate(call(policy, 'ops', 'cloud__list_buckets'), down, 'enforce');
    expect(closed).toMatchObject({ effect: 'deny', reasons: ['counter_unavailable'] });

    const flakyEntry = policy.tools.match('flaky__x') as ToolEntry;
    flakyEntry.caps = { rate_per_minute: 1 };
    const open = await evaluate(call(policy, 'ops', 'flaky__x'), down, 'enforce');
    expect(open.effect).toBe('allow');
    expect(open.reasons).toEqual(['counter_unavailable']);
  });
});
