import { appendFile, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import {
  JsonlEvidenceStore,
  listSegments,
  readEvidenceLines,
  segmentName,
} from '../../../src/evidence/jsonl-store.js';
import { EVIDENCE_VERSION, type RecordBody } from '../../../src/evidence/types.js';
import { verifyChainLines } from '../../../src/evidence/verify-chain.js';

function body(i: number): RecordBody {
  return {
    v: EVIDENCE_VERSION,
    id: `id-${i}`,
    kind: 'decision',
    chain: `session-${i % 3}`,
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    pep: { id: 'test', kind: 'gateway', version: '0' },
  };
}

/** Every line of every segment of a store, in log order. */
function lines(store: JsonlEvidenceStore): Promise<string[]> {
  return readEvidenceLines(path.dirname(store.file));
}

describe('jsonl evidence store', () => {
  it('writes 2000 concurrent appends in seq order with valid links (batch fsync)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-ev-'));
    const store = await JsonlEvidenceStore.open({ dir, fsync: 'batch' });
    const records = await Promise.all(Array.from({ length: 2000 }, (_, i) => store.append(body(i))));
    await store.close();
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    const written = await lines(store);
    expect(written.map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(records.map((r) => r.id));
    expect(verifyChainLines(written)).toEqual({ ok: true, count: 2000 });
  });

  it('acknowledges a durable: false record once written; the next fdatasync makes it durable', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-ev-'));
    const store = await JsonlEvidenceStore.open({ dir, fsync: 'batch' });
    await store.append(body(0));
    expect(store.durableCount).toBe(1);
    await store.append(body(1), { durable: false });
    // Written (a reader sees it) but not yet covered by an fdatasync, so no checkpoint may cover it.
    expect((await lines(store)).length).toBe(2);
    expect(store.durableCount).toBe(1);
    await store.append(body(2));
    expect(store.durableCount).toBe(3);
    await store.append(body(3), { durable: false });
    await store.flush();
    expect(store.durableCount).toBe(4);
    await store.close();
  });

  it('syncs a lone durable: false record on its own shortly after', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-ev-'));
      const store = await JsonlEvidenceStore.open({ dir, fsync: 'batch' });
      await store.append(body(0), { durable: false });
      expect(store.durableCount).toBe(0);
      await vi.advanceTimersByTimeAsync(250);
      await vi.waitFor(() => expect(store.durableCount).toBe(1));
      await store.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('continues seq and prev after reopening', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-ev-'));
    let store = await JsonlEvidenceStore.open({ dir, fsync: 'always' });
    const first = await store.append(body(0));
    await store.close();
    store = await JsonlEvidenceStore.open({ dir, fsync: 'none' });
    const second = await store.append(body(1));
    await store.close();
    expect(second).toMatchObject({ seq: 1, prev: first.hash });
    expect(verifyChainLines(await lines(store))).toEqual({ ok: true, count: 2 });
  });

  it('cuts off a torn last line left by a crash, and the chain still verifies', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-ev-'));
    let store = await JsonlEvidenceStore.open({ dir, fsync: 'batch' });
    for (let i = 0; i < 5; i++) await store.append(body(i));
    await store.close();
    await appendFile(store.file, '{"v":"mcpgov.evidence/v1","id":"torn","seq":5,"pr');
    store = await JsonlEvidenceStore.open({ dir, fsync: 'batch' });
    const next = await store.append(body(5));
    await store.close();
    expect(next.seq).toBe(5);
    expect(verifyChainLines(await lines(store))).toEqual({ ok: true, count: 6 });
  });

  it('continues the chain across segments when rotated', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-ev-'));
    let store = await JsonlEvidenceStore.open({ dir, fsync: 'batch' });
    await store.append(body(0));
    await store.rotate();
    await store.append(body(1));
    await store.rotate();
    await store.close();
    store = await JsonlEvidenceStore.open({ dir, fsync: 'batch' });
    expect(await store.append(body(2))).toMatchObject({ seq: 2 });
    await store.close();
    expect((await listSegments(dir)).map((f) => path.basename(f))).toEqual([
      segmentName(1),
      segmentName(2),
      segmentName(3),
    ]);
    expect(verifyChainLines(await lines(store))).toEqual({ ok: true, count: 3 });
  });

  it('stores each body as given, an own __proto__ member included, and leaves the body unchanged', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-ev-'));
    const store = await JsonlEvidenceStore.open({ dir, fsync: 'batch' });
    const plain = body(0);
    // JSON.parse makes `__proto__` an own member, not the prototype.
    const odd = JSON.parse(JSON.stringify(body(1)).replace('{', '{"__proto__":{"x":1},')) as RecordBody;
    const records = [await store.append(plain), await store.append(odd)];
    await store.close();
    expect(Object.keys(plain)).not.toContain('seq');
    expect(Object.getPrototypeOf(records[1])).toBe(Object.prototype);
    expect(Object.keys(records[1]!)).toContain('__proto__');
    const written = await lines(store);
    expect(written[1]).toContain('"__proto__":{"x":1}');
    expect(written.map((l) => JSON.parse(l) as unknown)).toEqual(
      records.map((r) => JSON.parse(JSON.stringify(r))),
    );
    expect(verifyChainLines(written)).toEqual({ ok: true, count: 2 });
  });

  it('refuses to extend a log whose last line is not a record', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-ev-'));
    await writeFile(path.join(dir, segmentName(1)), '{"not":"a record"}\n');
    await expect(JsonlEvidenceStore.open({ dir, fsync: 'batch' })).rejects.toThrow(/not an evidence record/);
  });

  it('rejects appends with evidence_unavailable when the log cannot be written, and fails closed', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-ev-'));
    const store = await JsonlEvidenceStore.open({ dir, fsync: 'batch' });
    await store.append(body(0));
    // Close the descriptor underneath the store: every later write and fsync fails.
    await (store as unknown as { fh: { close(): Promise<void> } }).fh.close();
    await expect(store.append(body(1))).rejects.toMatchObject({ code: 'evidence_unavailable' });
    await expect(store.append(body(2))).rejects.toMatchObject({ code: 'evidence_unavailable' });
    expect(verifyChainLines(await lines(store))).toEqual({ ok: true, count: 1 });
  });
});

describe('chain verification', () => {
  async function sampleLog(): Promise<string[]> {
    const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-ev-'));
    const store = await JsonlEvidenceStore.open({ dir, fsync: 'none' });
    for (let i = 0; i < 6; i++) await store.append(body(i));
    await store.close();
    return lines(store);
  }

  it('accepts an untouched log', async () => {
    expect(verifyChainLines(await sampleLog())).toEqual({ ok: true, count: 6 });
  });

  it('names the line of a flipped byte', async () => {
    const log = await sampleLog();
    log[3] = log[3]!.replace('"id":"id-3"', '"id":"id-X"');
    expect(verifyChainLines(log)).toMatchObject({
      ok: false,
      line: 4,
      reason: 'hash does not match the record',
    });
  });

  it('detects a deleted line', async () => {
    const log = await sampleLog();
    log.splice(2, 1);
    expect(verifyChainLines(log)).toMatchObject({ ok: false, line: 3 });
  });

  it('detects two swapped lines', async () => {
    const log = await sampleLog();
    [log[1], log[2]] = [log[2]!, log[1]!];
    expect(verifyChainLines(log)).toMatchObject({ ok: false, line: 2 });
  });
});
