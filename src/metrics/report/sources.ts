import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { CheckpointSchema, readCheckpointFile } from '../../evidence/checkpoints.js';
import { listSegments } from '../../evidence/jsonl-store.js';
import { isPack } from '../../evidence/pack.js';

/**
 * The folder, inside a gateway's evidence folder, where it keeps replicas of other enforcement points'
 * logs (the same name as src/control/evidence-replica.ts, a layer above this one).
 */
export const REPLICAS_FOLDER = 'peps';

/** The path given holds no evidence the report can read (said in one line, without a stack). */
export class NoEvidenceError extends Error {
  override name = 'NoEvidenceError';
}

/** One log the report reads: a folder's own segments, a replica's, or a pack's records. */
export interface LogSource {
  /** The folder (or pack) it comes from. */
  path: string;
  kind: 'log' | 'replica' | 'pack';
  /** The files holding its records, in log order. */
  files: string[];
  /** Their total size in bytes (what the progress bar counts against). */
  bytes: number;
  /** Records the last signed checkpoint covers (seq below this): its `size`, or 0 without one. */
  checkpointSize: number;
  /** Checkpoint lines in the log (a pack holds one). */
  checkpoints: number;
}

/**
 * The logs at `target`: an evidence pack (records.jsonl and its checkpoint), or an evidence folder
 * (its segments in order) followed by each replica it keeps under `peps/<id>/`.
 */
export async function findLogs(target: string): Promise<LogSource[]> {
  const info = await stat(target).catch(() => undefined);
  if (!info?.isDirectory()) throw new NoEvidenceError(`${target} is not an evidence folder or pack`);
  if (await isPack(target)) return [await packSource(target)];
  const folders = [target, ...(await replicaFolders(target))];
  const sources: LogSource[] = [];
  for (const folder of folders) {
    const files = await listSegments(folder);
    const { size, lines } = await lastCheckpoint(folder);
    sources.push({
      path: folder,
      kind: folder === target ? 'log' : 'replica',
      files,
      bytes: await totalBytes(files),
      checkpointSize: size,
      checkpoints: lines,
    });
  }
  if (sources.every((s) => s.files.length === 0))
    throw new NoEvidenceError(`${target} holds no evidence segments (log-*.jsonl) and is not a pack`);
  return sources;
}

async function replicaFolders(dir: string): Promise<string[]> {
  const peps = path.join(dir, REPLICAS_FOLDER);
  const entries = await readdir(peps, { withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort()
    .map((n) => path.join(peps, n));
}

async function packSource(dir: string): Promise<LogSource> {
  const file = path.join(dir, 'records.jsonl');
  const checkpoint = CheckpointSchema.safeParse(
    JSON.parse(await readFile(path.join(dir, 'checkpoint.json'), 'utf8').catch(() => '{}')),
  );
  return {
    path: dir,
    kind: 'pack',
    files: [file],
    bytes: await totalBytes([file]),
    checkpointSize: checkpoint.success ? checkpoint.data.size : 0,
    checkpoints: checkpoint.success ? 1 : 0,
  };
}

/** The size of a folder's last whole checkpoint line (a torn or unreadable last line counts as none). */
async function lastCheckpoint(dir: string): Promise<{ size: number; lines: number }> {
  const { lines } = await readCheckpointFile(dir);
  for (let i = lines.length - 1; i >= 0; i--) {
    const parsed = CheckpointSchema.safeParse(safeJson(lines[i]!.text));
    if (parsed.success) return { size: parsed.data.size, lines: lines.length };
  }
  return { size: 0, lines: lines.length };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function totalBytes(files: string[]): Promise<number> {
  let total = 0;
  for (const f of files) total += (await stat(f).catch(() => ({ size: 0 }))).size;
  return total;
}

/** What reading one file found besides its lines. */
export interface LineReadResult {
  lines: number;
  /** The file ended without a newline: its last line is torn (a crash mid-append) and was skipped. */
  tornLast: boolean;
  /** Lines longer than {@link MAX_LINE_CHARS}, skipped unread (no record is that long). */
  overlong: number;
  /** Bytes read. */
  bytes: number;
}

/**
 * The longest line read, in bytes. A record's arguments are masked and capped before they are
 * written (strings over 4 KiB become digests, arguments past max_argument_bytes are refused), so a
 * line past this is not a record; skipping it keeps memory bounded on a damaged file.
 */
export const MAX_LINE_CHARS = 16 * 1024 * 1024;

/**
 * Calls `onLine` for every whole line of `file`, streaming: memory holds one chunk and the line being
 * read, whatever the file's size. `onBytes` reports the bytes read so far (for progress). Lines are
 * found in the bytes (a newline byte never occurs inside a UTF-8 sequence) and each chunk's whole
 * lines are decoded at once, so a character is never cut and no stateful decoder is needed.
 */
export async function readLines(
  file: string,
  onLine: (line: string) => void,
  onBytes?: (bytes: number) => void,
): Promise<LineReadResult> {
  // 64 KiB chunks: their strings stay in V8's young generation, which is reused, instead of each
  // large chunk taking fresh pages (page faults cost more than the decoding).
  const stream = createReadStream(file, { highWaterMark: 64 << 10 });
  /** Pieces of the line still being read (it started in an earlier chunk), copied out of their chunks. */
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let lines = 0;
  let overlong = 0;
  /** Inside an overlong line: skip until its newline. */
  let skipping = false;
  const line = (text: string) => {
    if (text.length === 0) return;
    onLine(text);
    lines++;
  };
  const keep = (piece: Buffer) => {
    if (skipping || piece.length === 0) return;
    pending.push(Buffer.from(piece));
    pendingBytes += piece.length;
    if (pendingBytes > MAX_LINE_CHARS) {
      overlong++;
      skipping = true;
      pending = [];
      pendingBytes = 0;
    }
  };
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let from = 0;
    if (skipping || pendingBytes > 0) {
      // The line that started in an earlier chunk ends at this chunk's first newline.
      const nl = chunk.indexOf(NEWLINE);
      if (nl === -1) {
        keep(chunk);
        onBytes?.(stream.bytesRead);
        continue;
      }
      if (skipping || pendingBytes + nl > MAX_LINE_CHARS) {
        if (!skipping) overlong++;
      } else line(Buffer.concat([...pending, chunk.subarray(0, nl)]).toString('utf8'));
      skipping = false;
      pending = [];
      pendingBytes = 0;
      from = nl + 1;
    }
    const last = chunk.lastIndexOf(NEWLINE);
    if (last >= from) {
      const text = chunk.toString('utf8', from, last);
      let start = 0;
      for (;;) {
        const nl = text.indexOf('\n', start);
        const end = nl === -1 ? text.length : nl;
        if (end > start) line(text.slice(start, end));
        if (nl === -1) break;
        start = nl + 1;
      }
      from = last + 1;
    }
    keep(chunk.subarray(from));
    onBytes?.(stream.bytesRead);
  }
  return { lines, tornLast: pendingBytes > 0 || skipping, overlong, bytes: stream.bytesRead };
}

const NEWLINE = 0x0a;
