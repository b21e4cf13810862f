/**
 * Throughput and latency of `tools/call echo` on server-everything, through (a) a direct SDK client
 * over stdio and (b) each enforcement point with stage 1 and evidence on, measured in the same run,
 * sequentially and with 16 concurrent callers, next to their floors (the disk's fdatasync, a bare
 * proxy process) and to other MCP-over-HTTP servers. Reported as ratios, never asserted.
 *
 *   npm run bench [-- --json] [-- --calls N] [-- --http-calls N] [-- --only PART[,PART...]]
 *                 [-- --memory] [-- --memory-calls N] [-- --approval-samples N] [-- --fsync MODE]
 *                 [-- --redis URL] [-- --postgres URL] [-- --nats URL]
 *
 * Parts: direct, gateway, gateway_engines, sidecar, sidecar_stdio, bare_proxy, fdatasync, floor
 * (fdatasync and bare_proxy), http, evidence, approvals, redis, memory (only with --memory or
 * --only memory). Direct runs whenever a part reports a ratio against it.
 */
import { parseArgs } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { loadConfig } from '../../src/config/load-config.js';
import { silentLogger } from '../../src/util/log.js';
import { LineStdioClientTransport } from '../../src/transport/stdio-client.js';
import { startSidecar } from '../../mcp-sidecar/sidecar.js';
import type { Fixture } from '../helpers/fixture.js';
import { CLI, REFERENCE_SERVERS } from '../helpers/fixture.js';
import { measureApprovals } from './approvals-bench.js';
import { benchFixture } from './bench-fixture.js';
import { printTable, type Report } from './bench-table.js';
import { measureRedisCapCheck } from './counters-bench.js';
import { engineState } from './engines-bench.js';
import { measureEvidence } from './evidence-bench.js';
import { measureBareProxy, measureFsyncFloor } from './floor-bench.js';
import { measureHttp } from './http-bench.js';
import { CONCURRENCY, connect, measure, ratioOf, type Numbers, type Skipped } from './measure.js';
import { measureMemory } from './memory-bench.js';

/** Every part `--only` can name, in the order they run. */
const PARTS = [
  'direct',
  'gateway',
  'bare_proxy',
  'gateway_engines',
  'sidecar',
  'sidecar_stdio',
  'fdatasync',
  'http',
  'evidence',
  'approvals',
  'redis',
  'memory',
] as const;
type Part = (typeof PARTS)[number];
/** Names that stand for several parts. */
const GROUPS: Record<string, Part[]> = { floor: ['fdatasync', 'bare_proxy'] };
/** Parts whose figures are reported as ratios against direct. */
const AGAINST_DIRECT: Part[] = ['gateway', 'bare_proxy', 'gateway_engines', 'sidecar', 'sidecar_stdio'];

/** The parts to run: all but memory by default, memory with --memory, exactly the named ones with --only. */
function selectParts(only: string | undefined, memory: boolean): Set<Part> {
  const parts = new Set<Part>(PARTS.filter((p) => p !== 'memory' || memory));
  if (only !== undefined) {
    parts.clear();
    for (const name of only.split(',').map((n) => n.trim())) {
      const named = GROUPS[name] ?? (PARTS.includes(name as Part) ? [name as Part] : undefined);
      if (!named) {
        const known = [...PARTS, ...Object.keys(GROUPS)].join(', ');
        throw new UsageError(`--only: no part "${name}" (parts: ${known})`);
      }
      for (const part of named) parts.add(part);
    }
    if (memory) parts.add('memory');
  }
  if (AGAINST_DIRECT.some((p) => parts.has(p))) parts.add('direct');
  return parts;
}

class UsageError extends Error {}

/** A positive whole number from a flag, or a usage error naming the flag. */
function count(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new UsageError(`--${flag}: expected a positive integer, got "${value}"`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      calls: { type: 'string', default: '2000' },
      'http-calls': { type: 'string', default: '300' },
      only: { type: 'string' },
      memory: { type: 'boolean', default: false },
      'memory-calls': { type: 'string', default: '100000' },
      fsync: { type: 'string', default: 'batch' },
      'approval-samples': { type: 'string', default: '200' },
      redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
      postgres: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
      nats: { type: 'string', default: 'nats://127.0.0.1:4222' },
    },
  });
  const calls = count('calls', values.calls);
  const httpCalls = count('http-calls', values['http-calls']);
  const memoryCalls = count('memory-calls', values['memory-calls']);
  const approvalSamples = count('approval-samples', values['approval-samples']);
  const parts = selectParts(values.only, values.memory);
  const run = (part: Part) => parts.has(part);
  const started = performance.now();

  let fixture: Fixture | undefined;
  const gatewayFixture = async () => (fixture ??= await benchFixture({ fsync: values.fsync }));
  // BENCH_NODE_ARGS (e.g. --cpu-prof) goes to the gateway's node, for profiling.
  const nodeArgs = (process.env['BENCH_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  const gatewayArgs = (configFile: string) => [
    ...nodeArgs,
    CLI,
    'gateway',
    '--stdio',
    '--config',
    configFile,
  ];

  const report: Omit<Report, 'ratio' | 'elapsed_s'> = { calls, concurrency: CONCURRENCY };
  let httpVsSupergateway: Report['ratio']['http_vs_supergateway'];

  if (run('direct')) {
    const direct = await connect(process.execPath, [REFERENCE_SERVERS.everything, 'stdio']);
    report.direct = await measure(direct, 'echo', calls);
    await direct.client.close();
  }

  if (run('gateway')) {
    const gateway = await connect(process.execPath, gatewayArgs((await gatewayFixture()).configFile));
    // Stage 1, evidence (fsync per --fsync) and signed checkpoints are on.
    report.gateway = { ...(await measure(gateway, 'everything__echo', calls, true)), signing: true };
    await gateway.client.close();
  }

  if (run('bare_proxy')) {
    report.floor = { ...report.floor, bare_proxy: await measureBareProxy(calls) };
  }

  if (run('gateway_engines')) {
    // The same gateway with shared state on all three engines: counters on Redis (a cap check per call),
    // approvals on PostgreSQL, every record streamed to NATS JetStream.
    const engines = await engineState({ redis: values.redis, postgres: values.postgres, nats: values.nats });
    if ('skipped' in engines) report.gateway_engines = engines;
    else {
      try {
        const enginesFixture = await benchFixture({ fsync: values.fsync, state: engines.state });
        const gateway = await connect(process.execPath, gatewayArgs(enginesFixture.configFile));
        report.gateway_engines = await measure(gateway, 'everything__echo', calls, true);
        await gateway.client.close();
      } finally {
        await engines.cleanup();
      }
    }
  }

  if (run('sidecar')) {
    // The in-process sidecar: the same client, its transport governed in this process (no extra hop).
    const sidecar = await startSidecar({
      config: await loadConfig((await gatewayFixture()).configFile),
      log: silentLogger,
    });
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
    report.sidecar = await measure({ client: governedClient }, 'everything__echo', calls);
    await governedClient.close();
    await sidecar.close();
  }

  if (run('sidecar_stdio')) {
    // The stdio wrapper: a process between client and server, like the gateway over stdio.
    const wrapper = await connect(process.execPath, [
      ...nodeArgs,
      CLI,
      'sidecar',
      '--config',
      (await gatewayFixture()).configFile,
      '--name',
      'everything',
      '--prefix',
      '--',
      'node',
      REFERENCE_SERVERS.everything,
      'stdio',
    ]);
    report.sidecar_stdio = await measure(wrapper, 'everything__echo', calls, true);
    await wrapper.client.close();
  }

  if (run('fdatasync')) report.floor = { ...(await measureFsyncFloor()), ...report.floor };

  if (run('http')) {
    const { http, ratio } = await measureHttp((await gatewayFixture()).configFile, httpCalls);
    report.http = { calls: httpCalls, ...http };
    httpVsSupergateway = ratio;
  }

  if (run('evidence')) report.evidence = await measureEvidence(20_000, 'batch');
  // From an approver's POST to the admin API to the held call's result at the agent.
  if (run('approvals')) report.approvals = await measureApprovals(approvalSamples);
  // One rate-cap check-and-reserve against Redis (state.counters), measured alone.
  if (run('redis')) report.redis_cap_check = await measureRedisCapCheck(values.redis, calls);
  if (run('memory')) report.memory = await measureMemory(values.fsync, memoryCalls);

  const r = report;
  // In this order in the JSON, whatever order the parts ran in; parts not run are left out.
  const final: Report = {
    calls: r.calls,
    concurrency: r.concurrency,
    elapsed_s: Math.round((performance.now() - started) / 1000),
    direct: r.direct,
    gateway: r.gateway,
    gateway_engines: r.gateway_engines,
    sidecar: r.sidecar,
    sidecar_stdio: r.sidecar_stdio,
    floor: r.floor,
    http: r.http,
    evidence: r.evidence,
    approvals: r.approvals,
    redis_cap_check: r.redis_cap_check,
    memory: r.memory,
    ratio: { ...ratios(r), http_vs_supergateway: httpVsSupergateway },
  };
  if (values.json) process.stdout.write(`${JSON.stringify(final, null, 2)}\n`);
  else printTable(final, values.fsync);
}

/** Every path against direct, and the gateway against the bare proxy, where both sides ran. */
function ratios(report: Omit<Report, 'ratio' | 'elapsed_s'>): Report['ratio'] {
  const measured = (n: Numbers | Skipped | undefined): n is Numbers => n !== undefined && !('skipped' in n);
  const { direct, gateway, gateway_engines, sidecar, sidecar_stdio } = report;
  const bare = report.floor?.bare_proxy;
  const against = (n: Numbers | Skipped | undefined) =>
    measured(n) && measured(direct) ? ratioOf(n, direct) : undefined;
  return {
    ...against(gateway),
    gateway_engines: against(gateway_engines),
    sidecar: against(sidecar),
    sidecar_stdio: against(sidecar_stdio),
    bare_proxy: against(bare),
    gateway_vs_bare: measured(gateway) && measured(bare) ? ratioOf(gateway, bare) : undefined,
  };
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`bench: ${e.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
