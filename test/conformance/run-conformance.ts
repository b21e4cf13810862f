/**
 * Runs the MCP conformance suite's server scenarios (`@modelcontextprotocol/conformance`, pinned in
 * devDependencies) twice: against the conformance server alone over Streamable HTTP, then through the
 * gateway, which serves the same server over stdio with its tools unprefixed (`prefix: false`).
 * Prints one table of both, and exits 1 when a scenario that passes alone fails through the gateway,
 * or when the gateway fails `dns-rebinding-protection`.
 *
 *   npm run conformance                (builds first)
 *   node dist/test/conformance/run-conformance.js [--keep]    --keep leaves the result folders
 *                                                             (they are always left when one fails)
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CONFORMANCE_SERVER as SERVER } from '../helpers/conformance-server.js';
import { REPO, writeFixture } from '../helpers/fixture.js';
import { startGatewayProcess } from '../helpers/gateway-process.js';

const SUITE = path.join(REPO, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
/** The gateway must pass this one whatever the server alone does: it is the gateway's own listener. */
const ALWAYS_REQUIRED = 'dns-rebinding-protection';

/** One scenario's outcome: passed when none of its checks failed (the suite's own rule). */
export interface ScenarioResult {
  passed: boolean;
  /** The first failed check's message, when it failed. */
  why?: string;
}

interface Check {
  id: string;
  status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED';
  errorMessage?: string;
}

/**
 * How long one run of the suite may take: it finishes in seconds here, and its own checks time out
 * after 10 s at most, so a run past this hangs; it is stopped, and its missing scenarios fail.
 */
const SUITE_LIMIT_MS = 180_000;

/** Runs `node args...`, its output to `logFile`; resolves with the exit code. */
function run(args: string[], logFile: string): Promise<number | null> {
  const log = createWriteStream(logFile);
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const limit = setTimeout(() => child.kill('SIGKILL'), SUITE_LIMIT_MS);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(limit);
      log.end(() => resolve(code));
    }),
  );
}

/** The suite's server scenarios, as `conformance list` names them. */
async function listScenarios(): Promise<string[]> {
  const child = spawn(process.execPath, [SUITE, 'list'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const names: string[] = [];
  let inServer = false;
  for await (const line of createInterface({ input: child.stdout })) {
    if (/^\S/.test(line)) inServer = line.startsWith('Server scenarios');
    const item = /^\s+- (\S+)$/.exec(line);
    if (inServer && item) names.push(item[1]!);
  }
  if (names.length === 0) throw new Error('the conformance suite listed no server scenarios');
  return names;
}

/**
 * Runs every server scenario against `url` (`--suite all`: the pending ones too) and reads each
 * scenario's `checks.json` from the results folder; a scenario that wrote none failed to run.
 */
async function runSuite(
  url: string,
  scenarios: string[],
  outDir: string,
): Promise<Map<string, ScenarioResult>> {
  await run([SUITE, 'server', '--url', url, '--suite', 'all', '-o', outDir], path.join(outDir, 'suite.log'));
  const folders = await readdir(outDir);
  const results = new Map<string, ScenarioResult>();
  for (const scenario of scenarios) {
    // The suite names each folder server-<scenario>-<ISO time with ":" and "." as "-">.
    const folder = folders.find((f) => new RegExp(`^server-${scenario}-\\d{4}-\\d\\d-\\d\\dT`).test(f));
    if (!folder) {
      results.set(scenario, { passed: false, why: 'the scenario did not run to the end' });
      continue;
    }
    const checks = JSON.parse(await readFile(path.join(outDir, folder, 'checks.json'), 'utf8')) as Check[];
    const failed = checks.find((c) => c.status === 'FAILURE');
    results.set(
      scenario,
      failed ? { passed: false, why: failed.errorMessage ?? failed.id } : { passed: true },
    );
  }
  return results;
}

/** Starts the conformance server over Streamable HTTP on a free loopback port. */
async function startServerAlone(): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [SERVER, 'http', '127.0.0.1:0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stderr }).on('line', (line) => {
      const match = /^listening (\S+)$/.exec(line);
      if (match) resolve(match[1]!);
    });
    void exited.then(() => reject(new Error('the conformance server exited before it listened')));
  });
  return {
    url,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * A gateway config in front of the conformance server over stdio: its tools unprefixed, every tool
 * registered at low risk for the default agent, enforce mode, evidence in the fixture folder.
 */
async function startGatewayInFront() {
  const fixture = await writeFixture({
    config: {
      mode: 'enforce',
      identity: { default_agent: 'conformance' },
      servers: { conformance: { command: 'node', args: [SERVER, 'stdio'], prefix: false } },
    },
    tools: { tools: [{ name: '*', owner: 'conformance', risk_tier: 'low' }], groups: { all: ['*'] } },
    agents: { agents: [{ id: 'conformance', owner: 'conformance', tool_groups: ['all'] }] },
  });
  const gateway = await startGatewayProcess(fixture.configFile);
  return { fixture, gateway };
}

/** The table: one row per scenario, alone and through the gateway, with why each failure failed. */
export function formatTable(
  scenarios: string[],
  alone: Map<string, ScenarioResult>,
  gateway: Map<string, ScenarioResult>,
): string {
  const mark = (r?: ScenarioResult) => (r?.passed ? 'pass' : 'FAIL');
  const width = Math.max(...scenarios.map((s) => s.length), 'scenario'.length);
  const rows = [`${'scenario'.padEnd(width)}  alone  gateway  why (first failed check)`];
  for (const s of scenarios) {
    const a = alone.get(s);
    const g = gateway.get(s);
    const why = !g?.passed
      ? `gateway: ${g?.why ?? 'no result'}`
      : !a?.passed
        ? `alone: ${a?.why ?? 'no result'}`
        : '';
    rows.push(`${s.padEnd(width)}  ${mark(a).padEnd(5)}  ${mark(g).padEnd(7)}  ${why.slice(0, 110)}`);
  }
  const count = (m: Map<string, ScenarioResult>) => scenarios.filter((s) => m.get(s)?.passed).length;
  rows.push(
    `passed: alone ${count(alone)}/${scenarios.length}, gateway ${count(gateway)}/${scenarios.length}`,
  );
  return rows.join('\n');
}

/** Scenarios the gateway must pass but did not: every one that passes alone, and DNS-rebinding protection. */
export function regressions(
  scenarios: string[],
  alone: Map<string, ScenarioResult>,
  gateway: Map<string, ScenarioResult>,
): string[] {
  return scenarios.filter((s) => (alone.get(s)?.passed || s === ALWAYS_REQUIRED) && !gateway.get(s)?.passed);
}

async function main(keep: boolean): Promise<number> {
  const work = await mkdtemp(path.join(tmpdir(), 'mcpgov-conformance-'));
  const scenarios = await listScenarios();
  const server = await startServerAlone();
  let alone: Map<string, ScenarioResult>;
  try {
    alone = await runSuite(server.url, scenarios, await mkdtemp(path.join(work, 'alone-')));
  } finally {
    await server.stop();
  }
  const { fixture, gateway } = await startGatewayInFront();
  let through: Map<string, ScenarioResult>;
  try {
    through = await runSuite(gateway.url, scenarios, await mkdtemp(path.join(work, 'gateway-')));
  } finally {
    await gateway.stop();
  }
  process.stdout.write(`${formatTable(scenarios, alone, through)}\n`);
  const failed = regressions(scenarios, alone, through);
  // The suite's logs and checks, and the gateway's evidence, stay for a look when something failed.
  if (keep || failed.length > 0) {
    process.stdout.write(`results: ${work}\ngateway config and evidence: ${fixture.dir}\n`);
  } else await Promise.all([rm(work, { recursive: true }), rm(fixture.dir, { recursive: true })]);
  if (failed.length === 0) return 0;
  process.stderr.write(`conformance: through the gateway these fail: ${failed.join(', ')}\n`);
  return 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.includes('--keep')).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`conformance: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
