/**
 * The evidence store alone: decision-sized records appended by 64 writers at once through the
 * evidence log (hash chain, group commit per the fsync mode, a signed checkpoint every 1000 records).
 * `bench.ts` reports it beside the gateway; this file also runs it by itself:
 *
 *   npm run bench:evidence [-- --records N] [-- --fsync batch|always|none] [-- --runs N] [-- --json]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { EvidenceLog } from '../../src/evidence/evidence-log.js';
import type { FsyncMode } from '../../src/evidence/jsonl-store.js';
import { LocalEd25519Signer, writeKeyPair } from '../../src/evidence/signer.js';
import { EVIDENCE_VERSION, type RecordBody } from '../../src/evidence/types.js';
import { randomUUIDv7 } from '../../src/util/uuid.js';

/** Appends in flight at once: about what a busy gateway keeps waiting on its log. */
const WRITERS = 64;

/** A decision record as the gateway writes one for an allowed echo call. */
function decisionBody(i: number): RecordBody {
  return {
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
  };
}

/**
 * Records per second of the evidence log alone (segments, group-committed fdatasync, signed
 * checkpoints every 1000 records), with 64 appends in flight, on decision-sized records.
 */
export async function measureEvidence(
  records: number,
  fsync: FsyncMode,
): Promise<{ records_per_s: number; cpu_us_per_record: number; fsync: FsyncMode; records: number }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-bench-ev-'));
  try {
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
    let next = 0;
    const cpu = process.cpuUsage();
    const started = performance.now();
    await Promise.all(
      Array.from({ length: WRITERS }, async () => {
        while (next < records) await log.append(decisionBody(next++));
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const { user, system } = process.cpuUsage(cpu);
    await log.close();
    return {
      records_per_s: Math.round(records / seconds),
      // The process's CPU time (every thread: fdatasync runs in libuv's pool) per record: steadier than
      // throughput on a shared machine.
      cpu_us_per_record: Math.round(((user + system) / records) * 10) / 10,
      fsync,
      records,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '20000' },
      fsync: { type: 'string', default: 'batch' },
      runs: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
    },
  });
  const results = [];
  for (let run = 0; run < Number(values.runs); run++) {
    results.push(await measureEvidence(Number(values.records), values.fsync as FsyncMode));
  }
  if (values.json) process.stdout.write(`${JSON.stringify(results)}\n`);
  else
    for (const r of results)
      process.stdout.write(
        `evidence store: ${r.records_per_s} records/s, ${r.cpu_us_per_record} µs CPU per record ` +
          `(${r.records} records, fsync ${r.fsync})\n`,
      );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
