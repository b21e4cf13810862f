import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../../src/config/schema.js';
import { memorySink } from '../../helpers/memory-sink.js';
import { PolicyControlPlane } from '../../../src/control/control-plane.js';
import { DriftMonitor } from '../../../src/control/drift.js';
import type { PointerPayload } from '../../../src/policy/bundle/schema.js';
import type { PepPolicyStatus } from '../../../src/policy/runtime/status.js';
import { silentLogger } from '../../../src/util/log.js';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const T0 = Date.UTC(2026, 0, 5, 12);

const pointer = (digest: string, channelSeq = 1): PointerPayload => ({
  approved_by: ['ciso', 'grc'],
  bundle_digest: digest,
  channel: 'prod',
  channel_seq: channelSeq,
  exp: T0 / 1000 + 86400,
  iat: T0 / 1000,
  name: 'demo',
  revision: 'r',
  scope: 'demo',
  seq: channelSeq,
  v: 'mcpgov.channel/v1',
});

const status = (id: string, digest: string | null): PepPolicyStatus => ({
  pep: { id, kind: 'sidecar', version: '0' },
  policy: {
    name: 'demo',
    channel: 'prod',
    source: 'http://gateway/policy/registry',
    active: digest
      ? {
          name: 'demo',
          revision: 'r',
          digest,
          seq: 1,
          channel_seq: 1,
          activated_at: new Date(T0).toISOString(),
          from: 'source',
        }
      : null,
    last_check: new Date(T0).toISOString(),
    last_error: null,
  },
});

describe('drift detection', () => {
  const settings = { graceMs: 30_000, staleMs: 90_000 };

  it('tolerates a PEP on another digest for the grace period, then records drift once', () => {
    const monitor = new DriftMonitor(settings, T0, ['pep-1']);
    monitor.report(status('pep-1', B), T0);
    expect(monitor.evaluate(pointer(A), T0)).toEqual([]);
    expect(monitor.view(pointer(A))[0]?.state).toBe('pending');
    expect(monitor.evaluate(pointer(A), T0 + 30_000)).toEqual([]);
    monitor.report(status('pep-1', B), T0 + 30_001);
    expect(monitor.evaluate(pointer(A), T0 + 30_001)).toEqual([
      {
        pep: 'pep-1',
        cause: 'digest_mismatch',
        channel: 'prod',
        expected_digest: A,
        active_digest: B,
        since: new Date(T0).toISOString(),
        last_report: new Date(T0 + 30_001).toISOString(),
      },
    ]);
    expect(monitor.evaluate(pointer(A), T0 + 40_000)).toEqual([]);
    expect(monitor.view(pointer(A))[0]).toMatchObject({
      state: 'drift',
      drift: { cause: 'digest_mismatch' },
    });
  });

  it('clears the episode when the PEP catches up, and starts the grace period again on a new publish', () => {
    const monitor = new DriftMonitor(settings, T0, ['pep-1']);
    monitor.report(status('pep-1', B), T0);
    monitor.evaluate(pointer(A), T0);
    expect(monitor.evaluate(pointer(A), T0 + 31_000)).toHaveLength(1);
    monitor.report(status('pep-1', A), T0 + 32_000);
    expect(monitor.evaluate(pointer(A), T0 + 32_000)).toEqual([]);
    expect(monitor.view(pointer(A))[0]?.state).toBe('in_sync');
    // A new approved digest: every PEP is behind until it polls, which is not drift yet.
    expect(monitor.evaluate(pointer(B, 2), T0 + 40_000)).toEqual([]);
    expect(monitor.evaluate(pointer(B, 2), T0 + 70_000)).toEqual([]);
    expect(monitor.evaluate(pointer(B, 2), T0 + 70_001)).toMatchObject([
      { cause: 'digest_mismatch', since: new Date(T0 + 40_000).toISOString() },
    ]);
  });

  it('records a PEP that stops reporting, and one that never reported', () => {
    const monitor = new DriftMonitor(settings, T0, ['pep-1', 'pep-2']);
    monitor.report(status('pep-1', A), T0 + 10_000);
    expect(monitor.evaluate(pointer(A), T0 + 90_000)).toEqual([]);
    const found = monitor.evaluate(pointer(A), T0 + 100_001);
    expect(found.map((d) => [d.pep, d.cause, d.since])).toEqual([
      ['pep-1', 'not_reporting', new Date(T0 + 10_000).toISOString()],
      ['pep-2', 'not_reporting', new Date(T0).toISOString()],
    ]);
    expect(monitor.evaluate(pointer(A), T0 + 200_000)).toEqual([]);
    expect(monitor.view(pointer(A)).map((v) => v.state)).toEqual(['drift', 'drift']);
  });

  it('records a drifted PEP that then goes silent as a new episode', () => {
    const monitor = new DriftMonitor(settings, T0, ['pep-1']);
    monitor.report(status('pep-1', B), T0);
    monitor.evaluate(pointer(A), T0);
    expect(monitor.evaluate(pointer(A), T0 + 31_000).map((d) => d.cause)).toEqual(['digest_mismatch']);
    expect(monitor.evaluate(pointer(A), T0 + 91_000).map((d) => d.cause)).toEqual(['not_reporting']);
    expect(monitor.evaluate(pointer(A), T0 + 95_000)).toEqual([]);
  });

  it('without an approved pointer, only silence is drift', () => {
    const monitor = new DriftMonitor(settings, T0, ['pep-1']);
    monitor.report(status('pep-1', B), T0);
    expect(monitor.evaluate(undefined, T0 + 60_000)).toEqual([]);
    expect(monitor.view(undefined)[0]?.state).toBe('unknown');
  });
});

describe('status reports to the control plane', () => {
  const token = 'sidecar-1-token';
  const evidence = memorySink();
  const { records } = evidence;
  let now = T0;
  const policy = ConfigSchema.parse({
    policies: {
      channel: 'prod',
      reporters: {
        'sidecar-1': { token_sha256: `sha256:${createHash('sha256').update(token).digest('hex')}` },
      },
      drift: { grace_seconds: 10, stale_seconds: 60 },
    },
  }).policies;
  const control = new PolicyControlPlane({
    policy,
    self: { id: 'gateway-1', kind: 'gateway', version: '0' },
    approved: () => pointer(A),
    evidence,
    log: silentLogger,
    clock: () => now,
  });

  it('refuses an unknown PEP, a wrong token and a malformed report, and accepts a known one', async () => {
    expect(await control.receive(status('stranger', A), token)).toEqual({
      ok: false,
      status: 403,
      message: 'unknown enforcement point "stranger"',
    });
    expect(await control.receive(status('gateway-1', A), token)).toMatchObject({ ok: false, status: 403 });
    expect(await control.receive(status('sidecar-1', A), 'guess')).toEqual({
      ok: false,
      status: 401,
      message: 'bad or missing bearer token for "sidecar-1"',
    });
    expect(await control.receive({ pep: { id: 'sidecar-1' } }, token)).toMatchObject({
      ok: false,
      status: 400,
    });
    expect(await control.receive(status('sidecar-1', A), token)).toEqual({ ok: true });
    expect(control.tokenKnown(token)).toBe(true);
    expect(control.tokenKnown('guess')).toBe(false);
  });

  it('records drift as evidence when a reporting PEP runs an unapproved digest past the grace period', async () => {
    await control.reportSelf(status('gateway-1', A));
    await control.receive(status('sidecar-1', B), token);
    now += 10_001;
    await control.receive(status('sidecar-1', B), token);
    await control.reportSelf(status('gateway-1', A));
    expect(
      records.map((r) => [r.kind, r.chain, r.drift?.pep, r.drift?.cause, r.drift?.active_digest]),
    ).toEqual([['drift', 'policy', 'sidecar-1', 'digest_mismatch', B]]);
    const view = control.view();
    expect(view.approved?.bundle_digest).toBe(A);
    expect(view.peps.map((p) => [p.id, p.state])).toEqual([
      ['gateway-1', 'in_sync'],
      ['sidecar-1', 'drift'],
    ]);
  });
});
