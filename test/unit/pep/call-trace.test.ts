import { describe, expect, it } from 'vitest';
import { AgentsFileSchema, ToolsFileSchema } from '../../../src/config/schema.js';
import type { LiveTool } from '../../../src/core/live-tool.js';
import { Enforcer } from '../../../src/pep/enforcer.js';
import type { TraceMeta } from '../../../src/pep/call-trace.js';
import type { PolicySet } from '../../../src/policy/policy-set.js';
import { AgentRegistry, ToolRegistry } from '../../../src/registry/registries.js';
import { memorySink } from '../../helpers/memory-sink.js';

/*
 * No OpenTelemetry SDK is registered in this test process, as in a deployment that sets no OTEL_*
 * variable: the spans are the API's no-ops, and nothing of tracing reaches evidence or the server.
 */

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
  name: 'notes__read',
  server: 'notes',
  tool: 'read',
  definition: { name: 'read', annotations: { readOnlyHint: true } },
  digest: `sha256:${'b'.repeat(64)}`,
};

describe('tracing without an SDK', () => {
  it('hands the server no trace members and records no trace id, even for a caller that traces', async () => {
    const sink = memorySink();
    const enforcer = new Enforcer({
      policy,
      evidence: sink,
      pep: { id: 'test', kind: 'gateway', version: '0' },
      defaultMode: 'enforce',
      log: () => {},
    });
    const session = await enforcer.openSession({ verified: false, claims: {}, agentId: 'a' }, 's1');
    const handed: TraceMeta[] = [];
    const result = await enforcer.call(
      session,
      'notes__read',
      {},
      live,
      async (trace) => {
        handed.push(trace);
        return { content: [{ type: 'text', text: 'ok' }] };
      },
      { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    );
    expect(result.isError).toBeUndefined();
    // The gateway and the sidecar then forward the caller's own `_meta` unchanged.
    expect(handed).toEqual([{}]);
    const decision = sink.records.find((r) => r.kind === 'decision');
    expect(decision?.decision).toBeDefined();
    expect(decision?.decision?.trace_id).toBeUndefined();
    expect(decision?.request?.tool_hints).toEqual({ read_only: true });
  });
});
