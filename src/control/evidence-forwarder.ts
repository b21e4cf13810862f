import { readCheckpoints } from '../evidence/checkpoints.js';
import { LogTail } from '../evidence/log-tail.js';
import type { ReplicaCursor } from './evidence-replica.js';

/** How a forwarder reaches the receiving replica; each call resolves with the replica's cursor. */
export interface ReplicaLink {
  sendRecords(lines: string[]): Promise<ReplicaCursor>;
  sendCheckpoint(line: string): Promise<ReplicaCursor>;
}

/** Records per batch: large enough to amortise a round trip, small enough to keep messages modest. */
const BATCH = 500;

/**
 * Ships an evidence log to a replica, from the replica's cursor on: records in seq order, then the
 * checkpoints that cover them. The log on disk is the spool: what was written while the link was
 * down is simply read later, so a restart loses nothing and a resend is harmless (the replica keeps
 * each record once). One pump runs at a time; `notify` after appends asks for another.
 */
export class EvidenceForwarder {
  private tail: LogTail;
  private running?: Promise<void>;
  private again = false;

  constructor(
    private readonly dir: string,
    private readonly link: ReplicaLink,
    private cursor: ReplicaCursor,
    /**
     * How many records may be shipped: the log's durable count. A record a crash could still lose
     * must not reach the replica, or the restarted log would disagree with it.
     */
    private readonly shippable: () => number = () => Number.POSITIVE_INFINITY,
  ) {
    this.tail = new LogTail(dir, cursor.next_seq);
  }

  /** The receiver's cursor as last acknowledged. */
  get acknowledged(): ReplicaCursor {
    return this.cursor;
  }

  /** Sends everything not yet acknowledged; resolves when caught up (or rejects when the link fails). */
  pump(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(): Promise<void> {
    do {
      this.again = false;
      for (;;) {
        const room = this.shippable() - this.tail.position;
        if (room <= 0) break;
        const batch = await this.tail.read(Math.min(BATCH, room));
        if (batch.length === 0) break;
        const expected = batch[batch.length - 1]!.seq + 1;
        this.cursor = await this.link.sendRecords(batch.map((r) => r.line));
        // The replica may be elsewhere (it lost a tail, or already had these): resume at its cursor.
        if (this.cursor.next_seq !== expected) this.tail = new LogTail(this.dir, this.cursor.next_seq);
      }
      const checkpoints = await readCheckpoints(this.dir);
      for (const { text } of checkpoints.slice(this.cursor.checkpoints)) {
        const size = (JSON.parse(text) as { size: number }).size;
        if (size > this.cursor.next_seq) break; // its records are not all there yet
        this.cursor = await this.link.sendCheckpoint(text);
      }
    } while (this.again);
  }
}
