import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PepMetrics } from '../../../src/metrics/pep-metrics.js';
import { REPO } from '../../helpers/fixture.js';

/** The Grafana dashboard shipped for the metrics: it must name only what the registry exports. */

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: unknown;
  targets?: { expr: string }[];
  panels?: Panel[];
}

const dashboard = JSON.parse(await readFile(path.join(REPO, 'deploy/grafana/mcpgov.json'), 'utf8')) as {
  panels: Panel[];
  templating: { list: { name: string; definition?: string }[] };
};

const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const exprs = [
  ...panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr }))),
  ...dashboard.templating.list
    .filter((v) => v.definition !== undefined)
    .map((v) => ({ panel: `$${v.name}`, expr: v.definition! })),
];

/** Every series name the registry exports, with the labels of its family. */
const exported = new Map<string, string[]>();
for (const metric of new PepMetrics().registry.getMetricsAsArray()) {
  const { name, type, labelNames } = metric as unknown as {
    name: string;
    type: string;
    labelNames: string[];
  };
  const names = type === 'histogram' ? ['_bucket', '_sum', '_count'].map((s) => name + s) : [name];
  for (const n of names)
    exported.set(n, type === 'histogram' && n.endsWith('_bucket') ? [...labelNames, 'le'] : labelNames);
}

/** Labels Prometheus adds to every scraped series. */
const TARGET_LABELS = ['instance', 'job'];
const METRIC = /\bmcpgov_[a-z0-9_]+/g;

describe('deploy/grafana/mcpgov.json', () => {
  it('is a dashboard of uniquely numbered panels, each querying Prometheus', () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of panels.filter((p) => p.type !== 'row')) {
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
    }
  });

  it('names in every query only metrics the registry exports', () => {
    expect(exprs.length).toBeGreaterThan(20);
    for (const { panel, expr } of exprs) {
      const names = expr.match(METRIC) ?? [];
      expect(names.length, `${panel}: ${expr}`).toBeGreaterThan(0);
      for (const name of names) expect(exported.has(name), `${panel}: ${name} is not exported`).toBe(true);
    }
  });

  it('selects and groups only by labels those metrics carry', () => {
    for (const { panel, expr } of exprs) {
      const labels = new Set([
        ...TARGET_LABELS,
        ...(expr.match(METRIC) ?? []).flatMap((n) => exported.get(n) ?? []),
      ]);
      const used = [
        ...[...expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',')),
        ...[...expr.matchAll(/\{([^{}]*)\}/g)].flatMap((m) =>
          m[1]!.split(',').map((matcher) => matcher.split(/[=!~]/)[0]!),
        ),
        ...[...expr.matchAll(/label_values\(\w+, (\w+)\)/g)].map((m) => m[1]!),
      ]
        .map((l) => l.trim())
        .filter(Boolean);
      for (const label of used) expect(labels.has(label), `${panel}: label ${label} in ${expr}`).toBe(true);
    }
  });

  it('covers what operators watch: calls, deny reasons, latency, fsync, checkpoints, downstreams, approvals, sessions', () => {
    const all = exprs.map((e) => e.expr).join('\n');
    for (const name of [
      'mcpgov_tool_calls_total',
      'mcpgov_deny_reasons_total',
      'mcpgov_decision_duration_seconds_bucket',
      'mcpgov_call_duration_seconds_bucket',
      'mcpgov_evidence_fdatasync_duration_seconds_bucket',
      'mcpgov_evidence_checkpoint_age_seconds',
      'mcpgov_downstream_up',
      'mcpgov_approvals_pending',
      'mcpgov_approvals_time_to_decision_seconds_bucket',
      'mcpgov_sessions_open',
    ])
      expect(all).toContain(name);
  });
});

describe('README: Metrics and health', () => {
  it('documents every metric the registry exports, and no other', async () => {
    const readme = await readFile(path.join(REPO, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Metrics and health'), readme.indexOf('**Dashboard.**'));
    const documented = [...section.matchAll(/^\| `(mcpgov_[a-z0-9_]+)`/gm)].map((m) => m[1]!);
    const names = new PepMetrics().registry.getMetricsAsArray().map((m) => m.name);
    expect(documented.sort()).toEqual(names.sort());
  });
});
