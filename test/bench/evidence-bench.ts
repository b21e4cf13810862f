/**
 * The evidence store alone: records per second of the evidence log on decision-sized records,
 * without a gateway in front of it.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EvidenceLog } from '../../src/evidence/evidence-log.js';
import type { FsyncMode } from '../../src/evidence/jsonl-store.js';
import { LocalEd25519Signer, writeKeyPair } from '../../src/evidence/signer.js';
import { EVIDENCE_VERSION, type RecordBody } from '../../src/evidence/types.js';
import { randomUUIDv7 } from '../../src/util/uuid.js';
import { round } from './measure.js';

/**
 * Records per second of the evidence log alone (segments, group-committed fdatasync, signed
 * checkpoints every 1000 records), with 64 appends in flight, on decision-sized records.
 */
export async function measureEvidence(
  records: number,
  fsync: FsyncMode,
): Promise<{ records_per_s: number; fsync: FsyncMode; records: number }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-bench-ev-'));
  const keys = await writeKeyPair(path.join(dir, 'keys'));
  const log = await EvidenceLog.open({
    dir: path.join(dir, 'log'),
    fsync,
    signer: await LocalEd25519Signer.fromFile(keys.privateKey),
    origin: 'mcpgov/bench',
    checkpoint: { everyRecords: 1000, everySeconds: 5 },
    segmentMaxBytes: 64 * 1024 * 1024,
    log: () => {},
  });
  const body = (i: number): RecordBody => ({
    v: EVIDENCE_VERSION,
    id: randomUUIDv7(),
    kind: 'decision',
    chain: `session-${i % 16}`,
    time: new Date().toISOString(),
    pep: { id: 'bench', kind: 'gateway', version: '0' },
    subject: { verified: false, agent: 'bench' },
    request: {
      method: 'tools/call',
      server: 'everything',
      tool: 'everything__echo',
      args_digest: `sha256:${'a'.repeat(64)}`,
      args: { message: `message ${i}` },
      masked: [],
      definition_digest: `sha256:${'b'.repeat(64)}`,
      session: { id: `session-${i % 16}`, call_count: i },
    },
    decision: {
      id: randomUUIDv7(),
      effect: 'allow',
      mode: 'enforce',
      enforced: true,
      reasons: [],
      rules: [],
      stages: [
        'agent',
        'tool',
        'definition',
        'tool_groups',
        'scopes',
        'data_classes',
        'rate_cap',
        'spend_cap',
        'rules',
        'approval',
        'semantic',
      ].map((stage) => ({ stage, kind: 'pass' })),
      bundle: { name: 'sources', revision: 'unversioned', digest: `sha256:${'c'.repeat(64)}` },
      eval_us: 12.5,
    },
  });
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < records) await log.append(body(next++));
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await log.close();
  return { records_per_s: round(records / seconds), fsync, records };
}
