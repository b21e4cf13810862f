import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/approvals.js';
import { CLI, REPO } from '../helpers/fixture.js';
import { parseExposition, sampleValue, samplesOf } from '../helpers/prometheus-text.js';

/**
 * The README's "Metrics and health" on the shipped demo, as an operator runs it: `mcpgov gateway` on
 * a copy of mcpgov.yaml, the MCP Inspector's CLI calling a tool, and `curl /metrics` on the admin
 * port showing the counters moved.
 */
const INSPECTOR = path.join(REPO, 'node_modules/@modelcontextprotocol/inspector/cli/build/cli.js');
const exec = promisify(execFile);

/** A port nothing listens on now (the demo config names fixed ports; the copy gets free ones). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('metrics on the running demo', () => {
  let dir: string;
  let gateway: ChildProcess;
  let mcpUrl: string;
  let adminUrl: string;
  let stderr = '';

  /** `/metrics` from the admin port, parsed; the decided calls to one tool, whatever their decision. */
  async function callsTo(tool: string): Promise<number> {
    const res = await fetch(`${adminUrl}/metrics`);
    expect(res.status).toBe(200);
    const families = parseExposition(await res.text());
    return samplesOf(families, 'mcpgov_tool_calls_total')
      .filter((s) => s.labels['tool'] === tool)
      .reduce((sum, s) => sum + s.value, 0);
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-demo-metrics-'));
    for (const item of ['registries', 'policies', 'demo']) {
      await cp(path.join(REPO, item), path.join(dir, item), { recursive: true });
    }
    await symlink(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
    const [mcpPort, adminPort] = [await freePort(), await freePort()];
    const config = (await readFile(path.join(REPO, 'mcpgov.yaml'), 'utf8'))
      .replace("'127.0.0.1:8787'", `'127.0.0.1:${mcpPort}'`)
      .replace("'127.0.0.1:8788'", `'127.0.0.1:${adminPort}'`);
    expect(config).toContain(`127.0.0.1:${adminPort}`);
    await writeFile(path.join(dir, 'mcpgov.yaml'), config);
    mcpUrl = `http://127.0.0.1:${mcpPort}/mcp`;
    adminUrl = `http://127.0.0.1:${adminPort}`;

    gateway = spawn(process.execPath, [CLI, 'gateway', '--config', 'mcpgov.yaml'], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    gateway.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // Ready once the admin listener (started after the MCP one) answers /readyz 200 (policy in force,
    // evidence writable, a downstream server up) and the metrics show server-everything up.
    await waitFor(
      'the demo gateway ready, with server-everything up',
      async () => {
        if (gateway.exitCode !== null) throw new Error(`gateway exited: ${stderr}`);
        const ready = await fetch(`${adminUrl}/readyz`).then(
          (r) => r.status === 200,
          () => false,
        );
        if (!ready) return false;
        const families = parseExposition(await (await fetch(`${adminUrl}/metrics`)).text());
        return sampleValue(families, 'mcpgov_downstream_up', { server: 'everything' }) === 1;
      },
      60_000,
    );
  });

  afterAll(async () => {
    if (gateway && gateway.exitCode === null) {
      const exited = new Promise((resolve) => gateway.once('exit', resolve));
      gateway.kill('SIGTERM');
      await exited;
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('shows the calls counter moving after an Inspector call', async () => {
    const before = await callsTo('everything__echo');
    const call = await exec(
      process.execPath,
      [
        INSPECTOR,
        '--cli',
        mcpUrl,
        '--method',
        'tools/call',
        '--tool-name',
        'everything__echo',
        '--tool-arg',
        'message=hi',
      ],
      { cwd: dir, timeout: 60_000 },
    );
    expect(call.stdout).toContain('Echo: hi');
    expect(await callsTo('everything__echo')).toBe(before + 1);
    // The MCP port answers the probes too, and does not serve metrics.
    expect((await fetch(new URL('/readyz', mcpUrl))).status).toBe(200);
    expect((await fetch(new URL('/metrics', mcpUrl))).status).toBe(404);
  });
});
