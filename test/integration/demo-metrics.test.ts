import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/approvals.js';
import { INSPECTOR, startDemoCopy, type DemoCopy } from '../helpers/demo-copy.js';
import { parseExposition, sampleValue, samplesOf } from '../helpers/prometheus-text.js';

/**
 * The README's "Metrics and health" on the shipped demo, as an operator runs it: `mcpgov gateway` on
 * a copy of mcpgov.yaml, the MCP Inspector's CLI calling a tool, and `curl /metrics` on the admin
 * port showing the counters moved.
 */
const exec = promisify(execFile);

describe('metrics on the running demo', () => {
  let demo: DemoCopy;
  let dir: string;
  let mcpUrl: string;
  let adminUrl: string;

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
    demo = await startDemoCopy('mcpgov-demo-metrics-');
    ({ dir, mcpUrl, adminUrl } = demo);
    // Ready once the admin listener (started after the MCP one) answers /readyz 200 (policy in force,
    // evidence writable, a downstream server up) and the metrics show server-everything up.
    await waitFor(
      'the demo gateway ready, with server-everything up',
      async () => {
        if (demo.gateway.exitCode !== null) throw new Error(`gateway exited: ${demo.stderr()}`);
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
    await demo?.remove();
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
