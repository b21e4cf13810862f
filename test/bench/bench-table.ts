/** The bench's report: its JSON shape (`--json`), and the table printed without `--json`. */
import type { ApprovalNumbers } from './approvals-bench.js';
import type { RedisCapNumbers } from './counters-bench.js';
import type { measureEvidence } from './evidence-bench.js';
import type { FsyncFloor } from './floor-bench.js';
import { HTTP_PATHS, type HttpNumbers } from './http-bench.js';
import type { Numbers, Skipped } from './measure.js';
import type { MemoryNumbers } from './memory-bench.js';

type Ratio = { seq: number; conc: number };

/** Everything one run measured; a part not run is absent. README "Performance" documents each key. */
export interface Report {
  calls: number;
  concurrency: number;
  /** Wall time of the whole run, in seconds. */
  elapsed_s: number;
  direct?: Numbers;
  gateway?: Numbers & { signing: boolean };
  gateway_engines?: Numbers | Skipped;
  sidecar?: Numbers;
  sidecar_stdio?: Numbers;
  floor?: Partial<FsyncFloor> & { bare_proxy?: Numbers };
  http?: { calls: number } & HttpNumbers;
  evidence?: Awaited<ReturnType<typeof measureEvidence>>;
  approvals?: ApprovalNumbers;
  redis_cap_check?: RedisCapNumbers;
  memory?: MemoryNumbers;
  ratio: {
    /** The gateway over stdio against direct. */
    seq?: number;
    conc?: number;
    gateway_engines?: Ratio;
    sidecar?: Ratio;
    sidecar_stdio?: Ratio;
    bare_proxy?: Ratio;
    gateway_vs_bare?: Ratio;
    http_vs_supergateway?: Ratio;
  };
}

/** Prints the report as a table of paths and ratios, then one line per other part. */
export function printTable(report: Report, fsync: string): void {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const notes: string[] = [];
  const paths: [string, Numbers | Skipped | undefined][] = [
    ['direct', report.direct],
    ['gateway', report.gateway],
    ['gateway_engines', report.gateway_engines],
    ['sidecar', report.sidecar],
    ['sidecar_stdio', report.sidecar_stdio],
    ['bare_proxy', report.floor?.bare_proxy],
    ...HTTP_PATHS.map((name): [string, Numbers | Skipped | undefined] => [
      `http ${name}`,
      report.http?.[name],
    ]),
  ];
  const rows = [
    ['path', 'seq calls/s', `${report.concurrency}-conc calls/s`, 'p50 ms', 'p99 ms', 'cpu µs/call'],
  ];
  for (const [name, n] of paths) {
    if (n === undefined) continue;
    if ('skipped' in n) notes.push(`${name}: not measured (${n.skipped})`);
    else rows.push([name, ...[n.seq_cps, n.conc_cps, n.p50_ms, n.p99_ms, n.cpu_us_per_call].map(cell)]);
  }
  const { ratio } = report;
  const ratios: [string, Ratio | undefined][] = [
    ['ratio gateway', ratio.seq === undefined ? undefined : { seq: ratio.seq, conc: ratio.conc ?? 0 }],
    ['ratio gateway_engines', ratio.gateway_engines],
    ['ratio sidecar', ratio.sidecar],
    ['ratio sidecar_stdio', ratio.sidecar_stdio],
    ['ratio bare_proxy', ratio.bare_proxy],
    ['ratio gateway / bare_proxy', ratio.gateway_vs_bare],
    ['ratio http gateway / supergateway', ratio.http_vs_supergateway],
  ];
  for (const [name, r] of ratios) if (r) rows.push([name, String(r.seq), String(r.conc), '', '', '']);
  if (rows.length > 1) {
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const row of rows)
      out(
        row
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      );
    out(
      `(${report.calls} calls each over stdio${report.http ? `, ${report.http.calls} over HTTP` : ''}, ` +
        `echo on server-everything; enforcement points with stage 1 + evidence fsync=${fsync})`,
    );
  }
  for (const note of notes) out(note);

  const { floor, evidence, approvals, redis_cap_check: redis, memory } = report;
  if (floor?.fdatasync_us !== undefined) {
    out(
      `fdatasync floor (${floor.record_bytes}-byte append + fdatasync, ${floor.fdatasync_samples} samples): ` +
        `p50 ${floor.fdatasync_us} µs, p99 ${floor.fdatasync_p99_us} µs; into a preallocated file ` +
        `p50 ${floor.fdatasync_prealloc_us} µs, p99 ${floor.fdatasync_prealloc_p99_us} µs`,
    );
  }
  if (evidence) out(`evidence store: ${evidence.records_per_s} records/s (fsync=${evidence.fsync})`);
  if (approvals) {
    out(
      `approvals: decision by the admin API to the held call's result p50 ${approvals.decision_to_result_p50_ms} ms, ` +
        `p99 ${approvals.decision_to_result_p99_ms} ms (${approvals.samples} held calls over HTTP)`,
    );
  }
  if (redis) {
    out(
      'skipped' in redis
        ? `redis cap check: not measured (${redis.skipped})`
        : `redis cap check (${redis.url}): p50 ${redis.p50_ms} ms, p99 ${redis.p99_ms} ms (${redis.samples} checks)`,
    );
  }
  if (memory) {
    out(
      `memory: gateway RSS ${memory.rss_warm_mb} MB after warm-up, ${memory.rss_end_mb} MB after ` +
        `${memory.calls} calls (${memory.rss_growth_mb} MB growth); ${memory.sessions} idle HTTP sessions ` +
        `+${memory.sessions_rss_mb} MB, ${memory.sessions_reaped ? '' : 'not all '}closed after ` +
        `${memory.session_idle_seconds} s idle (${memory.sessions_reaped_count} gone, ` +
        `+${memory.sessions_rss_after_reap_mb} MB left)`,
    );
  }
}

function cell(value: number | undefined): string {
  return value === undefined ? '' : String(value);
}
