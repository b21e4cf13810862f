/**
 * `mcpgov report` on a large log: writes a log of N records (default 1,000,000) shaped like a
 * gateway's (sessions of calls with decision and action records, denies enforced and observed,
 * escalations with approval records, waivers, drift) through the evidence log itself (fsync none,
 * signed checkpoints every 1000 records, 64 MiB segments), then runs the built CLI on it as a child
 * process and measures wall time and peak RSS: VmHWM sampled from /proc while it runs, and the
 * child's own peak as it states it (`--stats`, VmHWM of its own process). Reported, never asserted.
 *
 *   npm run bench:report [-- --records N] [-- --log DIR (reuse a log written before)] [-- --json]
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { EvidenceLog } from '../../src/evidence/evidence-log.js';
import { LocalEd25519Signer, writeKeyPair } from '../../src/evidence/signer.js';
import { recordBase, type RecordBody } from '../../src/evidence/types.js';
import { randomUUIDv7 } from '../../src/util/uuid.js';
import { CLI } from '../helpers/fixture.js';

const PEP = { id: 'gateway@bench', kind: 'gateway' as const, version: '0' };
const BUNDLE = { name: 'sources', revision: 'unversioned', digest: `sha256:${'c'.repeat(64)}` };
const AGENTS = ['support-bot', 'sre-agent', 'data-pipeline', 'local-dev', 'release-bot'];
const TOOLS = [
  'fs__read_file',
  'fs__write_file',
  'fs__move_file',
  'memory__create_entities',
  'memory__search_nodes',
  'everything__echo',
  'everything__get-sum',
  'cloud__run_command',
  'iam__grant_role',
  'export__customer_table',
];
const DENY_REASONS = [
  'write_outside_demo',
  'scope_missing',
  'rate_limited',
  'secret_in_args',
  'unknown_tool',
];
/** The log spans 30 days: the report's series folds hours into days. */
const SPAN_MS = 30 * 24 * 3_600_000;
const CALLS_PER_SESSION = 24;

/** Deterministic pseudo-random numbers (mulberry32), so every run writes the same mix. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Yields record bodies, `total` of them, session by session. */
function* records(total: number, start: number): Generator<RecordBody> {
  const random = prng(42);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
  const step = SPAN_MS / total;
  let n = 0;
  const time = () => new Date(start + n * step).toISOString();
  const base = (kind: RecordBody['kind'], chain: string) =>
    recordBase(kind, chain, PEP, new Date(start + n * step));
  // A waiver for one agent's exports, in force all month: some of its denies are waived.
  const waiver = {
    waiver: randomUUIDv7(),
    agent: 'data-pipeline',
    tool: 'export__*',
    until: new Date(start + SPAN_MS + 86_400_000).toISOString(),
  };
  yield {
    ...base('waiver', 'approvals'),
    waiver: { ...waiver, event: 'created', reason: 'migration', compensating: 'daily review' },
  };
  n++;
  while (n < total) {
    const session = randomUUIDv7();
    const agent = pick(AGENTS);
    const subject = { verified: agent !== 'local-dev', agent, sub: agent };
    yield { ...base('chain', session), subject, chain_event: { event: 'open' } };
    n++;
    let calls = 0;
    let received = 0;
    for (let c = 0; c < CALLS_PER_SESSION && n < total - 2; c++) {
      received++;
      // One call in 500 is refused before any decision (the limit on calls in flight).
      if (random() < 0.002) continue;
      calls++;
      const tool = pick(TOOLS);
      const roll = random();
      const waived = roll < 0.08 && agent === waiver.agent && tool.startsWith('export__');
      const effect = waived ? 'allow' : roll < 0.08 ? 'deny' : roll < 0.11 ? 'escalate' : 'allow';
      const enforced = effect === 'allow' || random() < 0.7;
      const reason = waived
        ? 'waived'
        : effect === 'deny'
          ? pick(DENY_REASONS)
          : effect === 'escalate'
            ? 'needs_approval'
            : undefined;
      const decisionId = randomUUIDv7();
      const semantic =
        random() < 0.1
          ? {
              verifier: 'heuristic',
              verdict: effect === 'escalate' ? 'escalate' : 'allow',
              confidence: 0.8,
              signals:
                random() < 0.5
                  ? [
                      {
                        name: pick(['bulk_scope', 'intent_mismatch', 'secret_exposure']),
                        detail: 'bench',
                        score: 0.6,
                      },
                    ]
                  : [],
              rationale: 'bench',
              latency_ms: 0.3 + random(),
              cache_hit: false,
            }
          : undefined;
      yield {
        ...base('decision', session),
        id: decisionId,
        subject,
        request: {
          method: 'tools/call',
          server: tool.split('__')[0],
          tool,
          args_digest: `sha256:${'a'.repeat(64)}`,
          args: { path: `/srv/demo/notes/${c}.txt`, content: 'x'.repeat(Math.floor(random() * 200)) },
          masked: [],
          definition_digest: `sha256:${'b'.repeat(64)}`,
          session: { id: session, call_count: calls },
        },
        decision: {
          id: decisionId,
          effect,
          mode: enforced ? 'enforce' : 'observe',
          enforced,
          reasons: reason ? [reason] : [],
          rules: reason ? [`rule-${reason}`] : [],
          stages: ['agent', 'tool', 'definition', 'tool_groups', 'scopes', 'rules'].map((stage) => ({
            stage,
            kind: 'pass',
          })),
          bundle: BUNDLE,
          semantic,
          eval_us: 11.5,
          waiver: waived ? { id: waiver.waiver, waived_effect: 'deny' } : undefined,
        },
      };
      n++;
      if (waived) {
        yield {
          ...base('waiver', 'approvals'),
          waiver: { ...waiver, event: 'used', decision_id: decisionId, waived_effect: 'deny' },
        };
        n++;
      }
      if (effect === 'allow' || !enforced) {
        yield {
          ...base('action', session),
          action: {
            decision_id: decisionId,
            tool,
            server: tool.split('__')[0],
            args_digest: `sha256:${'a'.repeat(64)}`,
            forwarded: true,
            duration_ms: 1 + random() * 20,
            is_error: random() < 0.01,
            result_bytes: 120,
            result_digest: `sha256:${'d'.repeat(64)}`,
          },
        };
        n++;
      } else if (effect === 'escalate') {
        const approval = {
          request: randomUUIDv7(),
          decision_id: decisionId,
          agent,
          tool,
          args_digest: `sha256:${'a'.repeat(64)}`,
          bundle_digest: BUNDLE.digest,
          tier: 'high',
          mode: 'return' as const,
        };
        yield { ...base('approval', 'approvals'), approval: { ...approval, event: 'created' } };
        n++;
        const approve = random() < 0.8;
        yield {
          ...base('approval', 'approvals'),
          approval: {
            ...approval,
            event: 'decided',
            verdict: approve ? 'approve' : 'deny',
            reason: 'bench',
            approver: { sub: 'alice', via: 'api' },
            time_to_decision_ms: Math.floor(5_000 + random() * 600_000),
          },
        };
        n++;
      }
    }
    if (random() < 0.01) {
      yield {
        ...base('drift', 'definitions'),
        drift: {
          pep: PEP.id,
          cause: 'definition_changed',
          since: time(),
          server: 'fs',
          tool: pick(TOOLS),
          reference: 'first_seen',
          action: 'blocked',
        },
      };
      n++;
    }
    yield { ...base('chain', session), chain_event: { event: 'close', calls, received } };
    n++;
  }
}

/** Writes the log through the evidence log itself; returns its folder. */
async function writeLog(dir: string, total: number): Promise<void> {
  const keys = await writeKeyPair(path.join(dir, 'keys'));
  const log = await EvidenceLog.open({
    dir: path.join(dir, 'evidence'),
    fsync: 'none',
    signer: await LocalEd25519Signer.fromFile(keys.privateKey),
    origin: 'mcpgov/bench',
    checkpoint: { everyRecords: 1000, everySeconds: 5 },
    segmentMaxBytes: 64 * 1024 * 1024,
    log: () => {},
  });
  const source = records(total, Date.parse('2026-10-01T00:00:00Z'));
  let written = 0;
  const started = performance.now();
  // Appends in flight: each resolves once written; batches keep the store's group writes large.
  for (;;) {
    const batch: Promise<unknown>[] = [];
    // Exactly `total` records: the last session may end without its close record, as a crash leaves it.
    for (let i = 0; i < 256 && written + batch.length < total; i++) {
      const next = source.next();
      if (next.done) break;
      batch.push(log.append(next.value, { durable: false }));
    }
    if (batch.length === 0) break;
    await Promise.all(batch);
    written += batch.length;
    if (process.stderr.isTTY && written % 50_000 < 256)
      process.stderr.write(`\rwriting the log: ${written.toLocaleString('en-US')} records`);
  }
  await log.close();
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  process.stderr.write(
    `wrote ${written.toLocaleString('en-US')} records in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
  );
  await writeFile(path.join(dir, 'records.txt'), `${written}\n`);
}

/** Peak resident set size of a running process in KiB (VmHWM), or undefined once it is gone. */
function vmHwm(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

async function runReport(evidence: string, out: string) {
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [CLI, 'report', evidence, '--format', 'json', '--out', out, '--stats'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let sampled = 0;
  const timer = setInterval(() => {
    const hwm = child.pid === undefined ? undefined : vmHwm(child.pid);
    if (hwm !== undefined) sampled = Math.max(sampled, hwm);
  }, 50);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearInterval(timer);
  const wallMs = performance.now() - started;
  if (code !== 0) throw new Error(`mcpgov report exited ${code}: ${stderr}`);
  const line = stderr.split('\n').find((l) => l.startsWith('{"report_stats"'));
  const stats = line
    ? (
        JSON.parse(line) as {
          report_stats: {
            records: number;
            peak_rss_kb: number;
            wall_ms: number;
            cpu_user_ms: number;
            cpu_system_ms: number;
          };
        }
      ).report_stats
    : undefined;
  return { wallMs, sampledHwmKb: sampled, stats };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '1000000' },
      log: { type: 'string' },
      keep: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const total = Number(values.records);
  const dir = values.log ?? (await mkdtemp(path.join(tmpdir(), 'mcpgov-bench-report-')));
  if (!existsSync(path.join(dir, 'records.txt'))) await writeLog(dir, total);
  const written = Number((await readFile(path.join(dir, 'records.txt'), 'utf8')).trim());
  const out = path.join(dir, 'report.json');
  const run = await runReport(path.join(dir, 'evidence'), out);
  const report = JSON.parse(await readFile(out, 'utf8')) as {
    records: { read: number };
    series: { unit: string; points: unknown[] };
  };
  const result = {
    records: written,
    read: report.records.read,
    wall_s: Math.round(run.wallMs / 100) / 10,
    peak_rss_mb: Math.round(((run.stats?.peak_rss_kb ?? run.sampledHwmKb) / 1024) * 10) / 10,
    peak_rss_sampled_mb: Math.round((run.sampledHwmKb / 1024) * 10) / 10,
    records_per_s: Math.round(report.records.read / (run.wallMs / 1000)),
    // CPU time moves far less than wall time on a shared machine.
    cpu_s: run.stats ? Math.round((run.stats.cpu_user_ms + run.stats.cpu_system_ms) / 100) / 10 : null,
    series: `${report.series.points.length} ${report.series.unit} buckets`,
    targets: { wall_s: 30, peak_rss_mb: 300 },
  };
  if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else
    process.stdout.write(
      `mcpgov report on ${result.read.toLocaleString('en-US')} records: ${result.wall_s} s wall, ` +
        `peak RSS ${result.peak_rss_mb} MB (sampled VmHWM ${result.peak_rss_sampled_mb} MB), ` +
        `${result.records_per_s.toLocaleString('en-US')} records/s, ${result.cpu_s} s CPU; ${result.series} ` +
        `(targets: under 30 s, under 300 MB)\n`,
    );
  if (values.log === undefined && !values.keep) await rm(dir, { recursive: true, force: true });
  else process.stderr.write(`log kept in ${dir} (reuse it with --log ${dir})\n`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
