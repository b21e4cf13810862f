import { appendFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { JsonlEvidenceStore, listSegments } from '../../../src/evidence/jsonl-store.js';
import { recordBase, type RecordBody } from '../../../src/evidence/types.js';
import { buildReport } from '../../../src/metrics/report/report.js';

const PEP = { id: 'gateway@test', kind: 'gateway' as const, version: '0' };
const T0 = Date.parse('2026-11-01T10:00:00Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000);

function open(chain: string, minute: number, agent = 'dev'): RecordBody {
  return {
    ...recordBase('chain', chain, PEP, at(minute)),
    subject: { verified: true, agent },
    chain_event: { event: 'open' },
  };
}
function close(chain: string, minute: number, calls: number, received?: number): RecordBody {
  return { ...recordBase('chain', chain, PEP, at(minute)), chain_event: { event: 'close', calls, received } };
}
function decision(chain: string, minute: number, effect: 'allow' | 'deny', agent = 'dev'): RecordBody {
  const id = `d-${chain}-${minute}`;
  return {
    ...recordBase('decision', chain, PEP, at(minute), id),
    subject: { verified: true, agent },
    request: {
      method: 'tools/call',
      tool: 'fs__read',
      args_digest: `sha256:${'a'.repeat(64)}`,
      args: {},
      masked: [],
      session: { id: chain, call_count: 1 },
    },
    decision: {
      id,
      effect,
      mode: 'enforce',
      enforced: true,
      reasons: effect === 'deny' ? ['scope_missing'] : [],
      rules: [],
      stages: [],
      bundle: { name: 'sources', revision: 'unversioned', digest: `sha256:${'c'.repeat(64)}` },
      eval_us: 1,
    },
  };
}

async function writeLog(records: RecordBody[]): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-report-'));
  const store = await JsonlEvidenceStore.open({ dir, fsync: 'none' });
  for (const r of records) await store.append(r);
  await store.close();
  return dir;
}

describe('pilot report over sessions', () => {
  it('counts only sessions that closed with a received count in coverage, and none as complete without a checkpoint', async () => {
    const dir = await writeLog([
      open('a', 0),
      decision('a', 1, 'allow'),
      decision('a', 2, 'deny'),
      close('a', 3, 2, 3), // one call never reached a decision
      open('b', 4),
      decision('b', 5, 'allow'),
      close('b', 6, 1), // written before the count existed
      open('c', 7),
      decision('c', 8, 'allow'), // never closed
    ]);
    // A line that is no record, and a torn last line (a crash mid-append).
    const [segment] = await listSegments(dir);
    await appendFile(segment!, 'not json\n{"v":"mcpgov.evidence/v1","kind":"dec');
    const r = await buildReport(dir, {});
    expect(r.coverage).toMatchObject({
      ratio: 2 / 3,
      decided: 2,
      received: 3,
      gap: 1,
      sessions: 1,
      sessions_without_count: 1,
      open_sessions: 1,
      decided_in_open_sessions: 1,
    });
    expect(r.completeness).toMatchObject({
      ratio: 0,
      sessions: 3,
      closed: 2,
      complete: 0,
      closed_not_covered: 2,
      open: 1,
    });
    expect(r.completeness.records_covered).toBe(0);
    expect(r.decisions).toMatchObject({ calls: 4, allowed: 3, denied_enforced: 1 });
    expect(r.source.logs[0]).toMatchObject({
      records: 9,
      unreadable: 1,
      torn_last_line: true,
      checkpoint_size: 0,
    });
  });

  it('counts a session in the period its open record falls in, with all its decisions', async () => {
    const dir = await writeLog([
      open('a', 0),
      decision('a', 1, 'allow'),
      decision('a', 30, 'allow'),
      close('a', 31, 2, 2),
      open('b', 40, 'other'),
      decision('b', 41, 'deny', 'other'),
      close('b', 42, 1, 2),
    ]);
    const early = await buildReport(dir, { until: at(20).getTime() });
    expect(early.coverage).toMatchObject({ ratio: 1, decided: 2, received: 2, sessions: 1 });
    expect(early.decisions.calls).toBe(1); // the decision at minute 30 lies after --until
    const other = await buildReport(dir, { agent: 'other' });
    expect(other.coverage).toMatchObject({ decided: 1, received: 2, sessions: 1 });
    expect(other.agents.map((a) => a.agent)).toEqual(['other']);
    expect(other.period).toEqual({ first: at(41).toISOString(), last: at(41).toISOString() });
  });

  it('refuses a path that is neither an evidence folder nor a pack', async () => {
    const empty = await mkdtemp(path.join(tmpdir(), 'mcpgov-report-'));
    await expect(buildReport(empty, {})).rejects.toThrow(/no evidence segments/);
    await expect(buildReport(path.join(empty, 'missing'), {})).rejects.toThrow(
      /not an evidence folder or pack/,
    );
  });
});
