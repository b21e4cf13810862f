import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CappedCounts, CappedRows, OTHER, RecentItems } from '../../../src/metrics/report/bounded.js';
import { toolMatches, waiverToolMatches } from '../../../src/metrics/report/filters.js';
import { esc, jsonForScript } from '../../../src/metrics/report/html.js';
import { QuantileSketch } from '../../../src/metrics/report/quantiles.js';
import { TimeSeries } from '../../../src/metrics/report/series.js';
import { MAX_LINE_CHARS, readLines } from '../../../src/metrics/report/sources.js';
import { progressBar } from '../../../src/cli/progress.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-11-01T00:00:00Z');

describe('quantile sketch', () => {
  it('gives exact nearest-rank percentiles while it keeps every value', () => {
    const q = new QuantileSketch();
    for (const v of [50, 10, 40, 20, 30]) q.add(v);
    expect([q.quantile(0.5), q.quantile(0.9), q.max, q.count, q.isExact]).toEqual([30, 50, 50, 5, true]);
    expect(new QuantileSketch().quantile(0.5)).toBeNull();
  });

  it('stays within its relative error once the values no longer fit', () => {
    const q = new QuantileSketch(100, 0.01);
    for (let i = 1; i <= 100_000; i++) q.add(i);
    expect(q.isExact).toBe(false);
    expect(Math.abs(q.quantile(0.5)! - 50_000) / 50_000).toBeLessThanOrEqual(0.01);
    expect(Math.abs(q.quantile(0.9)! - 90_000) / 90_000).toBeLessThanOrEqual(0.01);
    expect(q.quantile(1)).toBeLessThanOrEqual(100_000);
  });

  it('merges a sketch that left the exact mode', () => {
    const a = new QuantileSketch(10);
    const b = new QuantileSketch(10);
    const values = Array.from({ length: 1000 }, (_, i) => (i % 7 === 0 ? 0 : 1000 + i));
    values.forEach((v, i) => (i % 2 ? a : b).add(v));
    a.merge(b);
    const sorted = [...values].sort((x, y) => x - y);
    const median = sorted[499]!;
    expect(a.count).toBe(1000);
    expect(a.quantile(0.05)).toBe(0);
    expect(Math.abs(a.quantile(0.5)! - median) / median).toBeLessThanOrEqual(0.01);
  });
});

describe('time series', () => {
  it('counts per hour, with the empty hours between', () => {
    const s = new TimeSeries();
    s.count(T0 + 10, 'calls');
    s.count(T0 + 2 * HOUR + 5, 'calls', 2);
    s.timeToDecision(T0 + 2 * HOUR, 4000);
    const { unit, points } = s.points();
    expect(unit).toBe('hour');
    expect(points.map((p) => [p.start, p.calls, p.time_to_decision_p50_ms])).toEqual([
      ['2026-11-01T00:00:00.000Z', 1, null],
      ['2026-11-01T01:00:00.000Z', 0, null],
      ['2026-11-01T02:00:00.000Z', 2, 4000],
    ]);
  });

  it('folds hours into days once the span passes a week, keeping every count', () => {
    const s = new TimeSeries();
    for (let h = 0; h <= 10 * 24; h++) s.count(T0 + h * HOUR, 'calls');
    const { unit, points } = s.points();
    expect(unit).toBe('day');
    expect(points).toHaveLength(11);
    expect(points.reduce((n, p) => n + p.calls, 0)).toBe(10 * 24 + 1);
  });

  it('never holds more than a few hundred buckets, whatever the span', () => {
    const s = new TimeSeries();
    s.count(Date.parse('1990-01-01T00:00:00Z'), 'calls');
    s.count(Date.parse('2030-01-01T00:00:00Z'), 'calls');
    expect(s.points().points.length).toBeLessThan(600);
  });
});

describe('bounded tables', () => {
  it('folds keys past the cap into one other row', () => {
    const rows = new CappedRows(2, () => ({ n: 0 }));
    for (const k of ['a', 'b', 'c', 'd', 'a']) rows.get(k).n++;
    expect([...rows.rows].map(([k, r]) => [k, r.n])).toEqual([
      ['a', 2],
      ['b', 1],
      [OTHER, 2],
    ]);
    expect(rows.overflowKeys).toBe(2);
  });

  it('sorts counts highest first, ties by key', () => {
    const c = new CappedCounts(10);
    for (const k of ['b', 'a', 'c', 'c']) c.add(k);
    expect(c.object()).toEqual({ c: 2, a: 1, b: 1 });
    expect(Object.keys(c.object())).toEqual(['c', 'a', 'b']);
  });

  it('keeps the latest items, oldest first', () => {
    const r = new RecentItems<number>(3);
    for (let i = 1; i <= 5; i++) r.add(i);
    expect([r.list(), r.total]).toEqual([[3, 4, 5], 5]);
  });
});

describe('filters', () => {
  it('matches a recorded tool name exactly and a waiver by its glob', () => {
    expect(toolMatches({ tool: 'fs__read' }, '*')).toBe(false);
    expect(waiverToolMatches({ tool: 'fs__read' }, 'fs__*')).toBe(true);
    expect(waiverToolMatches({ tool: 'fs__read' }, 'db__*')).toBe(false);
  });
});

describe('reading lines', () => {
  it('reads lines across chunk boundaries, multi-byte characters whole, and skips a torn last line', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-lines-'));
    const file = path.join(dir, 'log.jsonl');
    // Lines of odd lengths with 3- and 4-byte characters, so chunk edges fall inside lines and characters.
    const lines = Array.from({ length: 3000 }, (_, i) => `${i} ${'€😀x'.repeat(i % 97)}`);
    await writeFile(file, `${lines.join('\n')}\n{"torn":`);
    const seen: string[] = [];
    const result = await readLines(file, (l) => seen.push(l));
    expect(seen).toEqual(lines);
    expect(result).toMatchObject({ lines: 3000, tornLast: true, overlong: 0 });
  });

  it('skips a line past the longest a record can be, and reads on', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-lines-'));
    const file = path.join(dir, 'log.jsonl');
    await writeFile(file, `first\n${'x'.repeat(MAX_LINE_CHARS + 10)}\nlast\n`);
    const seen: string[] = [];
    const result = await readLines(file, (l) => seen.push(l.slice(0, 10)));
    expect(seen).toEqual(['first', 'last']);
    expect(result).toMatchObject({ overlong: 1, tornLast: false });
  });
});

describe('HTML escaping', () => {
  it('writes JSON that cannot end its script element', () => {
    const text = jsonForScript({ tool: '</script><script>alert(1)</script>', s: '\u2028&' });
    expect(text).not.toMatch(/[<>&\u2028]/);
    expect(JSON.parse(text)).toEqual({ tool: '</script><script>alert(1)</script>', s: '\u2028&' });
  });

  it('escapes text for element content and attributes', () => {
    expect(esc(`<a href="x" title='y'>&</a>`)).toBe(
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
    );
  });
});

describe('progress bar', () => {
  it('draws on a terminal only, and clears what it drew', () => {
    const written: string[] = [];
    const terminal = { isTTY: true, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;
    const bar = progressBar(terminal, 0);
    bar.update(50, 100, '5 records');
    bar.finish();
    expect(written[0]).toMatch(/^\r\[#{15}-{15}\] {2}50% 5 records/);
    expect(written[1]).toBe('\r\x1b[K');

    const pipe = { isTTY: false, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;
    const quiet = progressBar(pipe, 0);
    quiet.update(1, 2);
    quiet.finish();
    expect(written).toHaveLength(2);
  });
});
