import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { Logger } from '../util/log.js';
import { appendLine, TornLineError } from './line-file.js';
import { CompactRange, leafHashOfHex } from './merkle.js';
import type { Signer } from './signer.js';

/** File of signed checkpoints beside the segments, one JSON object per line. */
export const CHECKPOINTS_FILE = 'checkpoints.jsonl';
/** JWS `typ` of a checkpoint signature. */
export const CHECKPOINT_TYP = 'mcpgov-checkpoint+jws';

/**
 * A signed checkpoint: the C2SP tlog-checkpoint body (`origin`, tree size, base64 root hash, each on its
 * own line) as the payload of a compact EdDSA JWS. The other fields repeat the body for readers.
 */
export const CheckpointSchema = z.object({
  v: z.literal('mcpgov.checkpoint/v1'),
  origin: z.string().min(1),
  size: z.number().int().nonnegative(),
  root: z.string(),
  time: z.string(),
  kid: z.string(),
  jws: z.string(),
});
export type Checkpoint = z.infer<typeof CheckpointSchema>;

/** The C2SP checkpoint body (https://c2sp.org/tlog-checkpoint). */
export function checkpointBody(origin: string, size: number, root: Uint8Array | string): string {
  const b64 = typeof root === 'string' ? root : Buffer.from(root).toString('base64');
  return `${origin}\n${size}\n${b64}\n`;
}

/** The Merkle leaf of a record: its `hash` as 32 raw bytes. */
export function recordLeaf(recordHash: string): Buffer {
  return leafHashOfHex(recordHash.slice('sha256:'.length));
}

/** The whole lines of a checkpoints file, and the number of a torn last line (no newline) if any. */
export async function readCheckpointFile(
  dir: string,
): Promise<{ lines: { line: number; text: string }[]; tornLine?: number }> {
  const text = await readFile(path.join(dir, CHECKPOINTS_FILE), 'utf8').catch(
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return '';
      throw err;
    },
  );
  const all = text.split('\n');
  // The part after the last newline is a line still being written, or one a crash tore.
  const tail = all.pop() ?? '';
  const lines = all.map((t, i) => ({ line: i + 1, text: t })).filter((l) => l.text !== '');
  return tail === '' ? { lines } : { lines, tornLine: all.length + 1 };
}

/** Reads the checkpoints of a folder: whole lines only; a missing file is no checkpoints. */
export async function readCheckpoints(dir: string): Promise<{ line: number; text: string }[]> {
  return (await readCheckpointFile(dir)).lines;
}

export interface CheckpointerOptions {
  dir: string;
  origin: string;
  signer: Signer;
  everyRecords: number;
  everySeconds: number;
  log: Logger;
  /** Records already in the log, to rebuild the tree on start. */
  existingLeaves: Buffer[];
  /** Size of the last checkpoint already on disk. */
  lastSize: number;
  /** Called after each checkpoint is on disk. */
  onCheckpoint?: (size: number) => void;
}

/**
 * Signs checkpoints over the log: every N records, every T seconds while records are uncovered, and on
 * demand (a chain closing, shutdown). A checkpoint covers only records already durable, so it can
 * never vouch for a record a crash could still lose.
 */
export class Checkpointer {
  /** The tree of every checkpointed leaf. */
  private range = new CompactRange();
  /** Leaves written after the last checkpoint. */
  private pending: Buffer[] = [];
  private lastSize: number;
  private running: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly opts: CheckpointerOptions,
    /** How many records are durable right now. */
    private readonly durableCount: () => number,
  ) {
    const covered = Math.min(opts.lastSize, opts.existingLeaves.length);
    for (const leaf of opts.existingLeaves.slice(0, covered)) this.range.append(leaf);
    this.pending = opts.existingLeaves.slice(covered);
    this.lastSize = covered;
    this.timer = setInterval(() => void this.checkpoint(), opts.everySeconds * 1000);
    this.timer.unref();
  }

  /** Size of the last signed checkpoint. */
  get covered(): number {
    return this.lastSize;
  }

  /** Set when a failed append could not be cut back: appending after a torn line would glue onto it. */
  private torn?: TornLineError;

  /** Why no checkpoint can be written until the log is reopened, if none can. */
  get failure(): Error | undefined {
    return this.torn;
  }

  /** True while a count-triggered checkpoint is queued or running: one at a time, not one per record. */
  private countTriggered = false;

  /** Feeds one written record; triggers a checkpoint every N records. */
  add(recordHash: string): void {
    this.pending.push(recordLeaf(recordHash));
    if (this.pending.length >= this.opts.everyRecords && !this.countTriggered) {
      this.countTriggered = true;
      void this.checkpoint().finally(() => (this.countTriggered = false));
    }
  }

  /** Signs a checkpoint over every durable record not yet covered; resolves once it is on disk. */
  checkpoint(): Promise<void> {
    this.running = this.running
      .then(() => this.signNext())
      .catch((err: Error) => {
        this.opts.log('error', 'checkpoint not written', { error: err.message });
      });
    return this.running;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.checkpoint();
  }

  private async signNext(): Promise<void> {
    if (this.torn) throw new Error(`no checkpoints until the log is reopened: ${this.torn.message}`);
    const size = Math.min(this.durableCount(), this.lastSize + this.pending.length);
    if (size <= this.lastSize) return;
    const tree = this.range.clone();
    const take = size - this.lastSize;
    for (const leaf of this.pending.slice(0, take)) tree.append(leaf);
    const root = tree.root();
    const body = checkpointBody(this.opts.origin, size, root);
    const jws = await this.opts.signer.sign(Buffer.from(body), CHECKPOINT_TYP);
    const checkpoint: Checkpoint = {
      v: 'mcpgov.checkpoint/v1',
      origin: this.opts.origin,
      size,
      root: root.toString('base64'),
      time: new Date().toISOString(),
      kid: this.opts.signer.kid,
      jws,
    };
    try {
      // Whole or not at all: a line cut by a full disk is cut back, so the next one cannot glue on.
      await appendLine(path.join(this.opts.dir, CHECKPOINTS_FILE), `${JSON.stringify(checkpoint)}\n`);
    } catch (err) {
      if (err instanceof TornLineError) this.torn = err;
      throw err;
    }
    // The tree just signed is the log's tree from now on: its leaves need no second hashing.
    this.pending.splice(0, take);
    this.range = tree;
    this.lastSize = size;
    this.opts.onCheckpoint?.(size);
  }
}
