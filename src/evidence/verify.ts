import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { JSONWebKeySet } from 'jose';
import {
  CHECKPOINT_TYP,
  checkpointBody,
  CheckpointSchema,
  readCheckpointFile,
  recordLeaf,
  type Checkpoint,
} from './checkpoints.js';
import { listSegments } from './jsonl-store.js';
import { CompactRange } from './merkle.js';
import { verifyJws } from './signer.js';
import { referenceRecordHash } from './verify-chain.js';

/** Where verification failed first, and why. */
export interface VerifyFailure {
  file: string;
  line?: number;
  seq?: number;
  reason: string;
}

/** The result of verifying an evidence folder. */
export interface VerifyReport {
  ok: boolean;
  records: number;
  segments: number;
  checkpoints: number;
  /** Size of the last valid checkpoint. */
  covered: number;
  /** Key ids that signed the checkpoints. */
  kids: string[];
  /** How many records of each kind the log holds. */
  kinds: Record<string, number>;
  /** Each approval request's events in log order, as the verified records state them. */
  approvals: Map<string, ApprovalTrail>;
  failure?: VerifyFailure;
}

/** One approval request's life as the log records it. */
export interface ApprovalTrail {
  tool: string;
  agent: string | null;
  /** `created`, `decided approve by SUB via CHANNEL`, `grant_used by DECISION`, `expired`, ... */
  events: string[];
}

/**
 * Verifies an evidence folder offline, trusting only `jwks`: every record parses, `seq` runs from 0
 * without gaps across segments, every `prev` links and every `hash` recomputes (with the `canonicalize`
 * package, independent of the writer); every checkpoint is signed by a pinned key over exactly the
 * body it states, sizes never shrink, each root recomputes from the records (so any two checkpoints are
 * consistent: both are prefixes of the same leaves), and the last checkpoint covers the last record.
 */
export async function verifyLogDir(dir: string, jwks: JSONWebKeySet): Promise<VerifyReport> {
  const report: VerifyReport = {
    ok: false,
    records: 0,
    segments: 0,
    checkpoints: 0,
    covered: 0,
    kids: [],
    kinds: {},
    approvals: new Map(),
  };
  const fail = (failure: VerifyFailure) => ({ ...report, failure });

  const segments = await listSegments(dir);
  report.segments = segments.length;
  const leaves: Buffer[] = [];
  let prev: string | null = null;
  for (const file of segments) {
    const text = await readFile(file, 'utf8');
    if (text !== '' && !text.endsWith('\n')) {
      return fail({
        file,
        line: text.split('\n').length,
        reason: 'the last line is incomplete (torn write)',
      });
    }
    const lines = text.split('\n').slice(0, -1);
    for (let i = 0; i < lines.length; i++) {
      const at = { file, line: i + 1 };
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(lines[i]!) as Record<string, unknown>;
      } catch {
        return fail({ ...at, reason: 'not valid JSON' });
      }
      const seq = typeof record['seq'] === 'number' ? record['seq'] : undefined;
      const expected = leaves.length;
      if (seq !== expected) {
        return fail({
          ...at,
          seq,
          reason: `seq ${String(seq)} where ${expected} was expected: a record is missing or out of order`,
        });
      }
      if (record['prev'] !== prev)
        return fail({ ...at, seq, reason: 'prev is not the hash of the record before' });
      let hash: string;
      try {
        hash = referenceRecordHash(record);
      } catch {
        return fail({ ...at, seq, reason: 'the record has no canonical JSON form' });
      }
      if (record['hash'] !== hash)
        return fail({ ...at, seq, reason: 'hash does not match the record: it was altered' });
      leaves.push(recordLeaf(hash));
      prev = hash;
      noteRecord(report, record);
    }
  }
  report.records = leaves.length;

  const checkpointsFile = path.join(dir, 'checkpoints.jsonl');
  const tree = new CompactRange();
  let origin: string | undefined;
  const { lines: checkpointLines, tornLine } = await readCheckpointFile(dir);
  for (const { line, text } of checkpointLines) {
    const at = { file: checkpointsFile, line };
    let checkpoint: Checkpoint;
    try {
      checkpoint = CheckpointSchema.parse(JSON.parse(text));
    } catch {
      return fail({ ...at, reason: 'not a checkpoint' });
    }
    const signed = await verifyJws(checkpoint.jws, jwks);
    if (!signed.ok) return fail({ ...at, reason: `checkpoint ${signed.reason}` });
    if (signed.typ !== CHECKPOINT_TYP)
      return fail({ ...at, reason: `signature is not a checkpoint signature (typ ${signed.typ})` });
    const body = checkpointBody(checkpoint.origin, checkpoint.size, checkpoint.root);
    if (Buffer.from(signed.payload).toString('utf8') !== body) {
      return fail({ ...at, reason: 'checkpoint fields differ from the body that was signed' });
    }
    if (origin !== undefined && checkpoint.origin !== origin) {
      return fail({ ...at, reason: `checkpoint origin "${checkpoint.origin}" differs from "${origin}"` });
    }
    origin = checkpoint.origin;
    if (checkpoint.size < tree.size)
      return fail({ ...at, reason: `checkpoint size ${checkpoint.size} is smaller than the one before` });
    if (checkpoint.size > leaves.length) {
      return fail({
        ...at,
        reason: `checkpoint covers ${checkpoint.size} records but the log has ${leaves.length}: records were removed from the end`,
      });
    }
    while (tree.size < checkpoint.size) tree.append(leaves[tree.size]!);
    if (tree.root().toString('base64') !== checkpoint.root) {
      return fail({ ...at, reason: `checkpoint root does not match the first ${checkpoint.size} records` });
    }
    report.checkpoints += 1;
    report.covered = checkpoint.size;
    if (!report.kids.includes(signed.kid)) report.kids.push(signed.kid);
  }

  if (tornLine !== undefined) {
    // What a crash mid-append leaves; the enforcement point cuts it off when it next opens the log.
    return fail({
      file: checkpointsFile,
      line: tornLine,
      reason: 'the last line is incomplete (torn write)',
    });
  }
  if (report.covered < leaves.length) {
    return fail({
      file: checkpointsFile,
      seq: report.covered,
      reason:
        report.checkpoints === 0
          ? 'no signed checkpoint covers the log'
          : `records from seq ${report.covered} on are not covered by a signed checkpoint`,
    });
  }
  return { ...report, ok: true };
}

/** `FILE:LINE (seq N): reason`, the one line `mcpgov evidence verify` prints on failure. */
export function formatFailure(f: VerifyFailure): string {
  const where = f.line === undefined ? f.file : `${f.file}:${f.line}`;
  return f.seq === undefined ? `${where}: ${f.reason}` : `${where} (seq ${f.seq}): ${f.reason}`;
}

/** Counts a verified record's kind, and follows approval requests through their events. */
function noteRecord(report: VerifyReport, record: Record<string, unknown>): void {
  const kind = String(record['kind']);
  report.kinds[kind] = (report.kinds[kind] ?? 0) + 1;
  const a = record['approval'] as Record<string, unknown> | undefined;
  if (kind !== 'approval' || typeof a !== 'object' || a === null || typeof a['request'] !== 'string') return;
  const id = a['request'];
  let trail = report.approvals.get(id);
  if (!trail) {
    trail = { tool: String(a['tool']), agent: (a['agent'] as string | null) ?? null, events: [] };
    report.approvals.set(id, trail);
  }
  const approver = a['approver'] as { sub?: string; via?: string } | undefined;
  const event = String(a['event']);
  trail.events.push(
    event === 'decided'
      ? `decided ${String(a['verdict'])} by ${approver?.sub ?? '?'} via ${approver?.via ?? '?'}`
      : event === 'grant_used'
        ? `grant used by decision ${String(a['used_by'])}`
        : event,
  );
}
