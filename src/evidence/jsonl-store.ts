import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { recordHash } from './hash.js';
import { EvidenceRecordSchema, type EvidenceRecord, type EvidenceSink, type RecordBody } from './types.js';

/** When an append resolves: after fsync of its own write, after the group's fsync, or after the write. */
export type FsyncMode = 'always' | 'batch' | 'none';

export interface JsonlStoreOptions {
  dir: string;
  file?: string;
  fsync: FsyncMode;
}

interface Pending {
  line: string;
  record: EvidenceRecord;
  resolve: (record: EvidenceRecord) => void;
  reject: (err: Error) => void;
}

/** The error an append rejects with when its record could not be made durable. */
export class EvidenceUnavailableError extends Error {
  readonly code = 'evidence_unavailable';
  constructor(cause: unknown) {
    super(`evidence record not written: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'EvidenceUnavailableError';
  }
}

/**
 * The embedded evidence sink: one append-only JSONL log. `seq`, `prev` and `hash` are assigned at
 * append time, so file order is seq order. In `batch` mode records that arrive while a write is in
 * flight go out together in one write and one fdatasync (group commit); each append resolves only once
 * the fsync covering it is done.
 *
 * On a failed write or fsync, the records not yet durable are rejected, the file is cut back to the last
 * durable record and the chain continues from it, so the log on disk never has a gap or a broken link.
 * If the file cannot be cut back, every later append is refused: the store fails closed.
 */
export class JsonlEvidenceStore implements EvidenceSink {
  private pending: Pending[] = [];
  private flushing?: Promise<void>;
  private broken?: Error;

  private constructor(
    private readonly fh: FileHandle,
    readonly file: string,
    private readonly fsync: FsyncMode,
    private nextSeq: number,
    private prev: string | null,
    private durable: { seq: number; prev: string | null; size: number },
  ) {}

  /** Opens (or creates) the log and continues its chain; a torn last line from a crash is cut off. */
  static async open(opts: JsonlStoreOptions): Promise<JsonlEvidenceStore> {
    await mkdir(opts.dir, { recursive: true });
    const file = path.join(opts.dir, opts.file ?? 'evidence.jsonl');
    const fh = await open(file, 'a+');
    try {
      const tail = await readTail(fh, file);
      return new JsonlEvidenceStore(fh, file, opts.fsync, tail.nextSeq, tail.prev, {
        seq: tail.nextSeq,
        prev: tail.prev,
        size: tail.size,
      });
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  append(body: RecordBody): Promise<EvidenceRecord> {
    if (this.broken) return Promise.reject(new EvidenceUnavailableError(this.broken));
    const unhashed = { ...body, seq: this.nextSeq, prev: this.prev };
    const record = { ...unhashed, hash: recordHash(unhashed) } as EvidenceRecord;
    this.nextSeq += 1;
    this.prev = record.hash;
    const line = `${JSON.stringify(record)}\n`;
    return new Promise((resolve, reject) => {
      this.pending.push({ line, record, resolve, reject });
      this.flushing ??= this.flush();
    });
  }

  async close(): Promise<void> {
    await this.flushing;
    await this.fh.close();
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      if (this.broken) {
        for (const p of this.pending.splice(0)) p.reject(new EvidenceUnavailableError(this.broken));
        break;
      }
      const group = this.fsync === 'always' ? this.pending.splice(0, 1) : this.pending.splice(0);
      const data = group.map((p) => p.line).join('');
      try {
        await this.fh.write(data);
        if (this.fsync !== 'none') await this.fh.datasync();
      } catch (err) {
        await this.rollBack(group, err);
        continue;
      }
      const last = group[group.length - 1]!.record;
      this.durable = {
        seq: last.seq + 1,
        prev: last.hash,
        size: this.durable.size + Buffer.byteLength(data),
      };
      for (const p of group) p.resolve(p.record);
    }
    this.flushing = undefined;
  }

  /** Rejects everything not yet durable and returns the chain (and the file) to the last durable record. */
  private async rollBack(group: Pending[], cause: unknown): Promise<void> {
    const failed = [...group, ...this.pending.splice(0)];
    this.nextSeq = this.durable.seq;
    this.prev = this.durable.prev;
    for (const p of failed) p.reject(new EvidenceUnavailableError(cause));
    try {
      await this.fh.truncate(this.durable.size);
    } catch (err) {
      this.broken = err as Error;
    }
  }
}

/** Reads the last complete record of a log, truncating a torn tail. */
async function readTail(
  fh: FileHandle,
  file: string,
): Promise<{ nextSeq: number; prev: string | null; size: number }> {
  let { size } = await fh.stat();
  const NL = 0x0a;
  let buf = Buffer.alloc(0);
  let start = size;
  // Read backwards until the buffer holds the last complete line and the newline before it.
  while (start > 0) {
    const from = Math.max(0, start - 64 * 1024);
    const chunk = Buffer.alloc(start - from);
    await fh.read(chunk, 0, chunk.length, from);
    buf = Buffer.concat([chunk, buf]);
    start = from;
    const end = buf.lastIndexOf(NL);
    if (end > 0 && buf.lastIndexOf(NL, end - 1) >= 0) break;
  }
  const end = buf.lastIndexOf(NL);
  if (end !== buf.length - 1) {
    const torn = buf.length - (end + 1);
    size -= torn;
    await fh.truncate(size);
    process.stderr.write(
      `mcpgov: ${file}: cut off a torn last line (${torn} bytes) left by an interrupted write\n`,
    );
  }
  if (end < 0) return { nextSeq: 0, prev: null, size: 0 };
  const lineStart = end > 0 ? buf.lastIndexOf(NL, end - 1) + 1 : 0;
  const last = buf.subarray(lineStart, end).toString('utf8');
  let record: EvidenceRecord;
  try {
    record = EvidenceRecordSchema.parse(JSON.parse(last));
  } catch (err) {
    throw new Error(
      `${file}: the last line is not an evidence record (${(err as Error).message.split('\n')[0]}); refusing to extend it`,
      { cause: err },
    );
  }
  return { nextSeq: record.seq + 1, prev: record.hash, size };
}

/** Reads every record of a log file. */
export async function readEvidence(file: string): Promise<EvidenceRecord[]> {
  const text = await readFile(file, 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as EvidenceRecord);
}
