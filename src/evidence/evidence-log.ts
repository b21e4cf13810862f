import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../util/log.js';
import { lockEvidenceFolder, type FolderLock } from './folder-lock.js';
import {
  Checkpointer,
  CHECKPOINTS_FILE,
  CheckpointSchema,
  readCheckpoints,
  recordLeaf,
} from './checkpoints.js';
import { cutTornLastLine } from './line-file.js';
import { JsonlEvidenceStore, listSegments, readEvidence, type FsyncMode } from './jsonl-store.js';
import type { Signer } from './signer.js';
import { guardObserver, type EvidenceObserver } from './observer.js';
import type { AppendOptions, EvidenceRecord, EvidenceSink, RecordBody } from './types.js';

export interface EvidenceLogOptions {
  dir: string;
  fsync: FsyncMode;
  signer: Signer;
  /** Checkpoint origin line, e.g. `mcpgov/gateway@host`. */
  origin: string;
  /** Who writes the log (the PEP id), as its folder lock names it; default the origin. */
  writer?: string;
  checkpoint: { everyRecords: number; everySeconds: number };
  /** A segment past this size is sealed at the next checkpoint that covers it. */
  segmentMaxBytes: number;
  log: Logger;
  /** Told of every record written, and how long appends and fdatasyncs take (metrics). */
  observer?: EvidenceObserver;
}

/**
 * The evidence log of one enforcement point: hash-chained records in segment files, with signed
 * Merkle checkpoints over them. What a verifier needs is the folder and the public key.
 */
export class EvidenceLog implements EvidenceSink {
  private constructor(
    private readonly store: JsonlEvidenceStore,
    private readonly checkpointer: Checkpointer,
    private readonly durableListeners: Set<(count: number) => void>,
    private readonly lock: FolderLock,
    /** The log's folder. */
    readonly dir: string,
    private readonly checkpointTimes: { last?: number; listeners: Set<() => void> },
    private readonly signer: Signer,
  ) {}

  /** The public key set of the log's signer: what a verifier of its checkpoints needs. */
  get publicJwks(): { keys: Signer['publicJwk'][] } {
    return { keys: [this.signer.publicJwk] };
  }

  /** Calls `listener` after each signed checkpoint; returns a function that stops it. */
  onCheckpoint(listener: () => void): () => void {
    this.checkpointTimes.listeners.add(listener);
    return () => this.checkpointTimes.listeners.delete(listener);
  }

  /**
   * Why the log cannot take records (or checkpoints) until it is reopened, if it cannot: a failed
   * fdatasync, or a write that could not be cut back.
   */
  get failure(): Error | undefined {
    return this.store.failure ?? this.checkpointer.failure;
  }

  /** When the last signed checkpoint was written (milliseconds since the epoch), if there is one. */
  get lastCheckpointAt(): number | undefined {
    return this.checkpointTimes.last;
  }

  /** Records covered by the last signed checkpoint. */
  get covered(): number {
    return this.checkpointer.covered;
  }

  /** Records that are durable (written and synced per the fsync mode); a forwarder ships no more. */
  get durableCount(): number {
    return this.store.durableCount;
  }

  /**
   * Lets the log run an fdatasync on the event loop when `alone()` says nothing else could run
   * meanwhile (the enforcement point has one call in flight).
   */
  syncInlineWhen(alone: () => boolean): void {
    this.store.syncInline = alone;
  }

  /** Calls `listener` whenever more records become durable; returns a function that stops it. */
  onDurable(listener: (count: number) => void): () => void {
    this.durableListeners.add(listener);
    return () => this.durableListeners.delete(listener);
  }

  /**
   * Opens the log, rebuilds its Merkle tree, and signs a checkpoint over any tail a crash left
   * uncovered. Refuses to start on a log shorter than its own last checkpoint: records were lost or
   * removed, and extending such a log would hide it. The log has one writer: opening a folder another
   * live process writes to throws EvidenceFolderLockedError.
   */
  static async open(opts: EvidenceLogOptions): Promise<EvidenceLog> {
    await mkdir(opts.dir, { recursive: true });
    const lock = await lockEvidenceFolder(opts.dir, opts.writer ?? opts.origin, opts.log);
    try {
      return await EvidenceLog.openLocked(opts, lock);
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  private static async openLocked(opts: EvidenceLogOptions, lock: FolderLock): Promise<EvidenceLog> {
    // A crash mid-append tears the last line of the segment being written or of the checkpoints:
    // cut it off (and say so) before anything is read, as the record store does for its own tail.
    const checkpointsFile = path.join(opts.dir, CHECKPOINTS_FILE);
    const lastSegment = (await listSegments(opts.dir)).at(-1);
    for (const [file, what] of [
      [lastSegment, 'record'],
      [checkpointsFile, 'checkpoint'],
    ] as const) {
      const torn = file === undefined ? 0 : await cutTornLastLine(file);
      if (torn > 0) {
        opts.log('warn', `cut off a torn last ${what} line left by an interrupted write`, {
          file,
          bytes: torn,
        });
      }
    }
    const existing = await readEvidence(opts.dir);
    const checkpoints = await readCheckpoints(opts.dir);
    const lastLine = checkpoints[checkpoints.length - 1];
    const lastSize = lastLine ? lastCheckpointSize(checkpointsFile, lastLine) : 0;
    if (lastSize > existing.length) {
      throw new Error(
        `${opts.dir}: the last checkpoint covers ${lastSize} records but the log holds ${existing.length}: ` +
          'records were lost or removed; run "mcpgov evidence verify" and keep this folder as it is',
      );
    }
    // The store feeds the checkpointer, which reads the store's durable count: wire them through a holder.
    const feed: { checkpointer?: Checkpointer } = {};
    const durableListeners = new Set<(count: number) => void>();
    const checkpointTimes = {
      last: lastLine ? lastCheckpointTime(lastLine.text) : undefined,
      listeners: new Set<() => void>(),
    };
    // Guarded once here: a metric that throws must never cost a record or leave an append waiting.
    const observer = guardObserver(opts.observer);
    const store = await JsonlEvidenceStore.open({
      dir: opts.dir,
      fsync: opts.fsync,
      observer,
      onWrite: (record) => {
        feed.checkpointer?.add(record.hash);
        observer?.written(record);
      },
      onDurable: (count) => {
        for (const listener of durableListeners) listener(count);
      },
    });
    const checkpointer = new Checkpointer(
      {
        dir: opts.dir,
        origin: opts.origin,
        signer: opts.signer,
        everyRecords: opts.checkpoint.everyRecords,
        everySeconds: opts.checkpoint.everySeconds,
        log: opts.log,
        existingLeaves: existing.map((r) => recordLeaf(r.hash)),
        lastSize,
        onCheckpoint: (size) => {
          checkpointTimes.last = Date.now();
          for (const listener of checkpointTimes.listeners) listener();
          // Seal the segment once a checkpoint covers all of it, so segments always end on a checkpoint.
          if (size === store.count && store.size >= opts.segmentMaxBytes) void store.rotate();
        },
      },
      () => store.durableCount,
    );
    feed.checkpointer = checkpointer;
    if (store.count > lastSize) await checkpointer.checkpoint();
    return new EvidenceLog(
      store,
      checkpointer,
      durableListeners,
      lock,
      opts.dir,
      checkpointTimes,
      opts.signer,
    );
  }

  /** Number of records in the log. */
  get count(): number {
    return this.store.count;
  }

  append(body: RecordBody, options?: AppendOptions): Promise<EvidenceRecord> {
    return this.store.append(body, options);
  }

  /** Waits for pending appends, then signs a checkpoint over everything written so far. */
  async checkpoint(): Promise<void> {
    await this.store.flush();
    await this.checkpointer.checkpoint();
  }

  flush(): Promise<void> {
    return this.store.flush();
  }

  async close(): Promise<void> {
    await this.store.flush();
    await this.checkpointer.close();
    await this.store.close();
    await this.lock.release();
  }
}

/** The time a checkpoint line (already checked by lastCheckpointSize) was signed. */
function lastCheckpointTime(text: string): number | undefined {
  const time = Date.parse(CheckpointSchema.parse(JSON.parse(text)).time);
  return Number.isNaN(time) ? undefined : time;
}

/** The size of the last checkpoint; a last line that is whole but not a checkpoint refuses the start. */
function lastCheckpointSize(file: string, last: { line: number; text: string }): number {
  try {
    return CheckpointSchema.parse(JSON.parse(last.text)).size;
  } catch (err) {
    throw new Error(
      `${file}:${last.line}: the last line is not a checkpoint (${(err as Error).message.split('\n')[0]}); ` +
        'refusing to extend it: run "mcpgov evidence verify" and keep this folder as it is',
      { cause: err },
    );
  }
}
