import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { loadConfig } from '../../src/config/load-config.js';
import { SPEND_FILE } from '../../src/pipeline/spend-file.js';
import { silentLogger } from '../../src/util/log.js';
import { startGateway, type Gateway } from '../../mcp-gateway/gateway.js';
import { REFERENCE_SERVERS, writeFixture, type Fixture } from '../helpers/fixture.js';
import { callTool, textOf } from '../helpers/gateway-harness.js';

/** An agent with a daily budget of 3 on a tool that costs 1 a call. */
function fixture(): Promise<Fixture> {
  return writeFixture({
    config: {
      mode: 'enforce',
      identity: { default_agent: 'dev' },
      servers: { everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] } },
    },
    tools: {
      tools: [
        {
          name: 'everything__get-sum',
          owner: 'platform',
          risk_tier: 'low',
          caps: { cost_per_call: 1, spend_per_day: 3 },
        },
        { name: 'everything__echo', owner: 'platform', risk_tier: 'low' },
      ],
      groups: { demo: ['everything__get-sum', 'everything__echo'] },
    },
    agents: { agents: [{ id: 'dev', owner: 'platform', tool_groups: ['demo'], scopes: [], clearance: [] }] },
  });
}

describe('daily spend cap with the embedded store', () => {
  const running: { gateway: Gateway; client: Client }[] = [];
  afterEach(async () => {
    for (const r of running.splice(0)) {
      await r.client.close().catch(() => {});
      await r.gateway.close();
    }
  });

  async function start(fx: Fixture): Promise<{ gateway: Gateway; client: Client }> {
    const config = await loadConfig(fx.configFile);
    const gateway = await startGateway({ config, http: '127.0.0.1:0', log: silentLogger });
    const client = new Client({ name: 'test-agent', version: '0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.httpUrl ?? '')));
    const r = { gateway, client };
    running.push(r);
    return r;
  }

  async function stop(r: { gateway: Gateway; client: Client }): Promise<void> {
    running.splice(running.indexOf(r), 1);
    await r.client.close();
    await r.gateway.close();
  }

  it('holds across a gateway restart: spend taken before it still counts after it', async () => {
    const fx = await fixture();
    const first = await start(fx);
    for (let i = 0; i < 2; i++) {
      const ok = await callTool(first.client, 'everything__get-sum', { a: i, b: 1 });
      expect(ok.isError, `call ${i + 1}`).toBeFalsy();
    }
    await stop(first);
    const saved = JSON.parse(await readFile(path.join(fx.dir, 'state', SPEND_FILE), 'utf8')) as {
      days: Record<string, Record<string, number>>;
    };
    expect(Object.values(saved.days)).toEqual([{ 'dev\u0000everything__get-sum': 2 }]);

    const second = await start(fx);
    const third = await callTool(second.client, 'everything__get-sum', { a: 2, b: 1 });
    expect(third.isError).toBeFalsy();
    const fourth = await callTool(second.client, 'everything__get-sum', { a: 3, b: 1 });
    expect(fourth.isError).toBe(true);
    expect(textOf(fourth)).toContain('reason: spend_cap_exceeded');
    // A tool without a cost is not touched by the cap.
    const echo = await callTool(second.client, 'everything__echo', { message: 'hi' });
    expect(echo.isError).toBeFalsy();
  });
});
