import { describe, expect, it } from 'vitest';
import type { Decision } from '../../../src/core/decision.js';
import { PepMetrics, UNKNOWN } from '../../../src/metrics/pep-metrics.js';
import { OTHER } from '../../../src/metrics/slots.js';
import { pendingRequest, verdict } from '../../helpers/approvals.js';
import { parseExposition, sampleValue, samplesOf } from '../../helpers/prometheus-text.js';

const decision = (fields: Partial<Decision> = {}): Decision => ({
  id: 'd',
  effect: 'allow',
  mode: 'enforce',
  enforced: true,
  reasons: [],
  message: '',
  rules: [],
  stages: [],
  reservations: [],
  ...fields,
});

async function scrape(metrics: PepMetrics) {
  return parseExposition((await metrics.exposition()).body);
}

describe('PepMetrics', () => {
  it('keeps a registry of its own per instance', async () => {
    const a = new PepMetrics();
    const b = new PepMetrics();
    a.decided({ name: 'fs__read', server: 'fs' }, decision());
    const labels = { server: 'fs', tool: 'fs__read', effect: 'allow', mode: 'enforce', enforced: 'true' };
    expect(sampleValue(await scrape(a), 'mcpgov_tool_calls_total', labels)).toBe(1);
    expect(sampleValue(await scrape(b), 'mcpgov_tool_calls_total', labels)).toBeUndefined();
  });

  it('folds tools past the cap into tool="other", and a tool named other into the same series', async () => {
    const metrics = new PepMetrics({ toolLabels: 2 });
    for (const name of ['a', 'b', 'c', 'd', OTHER]) metrics.decided({ name, server: 's' }, decision());
    metrics.decided({ name: 'a', server: 's' }, decision());
    const families = await scrape(metrics);
    const tools = samplesOf(families, 'mcpgov_tool_calls_total').map((s) => [s.labels['tool'], s.value]);
    expect(tools.sort()).toEqual([
      ['a', 2],
      ['b', 1],
      [OTHER, 3],
    ]);
  });

  it('counts a call to a tool no server offers as server and tool "unknown"', async () => {
    const metrics = new PepMetrics();
    metrics.decided(undefined, decision({ effect: 'deny', reasons: ['unknown_tool'] }), 12);
    const families = await scrape(metrics);
    expect(
      sampleValue(families, 'mcpgov_tool_calls_total', {
        server: UNKNOWN,
        tool: UNKNOWN,
        effect: 'deny',
        mode: 'enforce',
        enforced: 'true',
      }),
    ).toBe(1);
    expect(sampleValue(families, 'mcpgov_deny_reasons_total', { reason: 'unknown_tool' })).toBe(1);
    expect(sampleValue(families, 'mcpgov_decision_duration_seconds_count')).toBe(1);
    expect(sampleValue(families, 'mcpgov_decision_duration_seconds_sum')).toBeCloseTo(12e-6);
  });

  it('counts semantic verdicts by verifier, a failed check as failed, and times only checks that ran', async () => {
    const metrics = new PepMetrics();
    const semantic = {
      verdict: 'escalate' as const,
      confidence: 1,
      signals: [],
      rationale: '',
      verifier: 'heuristic',
    };
    metrics.decided(undefined, decision({ semantic: { ...semantic, latency_ms: 2, cache_hit: false } }));
    metrics.decided(undefined, decision({ semantic: { ...semantic, latency_ms: 0, cache_hit: true } }));
    metrics.decided(
      undefined,
      decision({ semantic: { ...semantic, latency_ms: 9, cache_hit: false, error: 'x' } }),
    );
    const families = await scrape(metrics);
    const verdicts = (v: string) =>
      sampleValue(families, 'mcpgov_semantic_verdicts_total', { verifier: 'heuristic', verdict: v });
    expect([verdicts('escalate'), verdicts('failed')]).toEqual([2, 1]);
    expect(sampleValue(families, 'mcpgov_semantic_duration_seconds_count', { verifier: 'heuristic' })).toBe(
      2,
    );
  });

  it('counts verdicts with their time to decision, and requests that lapsed', async () => {
    const metrics = new PepMetrics();
    const created = Date.UTC(2026, 0, 1);
    const request = pendingRequest({}, created);
    metrics.approvalSettled(
      { ...request, state: 'approved', verdict: verdict('approve', created + 90_000) },
      'decided',
    );
    metrics.approvalSettled({ ...request, state: 'expired' }, 'expired');
    const families = await scrape(metrics);
    expect(sampleValue(families, 'mcpgov_approvals_decided_total', { verdict: 'approve' })).toBe(1);
    expect(sampleValue(families, 'mcpgov_approvals_lapsed_total', { state: 'expired' })).toBe(1);
    expect(
      sampleValue(families, 'mcpgov_approvals_time_to_decision_seconds_sum', { verdict: 'approve' }),
    ).toBe(90);
  });

  it('reads gauges from live state at scrape time', async () => {
    const metrics = new PepMetrics();
    let sessions = 3;
    metrics.watch({
      sessions: () => sessions,
      pendingApprovals: async () => 2,
      evidence: { lastCheckpointAt: Date.now() - 5000, covered: 10, count: 14 },
    });
    let families = await scrape(metrics);
    expect(sampleValue(families, 'mcpgov_sessions_open')).toBe(3);
    expect(sampleValue(families, 'mcpgov_approvals_pending')).toBe(2);
    expect(sampleValue(families, 'mcpgov_evidence_uncovered_records')).toBe(4);
    expect(sampleValue(families, 'mcpgov_evidence_checkpoint_age_seconds')).toBeGreaterThanOrEqual(5);
    sessions = 1;
    families = await scrape(metrics);
    expect(sampleValue(families, 'mcpgov_sessions_open')).toBe(1);
  });

  it('names only the bundle in force, and counts drift and policy records by cause and event', async () => {
    const metrics = new PepMetrics();
    metrics.policyActive({ name: 'demo', revision: 'r1', digest: `sha256:${'a'.repeat(64)}` });
    metrics.policyActive({ name: 'demo', revision: 'r2', digest: `sha256:${'b'.repeat(64)}` });
    const record = { kind: 'drift', drift: { cause: 'definition_changed' } };
    metrics.evidence.written(record as never);
    metrics.evidence.written({ kind: 'policy', policy_event: { event: 'refused' } } as never);
    const families = await scrape(metrics);
    expect(samplesOf(families, 'mcpgov_policy_bundle_info').map((s) => s.labels['revision'])).toEqual(['r2']);
    expect(sampleValue(families, 'mcpgov_drift_events_total', { cause: 'definition_changed' })).toBe(1);
    expect(sampleValue(families, 'mcpgov_policy_events_total', { event: 'refused' })).toBe(1);
    expect(sampleValue(families, 'mcpgov_evidence_records_total', { kind: 'drift' })).toBe(1);
  });

  it('tracks a downstream server up and down, counting restarts', async () => {
    const metrics = new PepMetrics();
    metrics.downstreamState('fs', true);
    metrics.downstreamState('fs', false);
    metrics.downstreamState('fs', false, true);
    let families = await scrape(metrics);
    expect(sampleValue(families, 'mcpgov_downstream_up', { server: 'fs' })).toBe(0);
    expect(sampleValue(families, 'mcpgov_downstream_restarts_total', { server: 'fs' })).toBe(1);
    metrics.downstreamState('fs', true);
    families = await scrape(metrics);
    expect(sampleValue(families, 'mcpgov_downstream_up', { server: 'fs' })).toBe(1);
  });
});
