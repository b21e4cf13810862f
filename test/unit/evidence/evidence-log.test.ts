import { appendFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCheckpoints } from '../../../src/evidence/checkpoints.js';
import { EvidenceLog } from '../../../src/evidence/evidence-log.js';
import { listSegments } from '../../../src/evidence/jsonl-store.js';
import { LocalEd25519Signer, readJwks, writeKeyPair } from '../../../src/evidence/signer.js';
import { EVIDENCE_VERSION, type RecordBody } from '../../../src/evidence/types.js';
import { verifyLogDir } from '../../../src/evidence/verify.js';

const body = (i: number): RecordBody => ({
  v: EVIDENCE_VERSION,
  id: `r${i}`,
  kind: 'decision',
  chain: 'c',
  time: new Date(Date.UTC(2026, 0, 1)).toISOString(),
  pep: { id: 'p', kind: 'gateway', version: '0' },
});

async function openLog(dir: string, keys: string, segmentMaxBytes = 1 << 26) {
  return EvidenceLog.open({
    dir,
    fsync: 'batch',
    signer: await LocalEd25519Signer.fromFile(keys),
    origin: 'mcpgov/test',
    checkpoint: { everyRecords: 100, everySeconds: 3600 },
    segmentMaxBytes,
    log: () => {},
  });
}

describe('evidence log', () => {
  it('signs one checkpoint per N records under concurrent appends, not one per record', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'mcpgov-log-'));
    const keys = await writeKeyPair(path.join(root, 'keys'));
    const log = await openLog(path.join(root, 'log'), keys.privateKey);
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < 1000) await log.append(body(next++));
      }),
    );
    await log.close();
    const checkpoints = await readCheckpoints(path.join(root, 'log'));
    expect(checkpoints.length).toBeGreaterThanOrEqual(5);
    expect(checkpoints.length).toBeLessThanOrEqual(15);
    const report = await verifyLogDir(path.join(root, 'log'), await readJwks(keys.publicJwks));
    expect(report).toMatchObject({ ok: true, records: 1000, covered: 1000 });
  });

  it('seals segments at checkpoints once they pass the size limit, and the log still verifies', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'mcpgov-log-'));
    const keys = await writeKeyPair(path.join(root, 'keys'));
    const dir = path.join(root, 'log');
    const log = await openLog(dir, keys.privateKey, 4096);
    for (let i = 0; i < 350; i++) await log.append(body(i));
    await log.close();
    expect((await listSegments(dir)).length).toBeGreaterThan(1);
    expect(await verifyLogDir(dir, await readJwks(keys.publicJwks))).toMatchObject({
      ok: true,
      records: 350,
    });
  });

  it('refuses to open a log shorter than its last checkpoint', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'mcpgov-log-'));
    const keys = await writeKeyPair(path.join(root, 'keys'));
    const dir = path.join(root, 'log');
    const log = await openLog(dir, keys.privateKey);
    for (let i = 0; i < 10; i++) await log.append(body(i));
    await log.close();
    const { writeFile, readFile } = await import('node:fs/promises');
    const segment = (await listSegments(dir))[0]!;
    const lines = (await readFile(segment, 'utf8')).split('\n').filter(Boolean);
    await writeFile(segment, `${lines.slice(0, 7).join('\n')}\n`);
    await expect(openLog(dir, keys.privateKey)).rejects.toThrow(/covers 10 records but the log holds 7/);
  });

  it('reopens after a crash tore the last record and the last checkpoint, saying what it cut', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'mcpgov-log-'));
    const keys = await writeKeyPair(path.join(root, 'keys'));
    const dir = path.join(root, 'log');
    const log = await openLog(dir, keys.privateKey);
    for (let i = 0; i < 3; i++) await log.append(body(i));
    await log.close();
    const segment = (await listSegments(dir))[0]!;
    await appendFile(segment, '{"v":"mcpgov.evidence/v1","id":"r3","ki');
    await appendFile(path.join(dir, 'checkpoints.jsonl'), '{"v":"mcpgov.checkpoint/v1"');
    const warnings: unknown[] = [];
    const again = await EvidenceLog.open({
      dir,
      fsync: 'batch',
      signer: await LocalEd25519Signer.fromFile(keys.privateKey),
      origin: 'mcpgov/test',
      checkpoint: { everyRecords: 100, everySeconds: 3600 },
      segmentMaxBytes: 1 << 26,
      log: (level, message, fields) => warnings.push({ level, message, fields }),
    });
    expect(again.count).toBe(3);
    await again.append(body(3));
    await again.close();
    expect(warnings).toEqual([
      {
        level: 'warn',
        message: 'cut off a torn last record line left by an interrupted write',
        fields: { file: segment, bytes: 39 },
      },
      {
        level: 'warn',
        message: 'cut off a torn last checkpoint line left by an interrupted write',
        fields: { file: path.join(dir, 'checkpoints.jsonl'), bytes: 27 },
      },
    ]);
    expect(await verifyLogDir(dir, await readJwks(keys.publicJwks))).toMatchObject({ ok: true, records: 4 });
  });
});
