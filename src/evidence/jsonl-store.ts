import { ftruncateSync, writeSync } from 'node:fs';
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { sealRecord } from './hash.js';
import { EvidenceRecordSchema, type EvidenceRecord, type EvidenceSink, type RecordBody } from './types.js';

/** When an append resolves: after fsync of its own write, after the group's fsync, or after the write. */
export type FsyncMode = 'always' | 'batch' | 'none';

export interface JsonlStoreOptions {
  dir: string;
  file?: string;
  fsync: FsyncMode;
}

interface Waiter {
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
 * append time and the line is written at once, so file order is seq order. Durability follows
 * `fsync`: `always` runs an fdatasync for each record; `batch` group-commits, one fdatasync covering
 * every record written while the previous one ran; `none` leaves it to the OS. An append resolves only
 * once its record is as durable as the mode promises.
 *
 * Failure never leaves a gap or a broken link on disk: a failed write is cut back and the chain
 * continues from the last good record; a failed fdatasync means the disk can no longer be trusted, so
 * the store refuses every later append (fail closed) until it is reopened.
 */
export class JsonlEvidenceStore implements EvidenceSink {
  /** Written, waiting for the next fdatasync. */
  private unsynced: Waiter[] = [];
  private syncing?: Promise<void>;
  private broken?: Error;

  private constructor(
    private readonly fh: FileHandle,
    readonly file: string,
    private readonly fsync: FsyncMode,
    private nextSeq: number,
    private prev: string | null,
    private size: number,
  ) {}

  /** Opens (or creates) the log and continues its chain; a torn last line from a crash is cut off. */
  static async open(opts: JsonlStoreOptions): Promise<JsonlEvidenceStore> {
    await mkdir(opts.dir, { recursive: true });
    const file = path.join(opts.dir, opts.file ?? 'evidence.jsonl');
    const fh = await open(file, 'a+');
    try {
      const tail = await readTail(fh, file);
      return new JsonlEvidenceStore(fh, file, opts.fsync, tail.nextSeq, tail.prev, tail.size);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  append(body: RecordBody): Promise<EvidenceRecord> {
    if (this.broken) return Promise.reject(new EvidenceUnavailableError(this.broken));
    const unhashed = { ...body, seq: this.nextSeq, prev: this.prev };
    const { hash, line } = sealRecord(unhashed);
    const record = { ...unhashed, hash } as EvidenceRecord;
    const bytes = Buffer.from(line);
    try {
      // A synchronous append to the page cache costs microseconds; only the fdatasync below is slow,
      // and that runs off the event loop.
      writeFully(this.fh.fd, bytes);
    } catch (err) {
      this.cutBack();
      return Promise.reject(new EvidenceUnavailableError(err));
    }
    this.nextSeq += 1;
    this.prev = record.hash;
    this.size += bytes.length;
    if (this.fsync === 'none') return Promise.resolve(record);
    return new Promise((resolve, reject) => {
      this.unsynced.push({ record, resolve, reject });
      if (this.fsync === 'always') void this.sync(this.unsynced.splice(0));
      else this.syncing ??= this.groupCommit();
    });
  }

  async flush(): Promise<void> {
    while (this.syncing) await this.syncing;
  }

  async close(): Promise<void> {
    await this.flush();
    await this.fh.close();
  }

  /** Runs fdatasyncs back to back until no written record waits for one. */
  private async groupCommit(): Promise<void> {
    while (this.unsynced.length > 0) await this.sync(this.unsynced.splice(0));
    this.syncing = undefined;
  }

  private async sync(group: Waiter[]): Promise<void> {
    try {
      await this.fh.datasync();
    } catch (err) {
      this.broken = err as Error;
      for (const w of [...group, ...this.unsynced.splice(0)]) w.reject(new EvidenceUnavailableError(err));
      return;
    }
    for (const w of group) w.resolve(w.record);
  }

  /** Removes a partly written line so the file ends at the last good record; fails closed if it cannot. */
  private cutBack(): void {
    try {
      ftruncateSync(this.fh.fd, this.size);
    } catch (err) {
      this.broken = err as Error;
    }
  }
}

/** Writes every byte (a write may be partial) at the end of the file. */
function writeFully(fd: number, bytes: Buffer): void {
  let offset = 0;
  while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
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
