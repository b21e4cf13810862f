import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { loadConfig } from '../config/load-config.js';
import { renderHtml } from '../metrics/report/html.js';
import { buildReport } from '../metrics/report/report.js';
import { NoEvidenceError } from '../metrics/report/sources.js';
import { EXIT, UsageError, err } from './io.js';
import { progressBar } from './progress.js';

/** Options of `mcpgov report` (commands/operate.ts). */
export interface ReportOptions {
  config: string;
  format: 'json' | 'html';
  json?: boolean;
  out?: string;
  since?: string;
  until?: string;
  agent?: string;
  tool?: string;
  stats?: boolean;
}

/** `mcpgov report`. */
export async function reportCommand(values: ReportOptions, positionals: string[]): Promise<number> {
  const started = performance.now();
  if (values.json && values.format !== 'json')
    throw new UsageError('--json is --format json: give one of them');
  const now = Date.now();
  const since = values.since === undefined ? undefined : parseTime('--since', values.since, now);
  const until = values.until === undefined ? undefined : parseTime('--until', values.until, now);
  if (since !== undefined && until !== undefined && since > until)
    throw new UsageError('--since is after --until');
  const target = positionals[0] ?? (await loadConfig(values.config)).evidence.dir;

  const bar = progressBar();
  let records = 0;
  const report = await buildReport(
    target,
    { since, until, agent: values.agent, tool: values.tool },
    {
      now,
      onProgress: (p) => {
        records = p.records;
        bar.update(p.bytes, p.totalBytes, `${p.records.toLocaleString('en-US')} records`);
      },
    },
  ).catch((e: unknown) => {
    if (!(e instanceof NoEvidenceError)) throw e;
    bar.finish();
    err(`mcpgov report: ${e.message}`);
    return undefined;
  });
  bar.finish();
  if (!report) return EXIT.failed;
  const text = values.format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : await renderHtml(report);
  if (values.out) {
    await writeFile(values.out, text);
    err(`wrote the ${values.format.toUpperCase()} report to ${values.out}`);
  } else process.stdout.write(text);

  if (values.stats) {
    const usage = process.resourceUsage();
    err(
      JSON.stringify({
        report_stats: {
          records,
          wall_ms: Math.round(performance.now() - started),
          peak_rss_kb: peakRssKb() ?? usage.maxRSS,
          // getrusage's maximum, which on Linux keeps the peak of the process that spawned this one.
          max_rss_kb: usage.maxRSS,
          cpu_user_ms: Math.round(usage.userCPUTime / 1000),
          cpu_system_ms: Math.round(usage.systemCPUTime / 1000),
        },
      }),
    );
  }
  return EXIT.ok;
}

/** This process's own peak resident set size (VmHWM) in KiB, where /proc has it. */
function peakRssKb(): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** An ISO 8601 time, or a duration (`90s`, `30m`, `24h`, `7d`) back from `now`; milliseconds. */
export function parseTime(option: string, text: string, now: number): number {
  const duration = /^(\d+)([smhd])$/.exec(text.trim());
  if (duration) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[duration[2] as 's' | 'm' | 'h' | 'd'];
    return now - Number(duration[1]) * unit;
  }
  const t = Date.parse(text);
  if (Number.isNaN(t))
    throw new UsageError(`${option} "${text}" is neither an ISO 8601 time nor a duration like 24h`);
  return t;
}
