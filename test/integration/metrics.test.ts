import { randomUUID } from 'node:crypto';
import { mkdtemp, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OTHER } from '../../src/metrics/slots.js';
import { UNKNOWN } from '../../src/metrics/pep-metrics.js';
import { waitFor } from '../helpers/approvals.js';
import { APPROVER_ISSUER, approverKeys, type ApproverKeys } from '../helpers/approver-tokens.js';
import { REFERENCE_SERVERS } from '../helpers/fixture.js';
import { callTool, runGateway, textOf, type RunningGateway } from '../helpers/gateway-harness.js';
import { parseExposition, sampleValue, samplesOf, type Family } from '../helpers/prometheus-text.js';

/**
 * The gateway's `/metrics` on its admin listener, scraped before and after real calls through the
 * SDK client to real reference servers: every counter moves by exactly what the calls did.
 */
let gw: RunningGateway;
let keys: ApproverKeys;
let client: Client;
let admin: string;
let root: string;
let flakyRoot: string;

/** Scrapes `/metrics` and parses it strictly as the Prometheus text format. */
async function scrape(): Promise<{ text: string; families: Map<string, Family> }> {
  const res = await fetch(`${admin}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  const text = await res.text();
  return { text, families: parseExposition(text) };
}

/** A sample's value, 0 when the series does not exist yet (a counter that never moved). */
function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  return sampleValue(families, name, labels) ?? 0;
}

/** The labels of one tool's calls counter. */
function calls(server: string, tool: string, effect: string, mode: string, enforced: boolean) {
  return { server, tool, effect, mode, enforced: String(enforced) };
}

/** What each counter moved by between two scrapes. */
function delta(
  before: Map<string, Family>,
  after: Map<string, Family>,
): (name: string, labels?: Record<string, string>) => number {
  return (name, labels = {}) => value(after, name, labels) - value(before, name, labels);
}

beforeAll(async () => {
  keys = await approverKeys();
  root = await mkdtemp(path.join(tmpdir(), 'mcpgov-metrics-root-'));
  flakyRoot = await mkdtemp(path.join(tmpdir(), 'mcpgov-metrics-flaky-'));
  const rule = (id: string, tool: string, effect: string, reason: string, mode?: string) => ({
    id,
    description: `${tool}: ${reason}`,
    when: { '===': [{ var: 'call.name' }, tool] },
    effect,
    reason,
    ...(mode === undefined ? {} : { mode }),
  });
  gw = await runGateway({
    config: {
      mode: 'enforce',
      identity: { default_agent: 'dev' },
      servers: {
        everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] },
        fs: { command: 'node', args: [REFERENCE_SERVERS.filesystem, root], roots: [root] },
        // Started on a folder that a test takes away, so its restarts fail until it is back.
        flaky: { command: 'node', args: [REFERENCE_SERVERS.filesystem, flakyRoot] },
      },
      admin: { http: '127.0.0.1:0' },
      approvals: {
        jwks: keys.jwks,
        issuer: APPROVER_ISSUER,
        approvers: [{ sub: 'alice', teams: ['security'] }],
        step_up: { amr: ['mfa'], max_auth_age_seconds: 300 },
      },
    },
    tools: {
      tools: [
        { name: 'fs__move_file', owner: 'storage', risk_tier: 'low' },
        { name: '*', owner: 'platform', risk_tier: 'low' },
      ],
      groups: { all: ['*'] },
    },
    agents: { agents: [{ id: 'dev', owner: 'dev-team', tool_groups: ['all'] }] },
    rules: [
      rule('no-sums', 'everything__get-sum', 'deny', 'sums_forbidden'),
      rule('env-watched', 'everything__get-env', 'deny', 'env_watched', 'observe'),
      rule('move-needs-approval', 'fs__move_file', 'escalate', 'move_needs_approval'),
    ],
  });
  admin = gw.gateway.adminUrl ?? '';
  client = await gw.client();
});

afterAll(async () => {
  await gw?.close();
});

describe('/metrics on the admin listener', () => {
  it('counts allowed, denied and observed-deny calls exactly, and times them', async () => {
    const { families: before } = await scrape();
    for (const message of ['one', 'two']) {
      const echoed = await callTool(client, 'everything__echo', { message });
      expect(textOf(echoed)).toContain(message);
    }
    const denied = await callTool(client, 'everything__get-sum', { a: 1, b: 2 });
    expect(textOf(denied)).toContain('sums_forbidden');
    const observed = await callTool(client, 'everything__get-env', {});
    expect(observed.isError).not.toBe(true);

    // Action records are written after the answer: wait for all three (the echoes and the
    // observed call went downstream; the enforced deny did not).
    const action = { kind: 'action' };
    const first = await waitFor('three action records', async () => {
      const { families } = await scrape();
      return value(families, 'mcpgov_evidence_records_total', action) -
        value(before, 'mcpgov_evidence_records_total', action) >=
        3
        ? families
        : undefined;
    });
    const moved = delta(before, first);
    expect(
      moved('mcpgov_tool_calls_total', calls('everything', 'everything__echo', 'allow', 'enforce', true)),
    ).toBe(2);
    expect(
      moved('mcpgov_tool_calls_total', calls('everything', 'everything__get-sum', 'deny', 'enforce', true)),
    ).toBe(1);
    expect(
      moved('mcpgov_tool_calls_total', calls('everything', 'everything__get-env', 'deny', 'observe', false)),
    ).toBe(1);
    expect(moved('mcpgov_deny_reasons_total', { reason: 'sums_forbidden' })).toBe(1);
    expect(moved('mcpgov_deny_reasons_total', { reason: 'env_watched' })).toBe(1);
    expect(moved('mcpgov_decision_duration_seconds_count')).toBe(4);
    expect(moved('mcpgov_call_duration_seconds_count')).toBe(4);
    expect(moved('mcpgov_evidence_records_total', { kind: 'decision' })).toBe(4);
    expect(moved('mcpgov_evidence_records_total', action)).toBe(3);
    expect(moved('mcpgov_evidence_append_duration_seconds_count')).toBeGreaterThanOrEqual(7);
    expect(moved('mcpgov_evidence_fdatasync_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(value(first, 'mcpgov_evidence_append_failures_total')).toBe(0);
    expect(value(first, 'mcpgov_sessions_open')).toBe(1);

    // Once scraped, the numbers stay put: nothing else moved them.
    const { families: again } = await scrape();
    expect(
      delta(first, again)(
        'mcpgov_tool_calls_total',
        calls('everything', 'everything__echo', 'allow', 'enforce', true),
      ),
    ).toBe(0);
  });

  it('counts an approval request pending, then decided, with its time to decision', async () => {
    const { families: before } = await scrape();
    const source = path.join(root, `a-${randomUUID()}.txt`);
    await writeFile(source, 'move me\n');
    const args = { source, destination: `${source}.moved` };
    const held = await callTool(client, 'fs__move_file', args);
    const request = (held._meta?.['mcpgov/decision'] as { request?: string } | undefined)?.request;
    expect(request, textOf(held)).toBeDefined();

    const { families: pending } = await scrape();
    expect(value(pending, 'mcpgov_approvals_pending')).toBe(value(before, 'mcpgov_approvals_pending') + 1);
    expect(
      delta(before, pending)(
        'mcpgov_tool_calls_total',
        calls('fs', 'fs__move_file', 'escalate', 'enforce', true),
      ),
    ).toBe(1);

    const approved = await fetch(`${admin}/api/approvals/${request}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await keys.sign()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'ok' }),
    });
    expect(approved.status, await approved.clone().text()).toBe(200);
    const retried = await callTool(client, 'fs__move_file', args);
    expect(retried.isError, textOf(retried)).not.toBe(true);

    const { families: after } = await scrape();
    const moved = delta(before, after);
    expect(value(after, 'mcpgov_approvals_pending')).toBe(value(before, 'mcpgov_approvals_pending'));
    expect(moved('mcpgov_approvals_decided_total', { verdict: 'approve' })).toBe(1);
    expect(moved('mcpgov_approvals_decided_total', { verdict: 'deny' })).toBe(0);
    expect(moved('mcpgov_approvals_time_to_decision_seconds_count', { verdict: 'approve' })).toBe(1);
    expect(moved('mcpgov_tool_calls_total', calls('fs', 'fs__move_file', 'allow', 'enforce', true))).toBe(1);
    expect(moved('mcpgov_evidence_records_total', { kind: 'approval' })).toBeGreaterThanOrEqual(3);
  });

  it('shows a killed downstream server down until its restart succeeds, then up, with the restart counted', async () => {
    const up = { server: 'flaky' };
    const { families: before } = await scrape();
    expect(value(before, 'mcpgov_downstream_up', up)).toBe(1);
    expect(value(before, 'mcpgov_downstream_up', { server: 'everything' })).toBe(1);
    const restarts = value(before, 'mcpgov_downstream_restarts_total', up);

    // Without its folder, server-filesystem exits at once: every restart fails until it is back.
    const away = `${flakyRoot}.away`;
    await rename(flakyRoot, away);
    const flaky = gw.gateway.downstreams.get('flaky')!;
    process.kill(flaky.pid!, 'SIGKILL');
    const down = await waitFor('flaky down and a restart tried', async () => {
      const { families } = await scrape();
      return value(families, 'mcpgov_downstream_up', up) === 0 &&
        value(families, 'mcpgov_downstream_restarts_total', up) > restarts
        ? families
        : undefined;
    });
    expect(value(down, 'mcpgov_downstream_up', { server: 'everything' })).toBe(1);

    await rename(away, flakyRoot);
    const back = await waitFor('flaky up again', async () => {
      const { families } = await scrape();
      return value(families, 'mcpgov_downstream_up', up) === 1 ? families : undefined;
    });
    expect(value(back, 'mcpgov_downstream_restarts_total', up)).toBeGreaterThan(restarts);
  });

  it('keeps labels bounded: no arguments, session ids or unknown tool names, only catalog tools', async () => {
    const { families: before } = await scrape();
    const marker = `marker-${randomUUID()}`;
    const names = Array.from({ length: 5 }, () => `nowhere__${randomUUID()}`);
    for (const name of names) await callTool(client, name, { secret: marker });
    await callTool(client, 'everything__echo', { message: marker });

    const { text, families: after } = await scrape();
    expect(
      delta(before, after)('mcpgov_tool_calls_total', calls(UNKNOWN, UNKNOWN, 'deny', 'enforce', true)),
    ).toBe(5);
    expect(delta(before, after)('mcpgov_deny_reasons_total', { reason: 'unknown_tool' })).toBe(5);
    expect(text).not.toContain(marker);
    for (const name of names) expect(text).not.toContain(name);
    const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId;
    expect(sessionId).toBeDefined();
    expect(text).not.toContain(sessionId!);

    const catalog = new Set(
      [...gw.gateway.downstreams.values()].flatMap((ds) => ds.tools.map((t) => `${ds.name}__${t.name}`)),
    );
    const servers = new Set([...gw.gateway.downstreams.keys(), UNKNOWN]);
    for (const sample of samplesOf(after, 'mcpgov_tool_calls_total')) {
      const tool = sample.labels['tool']!;
      expect(catalog.has(tool) || tool === UNKNOWN || tool === OTHER, tool).toBe(true);
      expect(servers.has(sample.labels['server']!)).toBe(true);
      expect(Object.keys(sample.labels).sort()).toEqual(['effect', 'enforced', 'mode', 'server', 'tool']);
    }
  });

  it('names the policy in force, and only it', async () => {
    const { families } = await scrape();
    const info = samplesOf(families, 'mcpgov_policy_bundle_info');
    expect(info).toHaveLength(1);
    expect(info[0]).toMatchObject({
      value: 1,
      labels: { name: 'sources', revision: 'unversioned', digest: gw.gateway.enforcer.policy.bundle.digest },
    });
  });

  it('parses as the Prometheus text format, every family named mcpgov_ and typed', async () => {
    const { families } = await scrape();
    expect(families.size).toBeGreaterThan(20);
    for (const family of families.values()) {
      expect(family.name).toMatch(/^mcpgov_[a-z_]+$/);
      expect(family.type).not.toBe('untyped');
      expect(family.help.length).toBeGreaterThan(0);
      if (family.type === 'counter') expect(family.name).toMatch(/_total$/);
    }
    expect(families.get('mcpgov_call_duration_seconds')?.type).toBe('histogram');
  });

  it('needs no approver token, and answers only GET and HEAD', async () => {
    expect((await fetch(`${admin}/metrics`, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(`${admin}/metrics`, { method: 'POST' })).status).toBe(405);
    // The MCP listener does not serve metrics.
    expect((await fetch(new URL('/metrics', gw.url))).status).toBe(404);
  });
});
