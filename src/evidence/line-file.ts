import { open, type FileHandle } from 'node:fs/promises';

/*
 * Whole lines in append-only files (checkpoints, replicas). A full disk can take part of a write:
 * write(2) returns a short count, then ENOSPC (POSIX write()). A line cut there and left in place
 * would have the next line glued onto it, and the file would stay broken after space returns. So an
 * append either lands whole or is cut back, and a torn last line found on opening (a crash mid-write)
 * is cut off, as the record log does with its own tail (jsonl-store.ts).
 */

/** The file could not be cut back after a failed append: a torn line may remain until it is reopened. */
export class TornLineError extends Error {
  constructor(file: string, cause: unknown, cutFailure: unknown) {
    super(
      `${file}: append failed (${(cause as Error).message}) and the file could not be cut back ` +
        `(${(cutFailure as Error).message})`,
      { cause },
    );
    this.name = 'TornLineError';
  }
}

/**
 * Appends `bytes` at the end of an open file and makes them durable. On any failure the file is cut
 * back to its size before the append and the error is rethrown; if even that fails, TornLineError.
 */
export async function appendWhole(fh: FileHandle, bytes: Uint8Array, file: string): Promise<void> {
  const { size } = await fh.stat();
  try {
    let offset = 0;
    while (offset < bytes.length) {
      const { bytesWritten } = await fh.write(bytes, offset, bytes.length - offset, null);
      if (bytesWritten <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
      offset += bytesWritten;
    }
    await fh.datasync();
  } catch (err) {
    try {
      await fh.truncate(size);
    } catch (cutFailure) {
      throw new TornLineError(file, err, cutFailure);
    }
    throw err;
  }
}

/** Appends one line (newline included) to `file`, whole and durable, or not at all. */
export async function appendLine(file: string, line: string): Promise<void> {
  const fh = await open(file, 'a');
  try {
    await appendWhole(fh, Buffer.from(line), file);
  } finally {
    await fh.close();
  }
}

/**
 * Cuts off a last line that has no newline: what a crash in the middle of an append leaves. Returns
 * the bytes removed (0 when the file is whole or missing). Only the end is touched: a broken line in
 * the middle is tampering, not a crash, and stays for the verifier to report.
 */
export async function cutTornLastLine(file: string): Promise<number> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r+');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  try {
    const { size } = await fh.stat();
    const NL = 0x0a;
    let end = size;
    // Read backwards to the last newline; the tail after it is the torn line.
    while (end > 0) {
      const from = Math.max(0, end - 64 * 1024);
      const chunk = Buffer.alloc(end - from);
      await fh.read(chunk, 0, chunk.length, from);
      const at = chunk.lastIndexOf(NL);
      if (at >= 0) {
        end = from + at + 1;
        break;
      }
      end = from;
    }
    if (end === size) return 0;
    await fh.truncate(end);
    await fh.datasync();
    return size - end;
  } finally {
    await fh.close();
  }
}
