import { appendFile, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EvidenceLog } from '../../../src/evidence/evidence-log.js';
import { EvidenceForwarder, type ReplicaLink } from '../../../src/control/evidence-forwarder.js';
import { listSegments, segmentName } from '../../../src/evidence/jsonl-store.js';
import { LogTail } from '../../../src/evidence/log-tail.js';
import { EvidenceReplica, ReplicaError } from '../../../src/control/evidence-replica.js';
import { LocalEd25519Signer, readJwks, writeKeyPair } from '../../../src/evidence/signer.js';
import { EVIDENCE_VERSION, type RecordBody } from '../../../src/evidence/types.js';
import { verifyLogDir } from '../../../src/evidence/verify.js';

const body = (i: number): RecordBody => ({
  v: EVIDENCE_VERSION,
  id: `r${i}`,
  kind: 'decision',
  chain: `s${i % 2}`,
  time: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
  pep: { id: 'sidecar-1', kind: 'sidecar', version: '0' },
});

/** A sidecar's signed log with `n` records (checkpoint every 10, one on close). */
async function sidecarLog(n: number, segmentMaxBytes = 1 << 26) {
  const root = await mkdtemp(path.join(tmpdir(), 'mcpgov-replica-'));
  const keys = await writeKeyPair(path.join(root, 'keys'));
  const dir = path.join(root, 'log');
  const log = await EvidenceLog.open({
    dir,
    fsync: 'batch',
    signer: await LocalEd25519Signer.fromFile(keys.privateKey),
    origin: 'mcpgov/sidecar-1',
    checkpoint: { everyRecords: 10, everySeconds: 3600 },
    segmentMaxBytes,
    log: () => {},
  });
  for (let i = 0; i < n; i++) await log.append(body(i));
  await log.close();
  return { root, dir, jwks: await readJwks(keys.publicJwks) };
}

/** A link straight into a replica, counting what it carries and able to drop acknowledgements. */
function directLink(replica: EvidenceReplica) {
  const stats = { batches: 0, records: 0, checkpoints: 0, dropAcks: 0 };
  const link: ReplicaLink = {
    async sendRecords(lines) {
      stats.batches += 1;
      stats.records += lines.length;
      const cursor = await replica.appendRecords(lines);
      if (stats.dropAcks > 0) {
        stats.dropAcks -= 1;
        throw new Error('connection lost before the acknowledgement');
      }
      return cursor;
    },
    async sendCheckpoint(line) {
      stats.checkpoints += 1;
      return replica.appendCheckpoint(line);
    },
  };
  return { link, stats };
}

describe('evidence replica and forwarder', () => {
  it('replicates a log across segments; the replica verifies offline with the PEP key', async () => {
    const src = await sidecarLog(1200, 16 * 1024);
    expect((await listSegments(src.dir)).length).toBeGreaterThan(1);
    const replicaDir = path.join(src.root, 'replica');
    const replica = await EvidenceReplica.open(replicaDir, src.jwks);
    const { link, stats } = directLink(replica);
    await new EvidenceForwarder(src.dir, link, replica.cursor).pump();
    expect(replica.cursor.next_seq).toBe(1200);
    expect(stats.batches).toBe(3);
    await replica.close();
    expect(await verifyLogDir(replicaDir, src.jwks)).toMatchObject({
      ok: true,
      records: 1200,
      covered: 1200,
    });
  });

  it('stores each record once when a batch is resent after a lost acknowledgement', async () => {
    const src = await sidecarLog(30);
    const replicaDir = path.join(src.root, 'replica');
    const replica = await EvidenceReplica.open(replicaDir, src.jwks);
    const { link, stats } = directLink(replica);
    stats.dropAcks = 1;
    await expect(new EvidenceForwarder(src.dir, link, replica.cursor).pump()).rejects.toThrow(
      /connection lost/,
    );
    // Reconnect: the sender starts again from what it last heard (nothing), the replica skips duplicates.
    await new EvidenceForwarder(src.dir, link, { next_seq: 0, checkpoints: 0 }).pump();
    await replica.close();
    const lines = (await readFile(path.join(replicaDir, 'log-000001.jsonl'), 'utf8'))
      .split('\n')
      .filter(Boolean);
    expect(lines).toHaveLength(30);
    expect(await verifyLogDir(replicaDir, src.jwks)).toMatchObject({ ok: true, records: 30 });
  });

  it('resumes where a reopened replica stands', async () => {
    const src = await sidecarLog(25);
    const replicaDir = path.join(src.root, 'replica');
    let replica = await EvidenceReplica.open(replicaDir, src.jwks);
    const tail = new LogTail(src.dir, 0);
    await replica.appendRecords((await tail.read(12)).map((r) => r.line));
    await replica.close();
    replica = await EvidenceReplica.open(replicaDir, src.jwks);
    expect(replica.cursor).toEqual({ next_seq: 12, checkpoints: 0 });
    await new EvidenceForwarder(src.dir, directLink(replica).link, replica.cursor).pump();
    expect(replica.cursor.next_seq).toBe(25);
    await replica.close();
    expect(await verifyLogDir(replicaDir, src.jwks)).toMatchObject({ ok: true, records: 25 });
  });

  it('refuses an altered record, a gap, and a checkpoint signed by another key', async () => {
    const src = await sidecarLog(20);
    const lines = (await new LogTail(src.dir, 0).read(100)).map((r) => r.line);
    const replica = await EvidenceReplica.open(path.join(src.root, 'replica'), src.jwks);
    const altered = lines[0]!.replace('"r0"', '"rX"');
    await expect(replica.appendRecords([altered])).rejects.toThrow(/hash does not match/);
    await expect(replica.appendRecords([lines[1]!])).rejects.toMatchObject({
      message: 'record seq 1 where 0 was expected',
      cursor: { next_seq: 0 },
    });
    await replica.appendRecords(lines.slice(0, 20));
    const other = await sidecarLog(20);
    const foreign = (await readFile(path.join(other.dir, 'checkpoints.jsonl'), 'utf8')).split('\n')[0]!;
    await expect(replica.appendCheckpoint(foreign)).rejects.toBeInstanceOf(ReplicaError);
    await replica.close();
  });

  it('refuses to reopen a replica with different keys than the ones pinned in it', async () => {
    const src = await sidecarLog(1);
    const other = await sidecarLog(1);
    const dir = path.join(src.root, 'replica');
    await (await EvidenceReplica.open(dir, src.jwks)).close();
    await expect(EvidenceReplica.open(dir, other.jwks)).rejects.toThrow(/differ from the keys pinned/);
  });

  it('cuts off torn last lines a crash left in the replica, and resumes from the last whole record', async () => {
    const src = await sidecarLog(20);
    const replicaDir = path.join(src.root, 'replica');
    const replica = await EvidenceReplica.open(replicaDir, src.jwks);
    const { link } = directLink(replica);
    await new EvidenceForwarder(src.dir, link, replica.cursor).pump();
    const cursor = replica.cursor;
    expect(cursor.next_seq).toBe(20);
    await replica.close();
    await appendFile(path.join(replicaDir, segmentName(1)), '{"v":"mcpgov.evidence/v1","id":"r2');
    await appendFile(path.join(replicaDir, 'checkpoints.jsonl'), '{"v":"mcpgov.checkpoint/v1","ori');
    const reopened = await EvidenceReplica.open(replicaDir, src.jwks);
    expect(reopened.cursor).toEqual(cursor);
    await reopened.close();
    expect(await verifyLogDir(replicaDir, src.jwks)).toMatchObject({ ok: true, records: 20, covered: 20 });
  });
});
