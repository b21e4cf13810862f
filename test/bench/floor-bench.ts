/**
 * Floors, measured in the same run as the paths they bound: what one durable decision costs the disk
 * (an append and fdatasync), and what a process between client and server costs with no governance
 * at all (the bare proxy over the gateway's own stdio transports).
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO } from '../helpers/fixture.js';
import { connect, measure, percentile, round, type Numbers } from './measure.js';

/** Appends + fdatasync timed, after {@link FSYNC_WARMUP} untimed ones. */
const FSYNC_SAMPLES = 500;
const FSYNC_WARMUP = 50;
/** Bytes of one record line: about a decision record as the gateway writes it. */
const RECORD_BYTES = 400;
/** The preallocated file's size: room for every sample without growing. */
const PREALLOCATED_BYTES = 1024 * 1024;

/** The built bare proxy (test/bench/bare-proxy.ts). */
const BARE_PROXY = path.join(REPO, 'dist/test/bench/bare-proxy.js');

/** The disk's floor under durable evidence, in microseconds. */
export interface FsyncFloor {
  /** p50 and p99 of one append (FileHandle.write) + datasync to a file that grows with each. */
  fdatasync_us: number;
  fdatasync_p99_us: number;
  /** The same, written in place into a file whose blocks were written and synced beforehand. */
  fdatasync_prealloc_us: number;
  fdatasync_prealloc_p99_us: number;
  fdatasync_samples: number;
  record_bytes: number;
}

/** One JSON line of {@link RECORD_BYTES} bytes, shaped like a decision record. */
function recordLine(i: number): Buffer {
  const head = JSON.stringify({
    v: 1,
    id: `rec-${String(i).padStart(8, '0')}`,
    kind: 'decision',
    chain: `session-${i % 16}`,
    time: new Date().toISOString(),
    request: { method: 'tools/call', tool: 'everything__echo', args_digest: `sha256:${'a'.repeat(64)}` },
    decision: { effect: 'allow', mode: 'enforce', reasons: [] },
  });
  // Padding inside the object keeps the line valid JSON at exactly RECORD_BYTES with its newline.
  const pad = RECORD_BYTES - Buffer.byteLength(head) - ',"pad":""'.length - 1;
  return Buffer.from(`${head.slice(0, -1)},"pad":"${'x'.repeat(Math.max(0, pad))}"}\n`);
}

/**
 * Times write + fdatasync of one record line, in a fresh folder under os.tmpdir(), the folder the
 * bench's gateway keeps its evidence in: appended to a growing file (each fdatasync also commits the
 * new size to the journal), then written in place into a preallocated file (data only).
 */
export async function measureFsyncFloor(): Promise<FsyncFloor> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-bench-floor-'));
  try {
    const appended = await timeWrites(path.join(dir, 'append.jsonl'), 'append');
    const inPlace = await timeWrites(path.join(dir, 'prealloc.jsonl'), 'prealloc');
    return {
      fdatasync_us: round(percentile(appended, 0.5)),
      fdatasync_p99_us: round(percentile(appended, 0.99)),
      fdatasync_prealloc_us: round(percentile(inPlace, 0.5)),
      fdatasync_prealloc_p99_us: round(percentile(inPlace, 0.99)),
      fdatasync_samples: FSYNC_SAMPLES,
      record_bytes: RECORD_BYTES,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Microseconds of each timed write + datasync. */
async function timeWrites(file: string, how: 'append' | 'prealloc'): Promise<number[]> {
  if (how === 'prealloc') {
    // Zeros written, not fallocate'd: an fallocated extent is "unwritten" and its first write still
    // journals the extent's conversion, which is what this file is meant to leave out.
    const fh = await open(file, 'w');
    await fh.write(Buffer.alloc(PREALLOCATED_BYTES));
    await fh.sync();
    await fh.close();
    const parent = await open(path.dirname(file), 'r');
    await parent.sync();
    await parent.close();
  }
  const fh = await open(file, how === 'append' ? 'a' : 'r+');
  const samples: number[] = [];
  try {
    for (let i = 0; i < FSYNC_WARMUP + FSYNC_SAMPLES; i++) {
      const line = recordLine(i);
      const t0 = performance.now();
      if (how === 'append') await fh.write(line);
      else await fh.write(line, 0, line.length, i * RECORD_BYTES);
      await fh.datasync();
      if (i >= FSYNC_WARMUP) samples.push((performance.now() - t0) * 1000);
    }
  } finally {
    await fh.close();
  }
  return samples;
}

/**
 * The bare proxy (no pipeline, no evidence) between an SDK client over stdio and server-everything,
 * measured like every other path; its CPU per call is the proxy process's own.
 */
export async function measureBareProxy(calls: number): Promise<Numbers> {
  const proxy = await connect(process.execPath, [BARE_PROXY]);
  try {
    return await measure(proxy, 'echo', calls, true);
  } finally {
    await proxy.client.close();
  }
}
