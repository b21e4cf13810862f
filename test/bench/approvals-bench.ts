/**
 * Approvals: how long from a person's verdict (a POST to the admin API) to the held call's result
 * reaching the agent. The gateway runs as its own process (HTTP on 127.0.0.1, admin listener on
 * another port, evidence fsync=batch); the agent and the approver are clients in this process.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { mintLocalDevToken } from '../../src/approvals/local-dev.js';
import { loadConfig } from '../../src/config/load-config.js';
import { CLI, REFERENCE_SERVERS, writeFixture } from '../helpers/fixture.js';

export interface ApprovalNumbers {
  samples: number;
  /** From the approve request's start to the held call's result at the agent. */
  decision_to_result_p50_ms: number;
  decision_to_result_p99_ms: number;
  /** The approve request's own round trip (the verdict recorded and answered). */
  api_p50_ms: number;
}

/** Starts the gateway process; resolves with its MCP and admin URLs once both serve. */
async function startGateway(configFile: string) {
  const child = spawn(process.execPath, [CLI, 'gateway', '--config', configFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, MCPGOV_LOG_LEVEL: 'info' },
  });
  const urls: { mcp?: string; admin?: string } = {};
  await new Promise<void>((resolve, reject) => {
    const lines = createInterface({ input: child.stderr });
    lines.on('line', (line) => {
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.msg === 'serving Streamable HTTP') urls.mcp = entry.url;
      if (entry.msg === 'serving the admin API and approver console') urls.admin = entry.url;
      if (urls.mcp && urls.admin) resolve();
    });
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}`)));
  });
  return { child, mcp: urls.mcp!, admin: urls.admin!.replace(/\/$/, '') };
}

export async function measureApprovals(samples: number): Promise<ApprovalNumbers> {
  const fixture = await writeFixture({
    config: {
      mode: 'enforce',
      evidence: { dir: './evidence', fsync: 'batch' },
      identity: { default_agent: 'bench' },
      listen: { http: '127.0.0.1:0' },
      admin: { http: '127.0.0.1:0' },
      approvals: { local_dev: { enabled: true, tiers: ['low', 'medium', 'high', 'critical'] } },
      servers: { everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] } },
    },
    tools: {
      tools: [
        {
          name: 'everything__echo',
          owner: 'bench',
          risk_tier: 'low',
          approval: { when: 'always', mode: 'hold', timeout: 120 },
        },
      ],
      groups: { all: ['everything__echo'] },
    },
    agents: { agents: [{ id: 'bench', owner: 'bench-owner', tool_groups: ['all'] }] },
  });
  const config = await loadConfig(fixture.configFile);
  const token = await mintLocalDevToken(config.state.dir, config.approvals.audience, 3600);
  const gateway = await startGateway(fixture.configFile);
  const client = new Client({ name: 'mcpgov-bench', version: '0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(gateway.mcp)));
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

  const toResult: number[] = [];
  const api: number[] = [];
  try {
    for (let i = 0; i < samples + 5; i++) {
      let answeredAt = 0;
      const held = client
        .request(
          { method: 'tools/call', params: { name: 'everything__echo', arguments: { message: `m${i}` } } },
          CallToolResultSchema,
          { timeout: 120_000 },
        )
        .then((result) => {
          answeredAt = performance.now();
          return result;
        });
      // The request exists once the gateway has recorded it; poll the API for it (not timed).
      let id: string | undefined;
      while (id === undefined) {
        const res = await fetch(`${gateway.admin}/api/approvals?state=pending`, { headers: auth });
        const body = (await res.json()) as { requests: { id: string }[] };
        id = body.requests[0]?.id;
      }
      const t0 = performance.now();
      const res = await fetch(`${gateway.admin}/api/approvals/${id}/approve`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ reason: 'bench' }),
      });
      const t1 = performance.now();
      if (!res.ok) throw new Error(`approve failed: ${res.status} ${await res.text()}`);
      const result = await held;
      if (result.isError) throw new Error(`held call failed: ${JSON.stringify(result.content)}`);
      if (i >= 5) {
        toResult.push(answeredAt - t0);
        api.push(t1 - t0);
      }
    }
  } finally {
    await client.close();
    const exited = new Promise((resolve) => gateway.child.once('exit', resolve));
    gateway.child.kill('SIGTERM');
    await exited;
  }
  const pct = (xs: number[], p: number) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return Math.round((sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0) * 100) / 100;
  };
  return {
    samples,
    decision_to_result_p50_ms: pct(toResult, 0.5),
    decision_to_result_p99_ms: pct(toResult, 0.99),
    api_p50_ms: pct(api, 0.5),
  };
}
