import { describe, expect, it } from 'vitest';
import { AgentsFileSchema, ToolsFileSchema } from '../../../src/config/schema.js';
import type { Identity } from '../../../src/core/identity.js';
import type { Mode } from '../../../src/core/effect.js';
import type { Session } from '../../../src/pep/enforcer.js';
import { governRead, type ReadTarget } from '../../../src/pep/read-governance.js';
import type { PolicySet } from '../../../src/policy/policy-set.js';
import { AgentRegistry, ToolRegistry } from '../../../src/registry/registries.js';
import { silentLogger } from '../../../src/util/log.js';
import { memorySink } from '../../helpers/memory-sink.js';

const policy: PolicySet = {
  tools: new ToolRegistry(
    ToolsFileSchema.parse({
      tools: [{ name: 'docs__*', owner: 'x', risk_tier: 'low' }],
      resources: [
        { uri: 'file:///finance/*', owner: 'fin', risk_tier: 'high', data_classes: ['finance'] },
        {
          uri: 'file:///hr/*',
          server: 'docs',
          owner: 'hr',
          risk_tier: 'high',
          data_classes: ['hr'],
          mode: 'observe',
        },
      ],
    }),
  ),
  agents: new AgentRegistry(
    AgentsFileSchema.parse({
      agents: [
        { id: 'analyst', owner: 'x', clearance: ['finance'] },
        { id: 'intern', owner: 'x' },
      ],
    }),
  ),
  rules: [],
  outcomes: new Map(),
  bundle: { name: 't', revision: 't', digest: `sha256:${'0'.repeat(64)}` },
};

function session(agentId: string | undefined): Session {
  return {
    identity: { agentId, verified: false, scopes: [], claims: {} } as unknown as Identity,
    host: false,
    received: 0,
    state: { id: `s-${agentId}`, callCount: 0, tools: [], history: [] },
  };
}

function read(uri: string, serverVisible = true): ReadTarget {
  return { method: 'resources/read', server: 'docs', name: uri, params: { uri }, serverVisible };
}

async function govern(agentId: string | undefined, target: ReadTarget, defaultMode: Mode = 'enforce') {
  const sink = memorySink();
  let forwarded = false;
  const env = { policy, evidence: sink, pep: { id: 't', kind: 'gateway' as const, version: '0' } };
  const outcome = await governRead(
    { ...env, defaultMode, log: silentLogger, now: 0 },
    session(agentId),
    target,
    async () => {
      forwarded = true;
      return { contents: [] };
    },
  ).then(
    () => 'answered',
    (err: Error) => err.message,
  );
  return { outcome, forwarded, records: sink.records };
}

describe('governing resources/read and prompts/get', () => {
  it('allows a read no resource entry matches to an agent that may use the server, recording decision then action', async () => {
    const { outcome, forwarded, records } = await govern('intern', read('file:///public/a.txt'));
    expect(outcome).toBe('answered');
    expect(forwarded).toBe(true);
    expect(records.map((r) => r.kind)).toEqual(['decision', 'action']);
    expect(records[0]!.request).toMatchObject({
      method: 'resources/read',
      server: 'docs',
      tool: 'file:///public/a.txt',
    });
    expect(records[0]!.decision?.effect).toBe('allow');
    expect(records[1]!.action).toMatchObject({
      decision_id: records[0]!.id,
      server: 'docs',
      forwarded: true,
    });
  });

  it("refuses a matching entry's data class the agent is not cleared for, naming the reason and decision", async () => {
    const { outcome, forwarded, records } = await govern('intern', read('file:///finance/q3.xlsx'));
    expect(outcome).toMatch(/denied \(resource_not_cleared\).*finance; decision /);
    expect(forwarded).toBe(false);
    expect(records.map((r) => [r.kind, r.decision?.effect, r.decision?.reasons[0]])).toEqual([
      ['decision', 'deny', 'resource_not_cleared'],
    ]);
  });

  it('allows the same read to an agent cleared for the class', async () => {
    const { outcome, records } = await govern('analyst', read('file:///finance/q3.xlsx'));
    expect(outcome).toBe('answered');
    expect(records[0]!.decision?.effect).toBe('allow');
  });

  it("only observes a deny where the entry's mode is observe", async () => {
    const { outcome, forwarded, records } = await govern('intern', read('file:///hr/salaries.csv'));
    expect(outcome).toBe('answered');
    expect(forwarded).toBe(true);
    expect(records[0]!.decision).toMatchObject({ effect: 'deny', enforced: false, mode: 'observe' });
  });

  it('answers a server the agent may not use as not found, whatever the mode, and records why', async () => {
    const { outcome, forwarded, records } = await govern(
      'analyst',
      read('file:///public/a.txt', false),
      'observe',
    );
    expect(outcome).toMatch(/Resource file:\/\/\/public\/a.txt not found/);
    expect(forwarded).toBe(false);
    expect(records[0]!.decision?.reasons[0]).toBe('resource_not_visible');
  });

  it('refuses a caller that maps to no registered agent', async () => {
    const prompt: ReadTarget = {
      method: 'prompts/get',
      server: 'docs',
      name: 'docs__summary',
      params: { name: 'docs__summary' },
      serverVisible: true,
    };
    const { outcome, records } = await govern('nobody', prompt);
    expect(outcome).toMatch(/unknown_agent/);
    expect(records[0]!.request).toMatchObject({ method: 'prompts/get', tool: 'docs__summary' });
  });
});
