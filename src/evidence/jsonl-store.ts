import { fdatasync, fdatasyncSync, ftruncateSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, readFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { sealRecord } from './canonical-record.js';
import {
  EvidenceRecordSchema,
  type AppendOptions,
  type EvidenceRecord,
  type EvidenceSink,
  type RecordBody,
} from './types.js';
import type { EvidenceObserver } from './observer.js';

/** When an append resolves: after fsync of its own write, after the group's fsync, or after the write. */
export type FsyncMode = 'always' | 'batch' | 'none';

export interface JsonlStoreOptions {
  dir: string;
  fsync: FsyncMode;
  /** Called synchronously for every record written, in seq order (the checkpointer's feed). */
  onWrite?: (record: EvidenceRecord) => void;
  /** Called when more records have become durable (a forwarder ships durable records only). */
  onDurable?: (durableCount: number) => void;
  /** Told how long appends and fdatasyncs take, and of refused appends (metrics). */
  observer?: EvidenceObserver;
}

interface Waiter {
  record: EvidenceRecord;
  /** The record's JSON line, newline included. */
  line: string;
  /** The append waits for an fdatasync covering the record. */
  durable: boolean;
  resolve: (record: EvidenceRecord) => void;
  reject: (err: Error) => void;
  /** `performance.now()` at append, when an observer times appends. */
  started: number;
}

/** Segment files are `log-000001.jsonl`, `log-000002.jsonl`, ...: their names sort in log order. */
const SEGMENT = /^log-(\d{6,})\.jsonl$/;
export const segmentName = (n: number) => `log-${String(n).padStart(6, '0')}.jsonl`;

/** The segment files of an evidence folder, in log order. */
export async function listSegments(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  return names
    .filter((n) => SEGMENT.test(n))
    .sort()
    .map((n) => path.join(dir, n));
}

/** How long a record appended with `durable: false` may wait for an fdatasync when nothing else syncs. */
const DEFERRED_SYNC_MS = 200;

/** The error an append rejects with when its record could not be made durable. */
export class EvidenceUnavailableError extends Error {
  readonly code = 'evidence_unavailable';
  constructor(cause: unknown) {
    super(`evidence record not written: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'EvidenceUnavailableError';
  }
}

/**
 * The embedded evidence sink: an append-only JSONL log in segment files. `seq`, `prev` and `hash` are
 * assigned at append time and lines are written in seq order, one write per group of records appended
 * while the previous group was written. Durability follows `fsync`: `always` writes and fdatasyncs
 * record by record; `batch` group-commits, one write and one fdatasync per group; `none` leaves it to
 * the OS. An append resolves only once its record is as durable as the mode promises.
 *
 * Failure never leaves a gap or a broken link on disk: a failed write is cut back and the chain
 * continues from the last good record; a failed fdatasync means the disk can no longer be trusted, so
 * the store refuses every later append (fail closed) until it is reopened.
 */
export class JsonlEvidenceStore implements EvidenceSink {
  /** Sealed (seq, prev and hash assigned), waiting to be written. */
  private queued: Waiter[] = [];
  /** Records in the file (the seq after the last one written). */
  private writtenCount: number;
  /** An fdatasync is owed to records written without one. */
  private syncWanted = false;
  private deferred?: NodeJS.Timeout;
  /** The running drain loop, if any. */
  private draining?: Promise<void>;
  private broken?: Error;
  /** Records known durable (per the fsync mode): checkpoints cover no more than this. */
  durableCount: number;
  /**
   * Whether an fdatasync may run on the event loop itself rather than on the thread pool: true when
   * nothing else could run meanwhile (one call in flight), which saves the two thread hand-offs.
   */
  syncInline?: () => boolean;

  private constructor(
    private fh: FileHandle,
    /** Path of the segment being written. */
    public file: string,
    private segment: number,
    private readonly opts: JsonlStoreOptions,
    private nextSeq: number,
    private prev: string | null,
    /** Bytes in the current segment. */
    public size: number,
  ) {
    this.durableCount = nextSeq;
    this.writtenCount = nextSeq;
  }

  /** Opens (or creates) the log and continues its chain; a torn last line from a crash is cut off. */
  static async open(opts: JsonlStoreOptions): Promise<JsonlEvidenceStore> {
    await mkdir(opts.dir, { recursive: true });
    const segments = await listSegments(opts.dir);
    // The last segment may be empty (rotated just before a crash): the chain continues from the one before.
    let tail = { nextSeq: 0, prev: null as string | null, size: 0 };
    for (const file of [...segments].reverse()) {
      const fh = await open(file, 'r+');
      try {
        const t = await readTail(fh, file);
        if (file === segments[segments.length - 1]) tail.size = t.size;
        if (t.found) {
          tail = { ...t, size: tail.size };
          break;
        }
      } finally {
        await fh.close();
      }
    }
    const last = segments[segments.length - 1];
    const segment = last ? Number(SEGMENT.exec(path.basename(last))?.[1]) : 1;
    const file = last ?? path.join(opts.dir, segmentName(segment));
    const fh = await open(file, 'a+');
    return new JsonlEvidenceStore(fh, file, segment, opts, tail.nextSeq, tail.prev, tail.size);
  }

  /** The current segment's descriptor (re-read on every use: rotation replaces it). */
  private get fd(): number {
    return this.fh.fd;
  }

  /** Number of records in the log (the next seq). */
  get count(): number {
    return this.nextSeq;
  }

  /** Why the store refuses every append (a failed fdatasync, or a write it could not cut back), if it does. */
  get failure(): Error | undefined {
    return this.broken;
  }

  append(body: RecordBody, options: AppendOptions = {}): Promise<EvidenceRecord> {
    if (this.broken) {
      this.opts.observer?.refused();
      return Promise.reject(new EvidenceUnavailableError(this.broken));
    }
    const record = copyRecord(body, this.nextSeq, this.prev);
    const { hash, line } = sealRecord(record);
    // Added after sealing: the hash covers the record without it, and `hash` stays the last member.
    record.hash = hash;
    this.nextSeq += 1;
    this.prev = hash;
    const durable = options.durable !== false || this.opts.fsync === 'always';
    const started = this.opts.observer ? performance.now() : 0;
    return new Promise((resolve, reject) => {
      this.queued.push({ record, line, durable, resolve, reject, started });
      this.draining ??= this.drain();
    });
  }

  /**
   * Writes queued records in seq order, one write per group, then makes each group durable per the
   * fsync mode before resolving its appends. Records appended while a write or fdatasync runs form the
   * next group, so under load one syscall pair covers many records (group commit). A group of records
   * appended with `durable: false` only is written without waiting for an fdatasync; the next one
   * (another group's, a flush, or a deferred one) covers it.
   */
  private async drain(): Promise<void> {
    // Let every record appended in the current tick join the first group.
    await Promise.resolve();
    while (this.queued.length > 0 || this.syncWanted) {
      const group = this.opts.fsync === 'always' ? this.queued.splice(0, 1) : this.queued.splice(0);
      if (group.length > 0 && !this.write(group)) continue;
      const wanted = this.syncWanted || group.some((w) => w.durable);
      this.syncWanted = false;
      const before = this.durableCount;
      if (this.opts.fsync === 'none') this.durableCount = this.writtenCount;
      else if (wanted && this.writtenCount > this.durableCount) {
        const covering = this.writtenCount;
        if (!(await this.sync(group))) continue;
        this.durableCount = covering;
      } else if (this.writtenCount > this.durableCount) this.deferSync();
      if (this.durableCount > before) this.opts.onDurable?.(this.durableCount);
      const observer = this.opts.observer;
      const now = observer ? performance.now() : 0;
      for (const w of group) {
        w.resolve(w.record);
        observer?.appended((now - w.started) / 1000);
      }
    }
    this.draining = undefined;
  }

  /** Makes written records durable soon, when nothing else does it first. */
  private deferSync(): void {
    if (this.deferred) return;
    this.deferred = setTimeout(() => {
      this.deferred = undefined;
      this.requestSync();
    }, DEFERRED_SYNC_MS);
    this.deferred.unref();
  }

  private requestSync(): void {
    if (this.broken || this.writtenCount <= this.durableCount) return;
    this.syncWanted = true;
    this.draining ??= this.drain();
  }

  /** Appends a group's lines with one write; on failure cuts the file back and rejects the rest. */
  private write(group: Waiter[]): boolean {
    const bytes = Buffer.from(group.length === 1 ? group[0]!.line : group.map((w) => w.line).join(''));
    try {
      // A synchronous append to the page cache costs microseconds; only the fdatasync is slow, and
      // that runs off the event loop.
      writeFully(this.fd, bytes);
    } catch (err) {
      this.cutBack();
      // Every record queued after this group chains from it: none of them can be written now, and the
      // chain resumes from the last record on disk.
      this.nextSeq = group[0]!.record.seq;
      this.prev = group[0]!.record.prev;
      this.fail([...group, ...this.queued.splice(0)], err);
      return false;
    }
    this.size += bytes.length;
    this.writtenCount = group[group.length - 1]!.record.seq + 1;
    for (const w of group) this.opts.onWrite?.(w.record);
    return true;
  }

  /** fdatasync; a failure means the disk can no longer be trusted, so the store refuses every later append. */
  private async sync(group: Waiter[]): Promise<boolean> {
    try {
      // The callback form: FileHandle's promise wrapper costs more than the syscall's dispatch here.
      const fd = this.fd;
      const started = performance.now();
      // Inline when nothing else waits (a lone call): the loop has nothing to do meanwhile, and the
      // thread pool's hand-off there and back costs a third of the fdatasync itself. Under load the
      // thread pool's sync lets the loop decide the next group's calls while the disk works.
      if (this.syncInline?.() === true && this.queued.length === 0) fdatasyncSync(fd);
      else
        await new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
      this.opts.observer?.synced((performance.now() - started) / 1000);
      return true;
    } catch (err) {
      this.broken = err as Error;
      this.fail([...group, ...this.queued.splice(0)], err);
      return false;
    }
  }

  private fail(waiters: Waiter[], err: unknown): void {
    for (const w of waiters) {
      w.reject(new EvidenceUnavailableError(err));
      this.opts.observer?.refused();
    }
  }

  /** Resolves once every record appended so far is written and durable (per the fsync mode). */
  async flush(): Promise<void> {
    this.requestSync();
    while (this.draining) await this.draining;
  }

  /**
   * Starts a new segment. Called after a checkpoint that covers every record, so each sealed segment
   * ends on a checkpoint and can be shipped to WORM storage as it is.
   */
  async rotate(): Promise<void> {
    await this.flush();
    const next = this.segment + 1;
    const file = path.join(this.opts.dir, segmentName(next));
    const fh = await open(file, 'a+');
    const old = this.fh;
    this.fh = fh;
    this.file = file;
    this.segment = next;
    this.size = 0;
    await old.close();
  }

  async close(): Promise<void> {
    await this.flush();
    clearTimeout(this.deferred);
    await this.fh.close();
  }

  /** Removes a partly written line so the file ends at the last good record; fails closed if it cannot. */
  private cutBack(): void {
    try {
      ftruncateSync(this.fd, this.size);
    } catch (err) {
      this.broken = err as Error;
    }
  }
}

/**
 * `{ ...body, seq, prev }`. Object.assign copies a plain object several times faster than a spread in
 * V8; the two differ only for an own `__proto__` member (which Object.assign would take as the
 * copy's prototype), and such a body is copied by the spread.
 */
function copyRecord(body: RecordBody, seq: number, prev: string | null): EvidenceRecord {
  const record = Object.hasOwn(body, '__proto__')
    ? { ...body, seq, prev }
    : Object.assign({}, body, { seq, prev });
  return record as EvidenceRecord;
}

/** Writes every byte (a write may be partial) at the end of the file. */
function writeFully(fd: number, bytes: Buffer): void {
  let offset = 0;
  while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
}

/** Reads the last complete record of a segment, truncating a torn tail. */
async function readTail(
  fh: FileHandle,
  file: string,
): Promise<{ found: boolean; nextSeq: number; prev: string | null; size: number }> {
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
  if (end < 0) return { found: false, nextSeq: 0, prev: null, size: 0 };
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
  return { found: true, nextSeq: record.seq + 1, prev: record.hash, size };
}

/** Every record line of an evidence folder's segments, as written (no newline), in log order. */
export async function readEvidenceLines(dir: string): Promise<string[]> {
  const lines: string[] = [];
  for (const file of await listSegments(dir)) {
    for (const line of (await readFile(file, 'utf8')).split('\n')) if (line) lines.push(line);
  }
  return lines;
}

/** Reads every record of an evidence folder's segments, in log order. */
export async function readEvidence(dir: string): Promise<EvidenceRecord[]> {
  return (await readEvidenceLines(dir)).map((line) => JSON.parse(line) as EvidenceRecord);
}
