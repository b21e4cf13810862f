import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load-config.js';
import { renderHtml } from '../metrics/report/html.js';
import { buildReport } from '../metrics/report/report.js';
import { NoEvidenceError } from '../metrics/report/sources.js';
import { EXIT, UsageError, err } from './io.js';
import { progressBar } from './progress.js';

export const reportHelp = `Usage: mcpgov report [--config FILE] [PATH] [--format json|html] [--out FILE]
                     [--since TIME] [--until TIME] [--agent ID] [--tool NAME]

The pilot report from evidence: coverage, deny rate and top deny reasons, escalations and approvals
with time to approve, waivers, semantic signals, drift, evidence completeness, per agent, per tool and
over time. Reads an evidence folder (its segments, and the replicas of other enforcement points' logs
under peps/<id>/) or an evidence pack, streaming: memory stays flat however long the log.
Definitions and the JSON shape: README, "Pilot report".

Arguments:
  PATH              an evidence folder or pack (default: the config's evidence.dir)

Options:
  --format F        json (default): one JSON object; html: one self-contained HTML file with charts
  --out FILE        write here instead of stdout
  --since TIME      count records at or after TIME: ISO 8601, or a duration back from now (30m, 24h, 7d)
  --until TIME      count records at or before TIME (same forms); waivers in force are judged then
  --agent ID        only this agent's calls, sessions, approvals and waivers
  --tool NAME       only this tool's calls, approvals, waivers and drift (coverage is per session: n/a)
  --config FILE     the config naming the evidence folder (default: ./mcpgov.yaml)
  --stats           also print, on stderr, one JSON line: records read, wall time, peak RSS, CPU time
  -h, --help        show this help

A progress bar is drawn on stderr when it is a terminal and the work takes more than 2 seconds.`;

/** `mcpgov report`. */
export async function reportCommand(argv: string[]): Promise<number> {
  const started = performance.now();
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      format: { type: 'string', default: 'json' },
      out: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      agent: { type: 'string' },
      tool: { type: 'string' },
      config: { type: 'string', default: 'mcpgov.yaml' },
      stats: { type: 'boolean', default: false },
    },
  });
  if (values.format !== 'json' && values.format !== 'html')
    throw new UsageError('--format must be json or html');
  if (positionals.length > 1) throw new UsageError('report takes at most one PATH');
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
