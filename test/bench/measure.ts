/**
 * How the bench times one path: `tools/call echo` through an SDK client, sequentially and with
 * {@link CONCURRENCY} callers, after a warm-up; the same code for every path so that their numbers compare.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';

/** Callers in flight in the concurrent run. */
export const CONCURRENCY = 16;
/** Calls before timing starts: connections open, JIT warm. */
const WARMUP = 100;

/** One path's figures. */
export interface Numbers {
  seq_cps: number;
  conc_cps: number;
  p50_ms: number;
  p99_ms: number;
  /**
   * CPU time the enforcement point's own process spent per call (all its threads, from
   * /proc/<pid>/task/<tid>/schedstat), over the sequential and concurrent runs: far steadier than
   * throughput on a shared machine, and the number a change to the hot path moves.
   */
  cpu_us_per_call?: number;
}

/** A part the bench could not measure, and why. */
export interface Skipped {
  skipped: string;
}

/** A client to a process this bench started, and that process's id. */
export interface Connected {
  client: Client;
  pid?: number;
}

/** CPU nanoseconds a process has used, over all its threads; undefined where /proc has no schedstat. */
export function cpuNs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    return readdirSync(`/proc/${pid}/task`).reduce(
      (ns, tid) => ns + Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]),
      0,
    );
  } catch {
    return undefined;
  }
}

/** A process's resident set in MB (VmRSS of /proc/<pid>/status); undefined once it has exited. */
export function rssMb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : round(Number(kb) / 1024, 1);
  } catch {
    return undefined;
  }
}

/** An SDK client over stdio to a process started with `command args`. */
export async function connect(command: string, args: string[]): Promise<Connected> {
  const client = new Client({ name: 'mcpgov-bench', version: '0' });
  const transport = new StdioClientTransport({ command, args, stderr: 'ignore' });
  await client.connect(transport);
  return { client, pid: transport.pid ?? undefined };
}

/** One `tools/call` of `tool` with a message that differs per call; a tool error fails the bench. */
export async function callOnce(client: Client, tool: string, i: number): Promise<void> {
  const result = await client.request(
    { method: 'tools/call', params: { name: tool, arguments: { message: `m${i}` } } },
    CallToolResultSchema,
  );
  if (result.isError) throw new Error(`call failed: ${JSON.stringify(result.content)}`);
}

/** `calls` calls from {@link CONCURRENCY} callers at once; resolves with the seconds they took. */
export async function concurrentCalls(client: Client, tool: string, calls: number): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < calls) await callOnce(client, tool, next++);
    }),
  );
  return (performance.now() - started) / 1000;
}

/**
 * Times `calls` sequential calls (throughput and latency percentiles), then `calls` concurrent ones;
 * with `countCpu`, also the CPU the process `pid` spent per call over both.
 */
export async function measure(
  { client, pid }: Connected,
  tool: string,
  calls: number,
  countCpu = false,
): Promise<Numbers> {
  for (let i = 0; i < WARMUP; i++) await callOnce(client, tool, i);

  const cpuBefore = countCpu ? cpuNs(pid) : undefined;
  const latencies: number[] = [];
  const started = performance.now();
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await callOnce(client, tool, i);
    latencies.push(performance.now() - t0);
  }
  const seqSeconds = (performance.now() - started) / 1000;
  const concSeconds = await concurrentCalls(client, tool, calls);
  const cpuAfter = cpuBefore === undefined ? undefined : cpuNs(pid);

  return {
    seq_cps: round(calls / seqSeconds),
    conc_cps: round(calls / concSeconds),
    p50_ms: round(percentile(latencies, 0.5), 3),
    p99_ms: round(percentile(latencies, 0.99), 3),
    ...(cpuBefore !== undefined && cpuAfter !== undefined
      ? { cpu_us_per_call: round((cpuAfter - cpuBefore) / 1000 / (2 * calls)) }
      : {}),
  };
}

/** The value at fraction `p` of the samples, nearest rank below; 0 for none. */
export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}

/** `path`'s throughput over `base`'s, sequential and concurrent. */
export function ratioOf(path: Numbers, base: Numbers): { seq: number; conc: number } {
  return { seq: round(path.seq_cps / base.seq_cps, 3), conc: round(path.conc_cps / base.conc_cps, 3) };
}

export function round(n: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
