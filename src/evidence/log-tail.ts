import { open, stat } from 'node:fs/promises';
import { listSegments } from './jsonl-store.js';

/** One record as it sits in the log: its seq and its line (without the newline). */
export interface RawRecord {
  seq: number;
  line: string;
}

/**
 * Reads an evidence log's records in seq order from a given seq on, across segments, as the log
 * grows: what a forwarder ships. Only complete lines are returned, so a line being written is read
 * on a later call. Finding the start scans the log once; after that reads continue where they left.
 */
export class LogTail {
  private segment = 0;
  private offset = 0;
  /** Seq of the next line at (segment, offset). */
  private nextSeq = 0;

  constructor(
    private readonly dir: string,
    private readonly fromSeq: number,
  ) {}

  /** Up to `max` records from where the last call stopped (at first: from `fromSeq`). */
  async read(max: number): Promise<RawRecord[]> {
    const out: RawRecord[] = [];
    const segments = await listSegments(this.dir);
    while (out.length < max && this.segment < segments.length) {
      const file = segments[this.segment]!;
      const size = (await stat(file)).size;
      if (this.offset < size) {
        const fh = await open(file, 'r');
        try {
          const chunk = Buffer.alloc(Math.min(size - this.offset, 4 * 1024 * 1024));
          const { bytesRead } = await fh.read(chunk, 0, chunk.length, this.offset);
          let start = 0;
          for (let nl = chunk.indexOf(0x0a); nl !== -1 && nl < bytesRead; nl = chunk.indexOf(0x0a, start)) {
            const seq = this.nextSeq++;
            if (seq >= this.fromSeq) out.push({ seq, line: chunk.subarray(start, nl).toString('utf8') });
            start = nl + 1;
            if (out.length >= max) break;
          }
          this.offset += start;
          if (start === 0 && bytesRead === chunk.length) {
            throw new Error(`${file}: a line longer than ${chunk.length} bytes`);
          }
        } finally {
          await fh.close();
        }
        if (out.length >= max) break;
        if (this.offset < size) continue;
      }
      // A segment is complete once a later one exists; the last one may still grow.
      if (this.segment < segments.length - 1) {
        this.segment += 1;
        this.offset = 0;
      } else break;
    }
    return out;
  }

  /** The seq of the next record `read` returns. */
  get position(): number {
    return Math.max(this.nextSeq, this.fromSeq);
  }
}
