import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ApproverPrincipal } from '../../src/approvals/types.js';
import { readEvidence } from '../../src/evidence/jsonl-store.js';
import type { EvidenceRecord } from '../../src/evidence/types.js';
import type { PilotReport } from '../../src/metrics/report/report.js';
import { CLI, REFERENCE_SERVERS, REPO } from '../helpers/fixture.js';
import { callTool, runGateway, textOf, type RunningGateway } from '../helpers/gateway-harness.js';
import { HOSTILE_SERVER } from '../helpers/hostile-server.js';

const exec = promisify(execFile);

/**
 * A real gateway run with every kind of event the pilot report counts: allowed calls, denies enforced
 * and observed, escalations approved and denied (one held), a waiver used, a semantic check, a
 * changed tool definition (drift), and a call refused by the limit on calls in flight before any
 * decision (the coverage gap). Then `mcpgov report`, run as users run it, must give exactly those
 * counts, and its HTML must draw every chart in a real browser.
 */
const ALICE: ApproverPrincipal = {
  approver: { sub: 'alice', via: 'api' },
  teams: [],
  owners: ['*'],
  tiers: ['low', 'medium', 'high', 'critical'],
  localDev: true,
};

/** A tool name an attacker chose: it reaches the evidence (masked, not escaped) and then the report. */
const HOSTILE_NAME = '<img src=x onerror="window.pwned=1"></script><script>window.pwned=2</script>';

/** The browser globals the test reads (the project compiles without the DOM library). */
interface Page {
  document: { body: { dataset: Record<string, string | undefined> } };
  pwned?: number;
  Chart: { instances: Record<string, DrawnChart> };
}
interface DrawnChart {
  canvas: {
    id: string;
    width: number;
    height: number;
    getBoundingClientRect(): { width: number; height: number };
    getContext(kind: '2d'): {
      getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> };
    } | null;
  };
  data: { datasets: { data: (number | null)[] }[] };
  getDatasetMeta(i: number): { data: { x: number; y: number }[] };
}

async function report(...args: string[]): Promise<PilotReport> {
  const { stdout } = await exec(process.execPath, [CLI, 'report', ...args], {
    cwd: REPO,
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(stdout) as PilotReport;
}

async function terminate(gw: RunningGateway, client: Client): Promise<EvidenceRecord> {
  const chain = (client.transport as StreamableHTTPClientTransport).sessionId;
  await (client.transport as StreamableHTTPClientTransport).terminateSession();
  let closed: EvidenceRecord | undefined;
  await vi.waitFor(
    async () => {
      closed = (await gw.evidence()).find((r) => r.chain === chain && r.chain_event?.event === 'close');
      expect(closed).toBeDefined();
    },
    { timeout: 20_000, interval: 50 },
  );
  return closed!;
}

async function pendingRequest(gw: RunningGateway): Promise<string> {
  let id = '';
  await vi.waitFor(
    async () => {
      const pending = await gw.gateway.approvals.list({ state: 'pending' });
      expect(pending).toHaveLength(1);
      id = pending[0]!.id;
    },
    { timeout: 20_000, interval: 50 },
  );
  return id;
}

describe('mcpgov report', () => {
  let gw: RunningGateway;
  let configFile: string;
  let evidenceDir: string;
  let records: EvidenceRecord[];
  /** The first session's close record: a report until then has no coverage gap. */
  let firstClosed: EvidenceRecord;

  beforeAll(async () => {
    gw = await runGateway({
      config: {
        mode: 'enforce',
        identity: { default_agent: 'dev' },
        // One call in flight per session: a second one while a call is held gets -32029, undecided.
        limits: { max_concurrent_calls_per_session: 1 },
        // The semantic check must reach its verdict (with its signals) even on a loaded machine: this
        // test counts them, it does not time them.
        semantic: { timeout_ms: 60_000 },
        servers: {
          everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] },
          // Rewrites its `weather` tool after the gateway's first list: a definition_changed drift.
          hostile: { command: 'node', args: [HOSTILE_SERVER, '--rug-pull'] },
        },
      },
      tools: {
        tools: [
          { name: 'everything__*', owner: 'platform', risk_tier: 'low' },
          {
            name: 'hostile__echo',
            owner: 'platform',
            risk_tier: 'low',
            semantic: 'required',
            mode: 'observe',
          },
          { name: 'hostile__*', owner: 'platform', risk_tier: 'low' },
        ],
        groups: { all: ['everything__*', 'hostile__*'] },
      },
      agents: { agents: [{ id: 'dev', owner: 'platform', tool_groups: ['all'] }] },
      rules: [
        {
          id: 'no-secrets',
          description: 'no secrets in echo',
          when: { in: ['secret', { var: 'call.arguments.message' }] },
          effect: 'deny',
          reason: 'secret_in_echo',
        },
        {
          id: 'no-shouting',
          description: 'shouting is noted, not blocked',
          when: { in: ['LOUD', { var: 'call.arguments.message' }] },
          effect: 'deny',
          reason: 'shouting',
          mode: 'observe',
        },
        {
          id: 'large-sums',
          description: 'large sums need a person',
          when: {
            and: [
              { '>': [{ var: 'call.arguments.a' }, 1000] },
              { '<': [{ var: 'call.arguments.a' }, 100000] },
            ],
          },
          effect: 'escalate',
          reason: 'large_sum',
        },
        {
          id: 'bulk-paths',
          description: 'bulk paths are noted for review, not held',
          when: { in: ['/var/*', { var: 'call.arguments.text' }] },
          effect: 'escalate',
          reason: 'bulk_path',
          mode: 'observe',
        },
        {
          id: 'huge-sums',
          description: 'huge sums wait for a person',
          when: { '>=': [{ var: 'call.arguments.a' }, 100000] },
          effect: 'escalate',
          reason: 'huge_sum',
          approval: { mode: 'hold' },
        },
      ],
    });
    configFile = gw.fixture.configFile;
    evidenceDir = gw.fixture.evidenceDir;
    await vi.waitFor(
      async () =>
        expect((await gw.evidence()).some((r) => r.drift?.cause === 'definition_changed')).toBe(true),
      { timeout: 30_000, interval: 50 },
    );

    // Session A: ten calls, every one decided.
    const a = await gw.client();
    expect(textOf(await callTool(a, 'everything__echo', { message: 'hello' }))).toBe('Echo: hello');
    expect(textOf(await callTool(a, 'everything__echo', { message: 'hello again' }))).toBe(
      'Echo: hello again',
    );
    expect(textOf(await callTool(a, 'everything__echo', { message: 'a secret' }))).toMatch(/secret_in_echo/);
    expect(textOf(await callTool(a, 'everything__echo', { message: 'LOUD noise' }))).toBe('Echo: LOUD noise');
    expect(textOf(await callTool(a, HOSTILE_NAME, {}))).toMatch(/not found/);
    expect(textOf(await callTool(a, 'everything__get-sum', { a: 5000, b: 1 }))).toMatch(/approval_pending/);
    expect(
      await gw.gateway.approvals.decide(
        await pendingRequest(gw),
        { verdict: 'approve', reason: 'ok' },
        ALICE,
      ),
    ).toMatchObject({ ok: true });
    expect(textOf(await callTool(a, 'everything__get-sum', { a: 5000, b: 1 }))).toMatch(/5001/);
    expect(textOf(await callTool(a, 'everything__get-sum', { a: 6000, b: 1 }))).toMatch(/approval_pending/);
    expect(
      await gw.gateway.approvals.decide(await pendingRequest(gw), { verdict: 'deny', reason: 'no' }, ALICE),
    ).toMatchObject({ ok: true });
    const waiver = await gw.gateway.approvals.addWaiver(
      {
        agent: 'dev',
        tool: 'everything__echo',
        args_match: { in: ['waived', { var: 'call.arguments.message' }] },
        until: '1h',
        reason: 'incident <b>4711</b>',
        compensating: 'reviewed daily',
      },
      ALICE,
    );
    expect(waiver.ok).toBe(true);
    expect(textOf(await callTool(a, 'everything__echo', { message: 'waived secret' }))).toBe(
      'Echo: waived secret',
    );
    expect(textOf(await callTool(a, 'hostile__echo', { text: 'sudo rm -rf /var/*' }))).toContain('rm -rf');
    firstClosed = await terminate(gw, a);
    // The next session opens strictly after the first one's close record.
    await vi.waitFor(() => expect(Date.now()).toBeGreaterThan(Date.parse(firstClosed.time)));

    // Session B: a held call, and a second call refused by the limit before any decision.
    const b = await gw.client();
    const held = callTool(b, 'everything__get-sum', { a: 200000, b: 1 });
    const heldId = await pendingRequest(gw);
    const refused = callTool(b, 'everything__echo', { message: 'one too many' });
    await expect(refused).rejects.toBeInstanceOf(McpError);
    await expect(refused).rejects.toMatchObject({ code: -32029 });
    expect(
      await gw.gateway.approvals.decide(heldId, { verdict: 'approve', reason: 'ok' }, ALICE),
    ).toMatchObject({ ok: true });
    expect(textOf(await held)).toMatch(/200001/);
    await terminate(gw, b);
    await gw.close();
    records = await readEvidence(evidenceDir);
  }, 120_000);
  afterAll(() => gw?.close());

  it('counts every call, decision, approval, waiver and drift event the run made', async () => {
    const r = await report('--config', configFile, '--format', 'json');
    expect(r.v).toBe('mcpgov.report/v1');
    expect(r.decisions).toMatchObject({
      calls: 11,
      allowed: 4,
      denied_enforced: 2,
      denied_observed: 1,
      escalated_enforced: 3,
      escalated_observed: 1,
      waived: 1,
      grants_used: 1,
      forwarded: 7,
    });
    expect(r.pilot.deny_rate).toBeCloseTo(3 / 11, 10);
    expect(r.deny_reasons).toEqual([
      { reason: 'secret_in_echo', enforced: 1, observed: 0, total: 1 },
      { reason: 'shouting', enforced: 0, observed: 1, total: 1 },
      { reason: 'unknown_tool', enforced: 1, observed: 0, total: 1 },
    ]);
    expect(r.escalation_reasons).toEqual([
      { reason: 'large_sum', enforced: 2, observed: 0, total: 2 },
      { reason: 'bulk_path', enforced: 0, observed: 1, total: 1 },
      { reason: 'huge_sum', enforced: 1, observed: 0, total: 1 },
    ]);
    expect(r.approvals).toMatchObject({
      created: 3,
      decided: 3,
      approved: 2,
      denied: 1,
      expired: 0,
      withdrawn: 0,
      grants_used: 2,
      pending: 0,
    });
    const times = records
      .filter((x) => x.approval?.event === 'decided')
      .map((x) => x.approval!.time_to_decision_ms!)
      .sort((x, y) => x - y);
    expect(times).toHaveLength(3);
    // Nearest rank over three values: p50 the second, p90 the third.
    expect(r.approvals.time_to_decision_ms).toEqual({
      count: 3,
      p50: times[1],
      p90: times[2],
      max: times[2],
      exact: true,
    });
    expect(r.pilot).toMatchObject({
      approvals: 3,
      time_to_decision_p50_ms: times[1],
      time_to_decision_p90_ms: times[2],
    });
    expect(r.waivers).toMatchObject({ created: 1, used: 1, revoked: 0, expired: 0, in_force: 1 });
    expect(r.waivers.list).toEqual([
      expect.objectContaining({
        agent: 'dev',
        tool: 'everything__echo',
        uses: 1,
        in_force: true,
        reason: 'incident <b>4711</b>',
      }),
    ]);
    expect(r.drift).toMatchObject({ events: 1, by_cause: { definition_changed: 1 } });
    expect(r.drift.recent).toEqual([
      expect.objectContaining({
        cause: 'definition_changed',
        server: 'hostile',
        tool: 'hostile__weather',
        action: 'blocked',
      }),
    ]);
    expect(r.pilot.drift_events).toBe(1);
    const semantic = records.find((x) => x.decision?.semantic)!.decision!.semantic!;
    expect(semantic.signals.length).toBeGreaterThan(0);
    expect(r.semantic).toMatchObject({ checked: 1, verdicts: { [semantic.verdict]: 1 } });
    expect(r.semantic.signals).toEqual(semantic.signals.map((s) => ({ signal: s.name, count: 1 })));
    expect(r.agents).toEqual([expect.objectContaining({ agent: 'dev', calls: 11, unverified: 11 })]);
    expect(r.tools.map((t) => [t.tool, t.calls, t.allowed, t.forwarded])).toEqual([
      ['everything__echo', 5, 3, 4],
      ['everything__get-sum', 4, 1, 2],
      [HOSTILE_NAME, 1, 0, 0],
      ['hostile__echo', 1, 0, 1],
    ]);
    expect(r.series.unit).toBe('hour');
    const sum = (k: 'calls' | 'forwarded' | 'approvals_decided') =>
      r.series.points.reduce((n, p) => n + p[k], 0);
    expect([sum('calls'), sum('forwarded'), sum('approvals_decided')]).toEqual([11, 7, 3]);
  });

  it('finds the call that never reached a decision: coverage 11 of 12', async () => {
    const r = await report('--config', configFile);
    expect(r.coverage).toMatchObject({ decided: 11, received: 12, gap: 1, sessions: 2, open_sessions: 0 });
    expect(r.pilot.coverage).toBeCloseTo(11 / 12, 10);
    const closes = records.filter((x) => x.chain_event?.event === 'close').map((x) => x.chain_event);
    expect(closes).toEqual([
      { event: 'close', calls: 10, received: 10 },
      { event: 'close', calls: 1, received: 2 },
    ]);
  });

  it('is 100% covered and complete over the first session alone (--until)', async () => {
    const r = await report('--config', configFile, '--until', firstClosed.time);
    expect(r.coverage).toMatchObject({ ratio: 1, decided: 10, received: 10, gap: 0, sessions: 1 });
    expect(r.completeness).toMatchObject({ ratio: 1, sessions: 1, closed: 1, complete: 1 });
    expect(r.decisions.calls).toBe(10);
    expect(r.approvals).toMatchObject({ created: 2, decided: 2 });
    const since = await report(
      '--config',
      configFile,
      '--since',
      new Date(Date.parse(firstClosed.time) + 1).toISOString(),
    );
    expect(since.coverage).toMatchObject({ decided: 1, received: 2, gap: 1, sessions: 1 });
    expect(since.decisions.calls).toBe(1);
  });

  it('counts every session closed and covered by a signed checkpoint as complete', async () => {
    const r = await report(evidenceDir);
    expect(r.completeness).toMatchObject({ ratio: 1, sessions: 2, closed: 2, complete: 2, open: 0 });
    expect(r.completeness.records).toBe(records.length);
    expect(r.completeness.records_covered).toBe(records.length);
    expect(r.records.read).toBe(records.length);
    expect(r.source.logs).toEqual([
      expect.objectContaining({ kind: 'log', records: records.length, uncovered: 0 }),
    ]);
  });

  it('filters by agent and by tool', async () => {
    expect((await report('--config', configFile, '--agent', 'dev')).decisions.calls).toBe(11);
    const nobody = await report('--config', configFile, '--agent', 'nobody');
    expect(nobody.decisions.calls).toBe(0);
    expect(nobody.coverage.ratio).toBeNull();
    const echo = await report('--config', configFile, '--tool', 'everything__echo');
    expect(echo.decisions).toMatchObject({
      calls: 5,
      allowed: 3,
      denied_enforced: 1,
      denied_observed: 1,
      waived: 1,
      forwarded: 4,
    });
    expect(echo.coverage.ratio).toBeNull();
    expect(echo.waivers.created).toBe(1);
    expect(echo.approvals.created).toBe(0);
    expect(echo.drift.events).toBe(0);
  });

  it('reads the replicas a folder keeps under peps/ and a session pack', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-report-'));
    await cp(evidenceDir, path.join(dir, 'ev'), { recursive: true });
    await mkdir(path.join(dir, 'ev/peps'));
    await cp(evidenceDir, path.join(dir, 'ev/peps/sidecar-1'), { recursive: true });
    const both = await report(path.join(dir, 'ev'));
    expect(both.source.logs.map((l) => l.kind)).toEqual(['log', 'replica']);
    expect(both.decisions.calls).toBe(22);
    expect(both.coverage).toMatchObject({ decided: 22, received: 24 });

    const chain = firstClosed.chain;
    await exec(
      process.execPath,
      [CLI, 'evidence', 'pack', '--chain', chain, '--out', path.join(dir, 'pack'), '--config', configFile],
      { cwd: REPO },
    );
    const pack = await report(path.join(dir, 'pack'));
    expect(pack.source.kind).toBe('pack');
    expect(pack.decisions.calls).toBe(10);
    expect(pack.coverage).toMatchObject({ ratio: 1, decided: 10, received: 10 });
    expect(pack.completeness).toMatchObject({ ratio: 1, sessions: 1, complete: 1 });
  });

  it('writes one self-contained HTML file whose charts all draw in headless Chromium', async () => {
    const out = path.join(REPO, 'test-output', 'report.html');
    await mkdir(path.dirname(out), { recursive: true });
    await exec(process.execPath, [CLI, 'report', '--config', configFile, '--format', 'html', '--out', out], {
      cwd: REPO,
    });
    const html = await readFile(out, 'utf8');
    expect((await stat(out)).size).toBeGreaterThan(150_000); // Chart.js is inlined
    // Nothing loaded from anywhere: no external script or stylesheet, and a policy that forbids it.
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=/);
    expect(html).toContain('content="default-src &#39;none&#39;; script-src &#39;sha256-');
    // The attacker's tool name is text in the table, never markup.
    expect(html).not.toContain(HOSTILE_NAME);
    expect(html).toContain('&lt;img src=x onerror=&quot;window.pwned=1&quot;&gt;&lt;/script&gt;');

    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
      ],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(m.text());
      });
      page.on('request', (req) => {
        if (!req.url().startsWith('file:')) problems.push(`network request ${req.url()}`);
      });
      await page.goto(pathToFileURL(out).href);
      await page.waitForFunction(
        () => (globalThis as unknown as Page).document.body.dataset['rendered'] !== undefined,
      );
      expect(problems).toEqual([]);
      expect(await page.evaluate(() => (globalThis as unknown as Page).pwned)).toBeUndefined();

      const charts = await page.evaluate(() => {
        const C = (globalThis as unknown as Page).Chart;
        return Object.values(C.instances).map((c) => {
          const box = c.canvas.getBoundingClientRect();
          const ctx = c.canvas.getContext('2d')!;
          const pixels = ctx.getImageData(0, 0, c.canvas.width, c.canvas.height).data;
          let painted = 0;
          for (let i = 3; i < pixels.length; i += 4) if (pixels[i]! > 0) painted++;
          const values = c.data.datasets.flatMap((d) => d.data).filter((v) => typeof v === 'number' && v > 0);
          const drawn = c.data.datasets
            .flatMap((_, i) => c.getDatasetMeta(i).data)
            .filter((e) => Number.isFinite(e.x) && Number.isFinite(e.y));
          return {
            id: c.canvas.id,
            width: box.width,
            height: box.height,
            painted,
            values: values.length,
            drawn: drawn.length,
          };
        });
      });
      expect(charts.map((c) => c.id).sort()).toEqual(
        [
          'chart-agents',
          'chart-approvals',
          'chart-calls',
          'chart-completeness',
          'chart-coverage',
          'chart-deny-reasons',
          'chart-drift',
          'chart-escalations',
          'chart-signals',
          'chart-tools',
          'chart-waivers',
        ].sort(),
      );
      for (const c of charts) {
        expect(c, c.id).toMatchObject({ width: expect.any(Number), height: expect.any(Number) });
        expect(c.width, c.id).toBeGreaterThan(100);
        expect(c.height, c.id).toBeGreaterThan(100);
        expect(c.values, c.id).toBeGreaterThan(0);
        expect(c.drawn, c.id).toBeGreaterThan(0);
        expect(c.painted, c.id).toBeGreaterThan(1000);
      }
      // The cards carry the pilot numbers as text.
      expect(await page.textContent('#card-coverage .value')).toBe('91.6%');
      expect(await page.textContent('#card-drift .value')).toBe('1');
      await page.screenshot({ path: path.join(REPO, 'test-output', 'report.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  }, 60_000);
});
