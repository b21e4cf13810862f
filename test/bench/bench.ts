/**
 * Throughput and latency of `tools/call echo` on server-everything, through (a) a direct SDK client
 * over stdio and (b) the gateway over stdio with stage 1 and evidence on, measured in the same run,
 * sequentially and with 16 concurrent callers. Reported as ratios against direct, never asserted.
 *
 *   npm run bench [-- --json] [-- --calls N] [-- --approval-samples N] [-- --redis URL]
 *                 [-- --postgres URL] [-- --nats URL]
 */
import { parseArgs } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { readdirSync, readFileSync } from 'node:fs';
import { loadConfig } from '../../src/config/load-config.js';
import { silentLogger } from '../../src/util/log.js';
import { LineStdioClientTransport } from '../../src/transport/stdio-client.js';
import { startSidecar } from '../../mcp-sidecar/sidecar.js';
import { CLI, REFERENCE_SERVERS, writeFixture } from '../helpers/fixture.js';
import { measureApprovals } from './approvals-bench.js';
import { measureEvidence } from './evidence-bench.js';
import { measureRedisCapCheck } from './counters-bench.js';
import { engineState, type EngineState } from './engines-bench.js';

const CONCURRENCY = 16;
const WARMUP = 100;

interface Numbers {
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

/** A client over stdio to a process this bench started, and that process's id. */
interface Connected {
  client: Client;
  pid?: number;
}

/** CPU nanoseconds a process has used, over all its threads; undefined where /proc has no schedstat. */
function cpuNs(pid: number | undefined): number | undefined {
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

async function connect(command: string, args: string[]): Promise<Connected> {
  const client = new Client({ name: 'mcpgov-bench', version: '0' });
  const transport = new StdioClientTransport({ command, args, stderr: 'ignore' });
  await client.connect(transport);
  return { client, pid: transport.pid ?? undefined };
}

async function measure(
  { client, pid }: Connected,
  tool: string,
  calls: number,
  countCpu = false,
): Promise<Numbers> {
  const call = (i: number) =>
    client.request(
      { method: 'tools/call', params: { name: tool, arguments: { message: `m${i}` } } },
      CallToolResultSchema,
    );
  for (let i = 0; i < WARMUP; i++) await call(i);

  const cpuBefore = countCpu ? cpuNs(pid) : undefined;
  const latencies: number[] = [];
  let started = performance.now();
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    const result = await call(i);
    latencies.push(performance.now() - t0);
    if (result.isError) throw new Error(`call failed: ${JSON.stringify(result.content)}`);
  }
  const seqSeconds = (performance.now() - started) / 1000;

  let next = 0;
  started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < calls) await call(next++);
    }),
  );
  const concSeconds = (performance.now() - started) / 1000;
  const cpuAfter = cpuBefore === undefined ? undefined : cpuNs(pid);

  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  return {
    seq_cps: round(calls / seqSeconds),
    conc_cps: round(calls / concSeconds),
    p50_ms: round(pct(0.5), 3),
    p99_ms: round(pct(0.99), 3),
    ...(cpuBefore !== undefined && cpuAfter !== undefined
      ? { cpu_us_per_call: round((cpuAfter - cpuBefore) / 1000 / (2 * calls)) }
      : {}),
  };
}

function round(n: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/**
 * The bench's gateway setup: every server-everything tool for one agent, a stage-1 rule on echo's
 * message. With `state`, shared state is on the engines and the tools carry a rate cap (never reached)
 * so that every call takes a Redis check-and-reserve.
 */
function benchFixture(fsync: string, state?: EngineState['state']) {
  return writeFixture({
    config: {
      mode: 'enforce',
      evidence: { dir: './evidence', fsync },
      identity: { default_agent: 'bench' },
      servers: { everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] } },
      ...(state ? { state } : {}),
    },
    tools: {
      tools: [
        {
          name: 'everything__*',
          owner: 'bench',
          risk_tier: 'low',
          scopes: ['demo'],
          data_classes: ['internal'],
          ...(state ? { caps: { rate_per_minute: 100_000_000 } } : {}),
        },
      ],
      groups: { all: ['everything__*'] },
    },
    agents: {
      agents: [
        { id: 'bench', owner: 'bench', tool_groups: ['all'], scopes: ['demo'], clearance: ['internal'] },
      ],
    },
    rules: [
      {
        id: 'no-secrets-in-echo',
        description: 'echo must not carry a private key',
        when: { in: ['PRIVATE KEY', { var: 'call.arguments.message' }] },
        effect: 'deny',
        reason: 'secret_in_arguments',
      },
    ],
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      calls: { type: 'string', default: '2000' },
      fsync: { type: 'string', default: 'batch' },
      'approval-samples': { type: 'string', default: '200' },
      redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
      postgres: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
      nats: { type: 'string', default: 'nats://127.0.0.1:4222' },
    },
  });
  const calls = Number(values.calls);

  const fixture = await benchFixture(values.fsync);
  const direct = await connect(process.execPath, [REFERENCE_SERVERS.everything, 'stdio']);
  const directNumbers = await measure(direct, 'echo', calls);
  await direct.client.close();

  // BENCH_NODE_ARGS (e.g. --cpu-prof) goes to the gateway's node, for profiling.
  const nodeArgs = (process.env['BENCH_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  const gateway = await connect(process.execPath, [
    ...nodeArgs,
    CLI,
    'gateway',
    '--stdio',
    '--config',
    fixture.configFile,
  ]);
  const gatewayNumbers = await measure(gateway, 'everything__echo', calls, true);
  await gateway.client.close();

  // The same gateway with shared state on all three engines: counters on Redis (a cap check per call),
  // approvals on PostgreSQL, every record streamed to NATS JetStream.
  const engines = await engineState({ redis: values.redis, postgres: values.postgres, nats: values.nats });
  let enginesNumbers: Numbers | { skipped: string };
  if ('skipped' in engines) enginesNumbers = engines;
  else {
    try {
      const enginesFixture = await benchFixture(values.fsync, engines.state);
      const gatewayOnEngines = await connect(process.execPath, [
        ...nodeArgs,
        CLI,
        'gateway',
        '--stdio',
        '--config',
        enginesFixture.configFile,
      ]);
      enginesNumbers = await measure(gatewayOnEngines, 'everything__echo', calls, true);
      await gatewayOnEngines.client.close();
    } finally {
      await engines.cleanup();
    }
  }

  // The in-process sidecar: the same client, its transport governed in this process (no extra hop).
  const sidecar = await startSidecar({ config: await loadConfig(fixture.configFile), log: silentLogger });
  const governedClient = new Client({ name: 'mcpgov-bench', version: '0' });
  await governedClient.connect(
    await sidecar.govern(
      new LineStdioClientTransport({
        command: process.execPath,
        args: [REFERENCE_SERVERS.everything, 'stdio'],
      }),
      { server: 'everything', prefix: true },
    ),
  );
  const sidecarNumbers = await measure({ client: governedClient }, 'everything__echo', calls);
  await governedClient.close();
  await sidecar.close();

  // The stdio wrapper: a process between client and server, like the gateway over stdio.
  const wrapper = await connect(process.execPath, [
    ...nodeArgs,
    CLI,
    'sidecar',
    '--config',
    fixture.configFile,
    '--name',
    'everything',
    '--prefix',
    '--',
    'node',
    REFERENCE_SERVERS.everything,
    'stdio',
  ]);
  const sidecarStdioNumbers = await measure(wrapper, 'everything__echo', calls, true);
  await wrapper.client.close();

  const evidence = await measureEvidence(20_000, 'batch');
  const approvals = await measureApprovals(Number(values['approval-samples']));
  const redisCap = await measureRedisCapCheck(values.redis, calls);

  const report = {
    calls,
    concurrency: CONCURRENCY,
    direct: directNumbers,
    // Stage 1, evidence (fsync per --fsync) and signed checkpoints are on.
    gateway: { ...gatewayNumbers, signing: true },
    // The gateway with state.counters (Redis), state.approvals (PostgreSQL), state.evidence_stream (NATS).
    gateway_engines: enginesNumbers,
    sidecar: sidecarNumbers,
    sidecar_stdio: sidecarStdioNumbers,
    evidence,
    // From an approver's POST to the admin API to the held call's result at the agent.
    approvals,
    // One rate-cap check-and-reserve against Redis (state.counters), measured alone.
    redis_cap_check: redisCap,
    ratio: {
      seq: round(gatewayNumbers.seq_cps / directNumbers.seq_cps, 3),
      conc: round(gatewayNumbers.conc_cps / directNumbers.conc_cps, 3),
      ...('skipped' in enginesNumbers
        ? {}
        : {
            gateway_engines: {
              seq: round(enginesNumbers.seq_cps / directNumbers.seq_cps, 3),
              conc: round(enginesNumbers.conc_cps / directNumbers.conc_cps, 3),
            },
          }),
      sidecar: {
        seq: round(sidecarNumbers.seq_cps / directNumbers.seq_cps, 3),
        conc: round(sidecarNumbers.conc_cps / directNumbers.conc_cps, 3),
      },
      sidecar_stdio: {
        seq: round(sidecarStdioNumbers.seq_cps / directNumbers.seq_cps, 3),
        conc: round(sidecarStdioNumbers.conc_cps / directNumbers.conc_cps, 3),
      },
    },
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  const rows = [
    ['path', 'seq calls/s', `${CONCURRENCY}-conc calls/s`, 'p50 ms', 'p99 ms'],
    ...(['direct', 'gateway', 'sidecar', 'sidecar_stdio'] as const).map((k) => {
      const n = report[k];
      return [k, String(n.seq_cps), String(n.conc_cps), String(n.p50_ms), String(n.p99_ms)];
    }),
    ...('skipped' in enginesNumbers
      ? []
      : [
          [
            'gateway_engines',
            String(enginesNumbers.seq_cps),
            String(enginesNumbers.conc_cps),
            String(enginesNumbers.p50_ms),
            String(enginesNumbers.p99_ms),
          ],
        ]),
    ['ratio gateway', String(report.ratio.seq), String(report.ratio.conc), '', ''],
    ...(report.ratio.gateway_engines
      ? [
          [
            'ratio gateway_engines',
            String(report.ratio.gateway_engines.seq),
            String(report.ratio.gateway_engines.conc),
            '',
            '',
          ],
        ]
      : []),
    ['ratio sidecar', String(report.ratio.sidecar.seq), String(report.ratio.sidecar.conc), '', ''],
    [
      'ratio sidecar_stdio',
      String(report.ratio.sidecar_stdio.seq),
      String(report.ratio.sidecar_stdio.conc),
      '',
      '',
    ],
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const row of rows) process.stdout.write(`${row.map((c, i) => c.padEnd(widths[i]!)).join('  ')}\n`);
  process.stdout.write(
    `(${calls} calls each, echo on server-everything over stdio; gateway with stage 1 + evidence fsync=batch)\n`,
  );
  process.stdout.write(
    `approvals: decision by the admin API to the held call's result p50 ${approvals.decision_to_result_p50_ms} ms, ` +
      `p99 ${approvals.decision_to_result_p99_ms} ms (${approvals.samples} held calls over HTTP)\n`,
  );
  if ('skipped' in enginesNumbers) {
    process.stdout.write(`gateway_engines: not measured (${enginesNumbers.skipped})\n`);
  }
  process.stdout.write(
    'skipped' in redisCap
      ? `redis cap check: not measured (${redisCap.skipped})\n`
      : `redis cap check (${redisCap.url}): p50 ${redisCap.p50_ms} ms, p99 ${redisCap.p99_ms} ms (${redisCap.samples} checks)\n`,
  );
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
