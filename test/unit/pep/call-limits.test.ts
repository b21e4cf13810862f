import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it, vi } from 'vitest';
import { AgentsFileSchema, ToolsFileSchema } from '../../../src/config/schema.js';
import type { LiveTool } from '../../../src/core/live-tool.js';
import { digestAnyDepth } from '../../../src/evidence/json-limits.js';
import { sealRecord } from '../../../src/evidence/canonical-record.js';
import { DEFAULT_CALL_LIMITS, type CallLimits } from '../../../src/pep/call-limits.js';
import { Enforcer, INTENT_META_KEY } from '../../../src/pep/enforcer.js';
import type { PolicySet } from '../../../src/policy/policy-set.js';
import { AgentRegistry, ToolRegistry } from '../../../src/registry/registries.js';
import { memorySink } from '../../helpers/memory-sink.js';

const policy: PolicySet = {
  tools: new ToolRegistry(
    ToolsFileSchema.parse({
      tools: [{ name: 'notes__*', owner: 'x', risk_tier: 'low' }],
      groups: { all: ['notes__*'] },
    }),
  ),
  agents: new AgentRegistry(
    AgentsFileSchema.parse({ agents: [{ id: 'a', owner: 'x', tool_groups: ['all'] }] }),
  ),
  rules: [],
  outcomes: new Map(),
  bundle: { name: 't', revision: 't', digest: `sha256:${'0'.repeat(64)}` },
};

const live: LiveTool = {
  name: 'notes__write',
  server: 'notes',
  tool: 'write',
  definition: { name: 'write' },
  digest: `sha256:${'b'.repeat(64)}`,
};

/** An enforcer in observe mode whose sink hashes every record as the evidence log does. */
function setup(limits: Partial<CallLimits> = {}) {
  const sink = memorySink();
  const append = sink.append;
  sink.append = (body, opts) => {
    sealRecord(body); // throws for a record with no RFC 8785 form, as the real log does
    return append(body, opts);
  };
  const enforcer = new Enforcer({
    policy,
    evidence: sink,
    pep: { id: 'test', kind: 'gateway', version: '0' },
    defaultMode: 'observe',
    log: () => {},
    limits: { ...DEFAULT_CALL_LIMITS, ...limits },
  });
  const open = (id: string) => enforcer.openSession({ verified: false, claims: {}, agentId: 'a' }, id);
  return { sink, enforcer, open };
}

const ok = async (): Promise<CallToolResult> => ({ content: [{ type: 'text', text: 'ok' }] });
const text = (result: CallToolResult) => (result.content[0] as { text: string }).text;

/** A forward that stays in flight until released. */
function held() {
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  return { release, forward: () => done.then(ok) };
}

const nested = (depth: number): Record<string, unknown> => {
  let value: Record<string, unknown> = { leaf: true };
  for (let i = 1; i < depth; i++) value = { a: value };
  return value;
};

describe('call limits', () => {
  it('denies and records arguments nested deeper than the limit, in observe mode too', async () => {
    const { sink, enforcer, open } = setup({ argumentDepth: 64 });
    const session = await open('s1');
    let forwarded = 0;
    const forward = () => ((forwarded += 1), ok());
    for (const depth of [600, 100_000]) {
      const args = nested(depth);
      const result = await enforcer.call(session, 'notes__write', args, live, forward);
      expect(result.isError).toBe(true);
      expect(text(result)).toMatch(/nest deeper than 64 levels .*reason: arguments_too_deep/);
      const record = sink.records.at(-1);
      const { digest, bytes } = digestAnyDepth(args);
      expect(record).toMatchObject({
        kind: 'decision',
        decision: { effect: 'deny', enforced: true, mode: 'enforce', reasons: ['arguments_too_deep'] },
        request: { tool: 'notes__write', args_digest: digest, args: `[digest ${digest} ${bytes} bytes]` },
      });
      expect(record?.request?.masked).toEqual(['']);
    }
    // Exactly at the limit is fine.
    expect((await enforcer.call(session, 'notes__write', nested(64), live, forward)).isError).toBeUndefined();
    expect(forwarded).toBe(1);
    expect(session.state.callCount).toBe(3);
  });

  it('denies and records arguments over the byte limit and strings that are not well-formed Unicode', async () => {
    const { sink, enforcer, open } = setup({ argumentBytes: 100 });
    const session = await open('s1');
    const big = await enforcer.call(session, 'notes__write', { text: 'x'.repeat(100) }, live, ok);
    expect(text(big)).toMatch(/reason: arguments_too_large/);
    const lone = JSON.parse('{"text":"\\ud800"}') as Record<string, unknown>;
    const malformed = await enforcer.call(session, 'notes__write', lone, live, ok);
    expect(text(malformed)).toMatch(/reason: arguments_malformed/);
    expect(sink.records.filter((r) => r.kind === 'decision').map((r) => r.decision?.reasons)).toEqual([
      ['arguments_too_large'],
      ['arguments_malformed'],
    ]);
    expect(sink.records.some((r) => r.kind === 'action')).toBe(false);
  });

  it('refuses a result over the limit with a tool error, and the action record says why', async () => {
    const { sink, enforcer, open } = setup({ resultBytes: 64 });
    const session = await open('s1');
    const big = async (): Promise<CallToolResult> => ({ content: [{ type: 'text', text: 'y'.repeat(100) }] });
    const result = await enforcer.call(session, 'notes__write', {}, live, big);
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/over the 64-byte limit .*reason: result_too_large/);
    await new Promise((r) => setImmediate(r)); // the action record is not awaited by the call
    const action = sink.records.find((r) => r.kind === 'action');
    expect(action?.action).toMatchObject({
      forwarded: true,
      is_error: true,
      error: { code: 'result_too_large' },
    });
    expect(action?.action?.result_bytes).toBeGreaterThan(64);
  });

  it('refuses a call past the per-session limit with a JSON-RPC error, recording nothing', async () => {
    const { sink, enforcer, open } = setup({ callsPerSession: 2 });
    const session = await open('s1');
    const first = held();
    const second = held();
    const calls = [
      enforcer.call(session, 'notes__write', {}, live, first.forward),
      enforcer.call(session, 'notes__write', {}, live, second.forward),
    ];
    // Both are decided and waiting on their forwards.
    await vi.waitFor(() => expect(sink.records.filter((r) => r.kind === 'decision')).toHaveLength(2));
    const records = sink.records.length;
    await expect(enforcer.call(session, 'notes__write', {}, live, ok)).rejects.toMatchObject({
      code: -32029,
      data: { reason: 'too_many_calls', scope: 'session', limit: 2 },
    });
    expect(sink.records.length).toBe(records);
    expect(session.state.callCount).toBe(2);
    // Another session of the same agent is not held back by this one's limit.
    const other = await open('s2');
    expect((await enforcer.call(other, 'notes__write', {}, live, ok)).isError).toBeUndefined();
    first.release();
    await calls[0];
    expect((await enforcer.call(session, 'notes__write', {}, live, ok)).isError).toBeUndefined();
    second.release();
    await calls[1];
  });

  it("refuses a call past the agent's limit over all its sessions", async () => {
    const { enforcer, open } = setup({ callsPerAgent: 1 });
    const one = await open('s1');
    const two = await open('s2');
    const first = held();
    const call = enforcer.call(one, 'notes__write', {}, live, first.forward);
    await expect(enforcer.call(two, 'notes__write', {}, live, ok)).rejects.toMatchObject({
      code: -32029,
      data: { scope: 'agent', limit: 1 },
    });
    first.release();
    await call;
    expect((await enforcer.call(two, 'notes__write', {}, live, ok)).isError).toBeUndefined();
  });

  it('keeps an intent cut through a surrogate pair recordable, so later calls are still recorded', async () => {
    const { sink, enforcer, open } = setup();
    const session = await open('s1');
    const intent = `${'a'.repeat(1999)}😀`; // the 2000-character cut falls inside the emoji
    const result = await enforcer.call(session, 'notes__write', {}, live, ok, { [INTENT_META_KEY]: intent });
    expect(result.isError).toBeUndefined();
    expect(await enforcer.call(session, 'notes__write', {}, live, ok)).toMatchObject({
      content: [{ text: 'ok' }],
    });
    expect(sink.records.filter((r) => r.kind === 'decision')).toHaveLength(2);
  });
});
