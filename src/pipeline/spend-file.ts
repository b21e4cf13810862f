import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { Reservation } from '../core/decision.js';
import type { Logger } from '../util/log.js';
import { MemoryCounterStore, type CounterStore } from './counters.js';

/** The file in the state folder that keeps each day's spend totals. */
export const SPEND_FILE = 'spend.json';
/** How long a change waits before it is written, so a burst of calls costs one write. */
const DEBOUNCE_MS = 1000;
/** A day, in milliseconds. */
const DAY_MS = 86_400_000;

/** What `spend.json` holds: totals by UTC day, then by key (agent, or agent and tool). */
const SpendFileSchema = z.strictObject({
  version: z.literal(1),
  days: z.record(z.string(), z.record(z.string(), z.number().finite().nonnegative())),
});

/** Options of the file-backed store. */
export interface FileCounterOptions {
  /** Milliseconds since the epoch; decides which days are old. */
  clock?: () => number;
  log?: Logger;
}

/**
 * The embedded default: counters in memory, with each day's spend totals persisted to `spend.json` in
 * the state folder, so a restart does not reset a daily spend cap. Rate windows stay in memory (a
 * minute's window is lost at most once). Writes are atomic (temp file, then rename) and debounced;
 * `close` writes what is pending. Days before yesterday (UTC) are dropped.
 */
export class FileCounterStore implements CounterStore {
  private readonly memory: MemoryCounterStore;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;

  private constructor(
    private readonly file: string,
    spend: Record<string, Record<string, number>>,
    private readonly opts: FileCounterOptions,
  ) {
    this.memory = new MemoryCounterStore({ spend, onSpendChange: () => this.schedule() });
  }

  /** Reads `spend.json` from `dir` (none yet: empty totals); a file that does not parse is an error. */
  static async open(dir: string, opts: FileCounterOptions = {}): Promise<FileCounterStore> {
    const file = path.join(dir, SPEND_FILE);
    let text: string | undefined;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    let days: Record<string, Record<string, number>> = {};
    if (text !== undefined) {
      // Refusing to start beats starting from zero: a lost total would lift every daily cap.
      const parsed = SpendFileSchema.safeParse(safeJson(text));
      if (!parsed.success) throw new Error(`${file}: not a spend state file (${parsed.error.message})`);
      days = parsed.data.days;
    }
    const store = new FileCounterStore(file, days, opts);
    return store;
  }

  acquireRate(key: string, now: number, limit: number, windowMs: number): Promise<Reservation | undefined> {
    return this.memory.acquireRate(key, now, limit, windowMs);
  }

  chargeSpend(key: string, day: string, amount: number, limit: number): Promise<Reservation | undefined> {
    return this.memory.chargeSpend(key, day, amount, limit);
  }

  /** Writes the current totals now (after any write in progress). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.dirty = false;
    const oldest = new Date((this.opts.clock ?? Date.now)() - DAY_MS).toISOString().slice(0, 10);
    const days = this.memory.spendTotals((day) => day >= oldest);
    this.writing = this.writing.then(() => this.write(days));
    return this.writing;
  }

  /** Writes what is pending; the store keeps working in memory afterwards. */
  async close(): Promise<void> {
    if (this.dirty) await this.flush();
    await this.writing;
  }

  private schedule(): void {
    this.dirty = true;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.flush().catch(() => {});
    }, DEBOUNCE_MS);
    this.timer.unref();
  }

  private async write(days: Record<string, Record<string, number>>): Promise<void> {
    const temp = `${this.file}.${randomUUID()}.tmp`;
    try {
      await mkdir(path.dirname(this.file), { recursive: true });
      await writeFile(temp, `${JSON.stringify({ version: 1, days })}\n`);
      await rename(temp, this.file);
    } catch (err) {
      // The totals stay in memory and the next change writes them again.
      this.dirty = true;
      this.opts.log?.('error', 'spend totals not persisted', {
        file: this.file,
        error: (err as Error).message,
      });
    }
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
