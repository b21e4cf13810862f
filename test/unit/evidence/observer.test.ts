import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EvidenceLog } from '../../../src/evidence/evidence-log.js';
import type { EvidenceObserver } from '../../../src/evidence/observer.js';
import { LocalEd25519Signer, readJwks, writeKeyPair } from '../../../src/evidence/signer.js';
import { EVIDENCE_VERSION, type RecordBody } from '../../../src/evidence/types.js';
import { verifyLogDir } from '../../../src/evidence/verify.js';

const body = (i: number): RecordBody => ({
  v: EVIDENCE_VERSION,
  id: `r${i}`,
  kind: i % 2 === 0 ? 'decision' : 'action',
  chain: 'c',
  time: new Date(Date.UTC(2026, 0, 1)).toISOString(),
  pep: { id: 'p', kind: 'gateway', version: '0' },
});

async function openLog(observer: EvidenceObserver, fsync: 'batch' | 'always' = 'batch') {
  const root = await mkdtemp(path.join(tmpdir(), 'mcpgov-observer-'));
  const keys = await writeKeyPair(path.join(root, 'keys'));
  const dir = path.join(root, 'log');
  const log = await EvidenceLog.open({
    dir,
    fsync,
    signer: await LocalEd25519Signer.fromFile(keys.privateKey),
    origin: 'mcpgov/test',
    checkpoint: { everyRecords: 100, everySeconds: 3600 },
    segmentMaxBytes: 1 << 26,
    log: () => {},
    observer,
  });
  return { log, dir, jwks: keys.publicJwks };
}

describe('evidence observer', () => {
  it('is told of every record written, every settled append and every fdatasync', async () => {
    const seen = { kinds: [] as string[], appended: 0, synced: 0, refused: 0 };
    const { log } = await openLog(
      {
        written: (record) => seen.kinds.push(record.kind),
        appended: (seconds) => {
          expect(seconds).toBeGreaterThanOrEqual(0);
          seen.appended += 1;
        },
        synced: () => (seen.synced += 1),
        refused: () => (seen.refused += 1),
      },
      'always',
    );
    for (let i = 0; i < 4; i++) await log.append(body(i));
    await log.close();
    expect(seen).toEqual({
      kinds: ['decision', 'action', 'decision', 'action'],
      appended: 4,
      synced: 4,
      refused: 0,
    });
    expect(log.failure).toBeUndefined();
    expect(log.covered).toBe(4);
    expect(log.lastCheckpointAt).toBeGreaterThan(0);
  });

  it('cannot break the write path: an observer that throws costs no record and leaves no append waiting', async () => {
    const boom = () => {
      throw new Error('metric failed');
    };
    const { log, dir, jwks } = await openLog({ written: boom, appended: boom, synced: boom, refused: boom });
    await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(body(i))));
    await log.close();
    const report = await verifyLogDir(dir, await readJwks(jwks));
    expect(report).toMatchObject({ ok: true, records: 20, covered: 20 });
  });
});
