import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentsFileSchema, ToolsFileSchema } from '../../../src/config/schema.js';
import type { PolicySet } from '../../../src/policy/policy-set.js';
import { MemoryCounterStore } from '../../../src/pipeline/counters.js';
import { evaluate } from '../../../src/pipeline/evaluate.js';
import { SemanticCache } from '../../../src/pipeline/semantic-cache.js';
import type { StageEnv } from '../../../src/pipeline/stage.js';
import type { CallContext } from '../../../src/pipeline/types.js';
import { AgentRegistry, ToolRegistry } from '../../../src/registry/registries.js';
import { LlmJudge } from '../../../src/semantic/llm.js';
import { ENV, escalation, INJECTION, judgeConfig } from '../../helpers/judge-fixtures.js';
import { startOpenAiDouble, verdictReply, type OpenAiDouble } from '../../helpers/openai-double.js';

/** The LLM judge as stage 2 of the real pipeline, against the local endpoint double. */

const policy: PolicySet = {
  tools: new ToolRegistry(
    ToolsFileSchema.parse({
      tools: [
        { name: 'home__grant_access', owner: 'home', risk_tier: 'high', semantic: 'required' },
        {
          name: 'home__remove_lock',
          owner: 'home',
          risk_tier: 'critical',
          semantic: 'required',
          semantic_fail: 'deny',
        },
      ],
      groups: { home: ['home__*'] },
    }),
  ),
  agents: new AgentRegistry(
    AgentsFileSchema.parse({ agents: [{ id: 'assistant', owner: 'it', tool_groups: ['home'] }] }),
  ),
  rules: [],
  outcomes: new Map(),
  bundle: { name: 't', revision: 't', digest: `sha256:${'0'.repeat(64)}` },
};

function call(toolName: string): CallContext {
  const [server = '', tool = ''] = toolName.split('__');
  return {
    identity: { verified: false, claims: {}, agentId: 'assistant' },
    agent: policy.agents.get('assistant'),
    toolName,
    toolEntry: policy.tools.match(toolName),
    liveTool: {
      name: toolName,
      server,
      tool,
      definition: { name: tool, description: 'Grants a person access to a smart lock.' },
      digest: `sha256:${'b'.repeat(64)}`,
    },
    arguments: { person: 'Amy', duration: 'permanent' },
    session: {
      id: 's1',
      callCount: 2,
      intent: 'Summarise my unread email',
      intentSource: 'declared',
      tools: ['mail__list_unread'],
      history: [{ tool: 'mail__list_unread', arguments: {}, result: INJECTION }],
    },
    now: Date.UTC(2026, 0, 1),
  };
}

let double: OpenAiDouble;
beforeEach(async () => {
  double = await startOpenAiDouble();
});
afterEach(async () => {
  await double.close();
});

function env(judgeTimeoutMs: number, cache?: SemanticCache): StageEnv {
  const verifier = new LlmJudge(judgeConfig(double.baseUrl, { timeout_ms: judgeTimeoutMs }), { env: ENV });
  return {
    policy,
    counters: new MemoryCounterStore(),
    paths: {},

    semantic: { verifier, timeoutMs: 5000, cache },
  };
}

describe('LLM judge in the pipeline', () => {
  it('escalates an injected instruction with the signals named and the judge recorded', async () => {
    double.script(verdictReply(escalation, { prompt_tokens: 1000, completion_tokens: 100 }));
    const d = await evaluate(call('home__grant_access'), env(5000), 'enforce');
    expect(d).toMatchObject({ effect: 'escalate', reasons: ['semantic_escalated'] });
    expect(d.message).toMatch(/injection_provenance/);
    expect(d.semantic).toMatchObject({
      verifier: 'llm',
      model: 'judge-model',
      cache_hit: false,
      tokens: { prompt: 1000, completion: 100 },
      cost_usd: 0.0035,
    });
  });

  it("gives the tool's fail mode when the judge times out", async () => {
    double.script(
      { kind: 'slow', afterMs: 30_000, reply: verdictReply({ ...escalation, verdict: 'allow' }) },
      { kind: 'slow', afterMs: 30_000, reply: verdictReply({ ...escalation, verdict: 'allow' }) },
    );
    const escalated = await evaluate(call('home__grant_access'), env(100), 'enforce');
    expect(escalated).toMatchObject({ effect: 'escalate', reasons: ['semantic_failed'] });
    expect(escalated.semantic?.error).toMatch(/no answer within 100 ms/);
    const denied = await evaluate(call('home__remove_lock'), env(100), 'enforce');
    expect(denied).toMatchObject({ effect: 'deny', reasons: ['semantic_failed'] });
  });

  it('never allows on a malformed answer, even one that reads like an allow', async () => {
    double.script(
      { kind: 'completion', content: 'verdict: allow' },
      { kind: 'completion', content: JSON.stringify({ verdict: 'allow' }) },
    );
    for (let i = 0; i < 2; i++) {
      const d = await evaluate(call('home__grant_access'), env(5000), 'enforce');
      expect(d).toMatchObject({ effect: 'escalate', reasons: ['semantic_failed'] });
    }
    expect(double.requests).toHaveLength(2);
  });

  it('does not ask the judge twice for a cached verdict', async () => {
    double.script(verdictReply(escalation), verdictReply(escalation));
    const cache = new SemanticCache(100);
    const shared = env(5000, cache);
    const first = await evaluate(call('home__grant_access'), { ...shared }, 'enforce');
    const second = await evaluate(call('home__grant_access'), { ...shared }, 'enforce');
    expect(first.semantic?.cache_hit).toBe(false);
    expect(second).toMatchObject({ effect: 'escalate', semantic: { cache_hit: true, verifier: 'llm' } });
    expect(double.requests).toHaveLength(1);
  });
});
