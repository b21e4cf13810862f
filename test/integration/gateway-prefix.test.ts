import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFORMANCE_SERVER } from '../helpers/conformance-server.js';
import { CLI, REFERENCE_SERVERS, REPO, writeFixture, type FixtureSpec } from '../helpers/fixture.js';
import { callTool, runGateway, textOf, type RunningGateway } from '../helpers/gateway-harness.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { HOSTILE_SERVER } from '../helpers/hostile-server.js';

const run = promisify(execFile);

/** Every tool registered at low risk for one agent: these tests are about names, not decisions. */
function spec(servers: Record<string, unknown>): FixtureSpec {
  return {
    config: { mode: 'enforce', identity: { default_agent: 'dev' }, servers },
    tools: { tools: [{ name: '*', owner: 'platform', risk_tier: 'low' }], groups: { all: ['*'] } },
    agents: { agents: [{ id: 'dev', owner: 'platform', tool_groups: ['all'] }] },
  };
}

const everything = { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] };

describe('prefix: false', () => {
  let gw: RunningGateway;
  let client: Client;

  beforeAll(async () => {
    gw = await runGateway(
      spec({
        conformance: { command: 'node', args: [CONFORMANCE_SERVER, 'stdio'], prefix: false },
        everything,
      }),
    );
    client = await gw.client();
  });
  afterAll(async () => gw?.close());

  it("lists the unprefixed server's tools under their own names beside the other server's prefixed ones", async () => {
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(
      expect.arrayContaining(['test_simple_text', 'json_schema_2020_12_tool', 'everything__echo']),
    );
    expect(names.filter((n) => n.startsWith('conformance__'))).toEqual([]);
  });

  it('forwards a call by the unprefixed name and records it with its server', async () => {
    const result = await callTool(client, 'test_simple_text');
    expect(textOf(result)).toBe('This is a simple text response for testing.');
    expect(textOf(await callTool(client, 'everything__echo', { message: 'hi' }))).toContain('hi');
    const decision = (await gw.evidence()).find(
      (r) => r.kind === 'decision' && r.request?.tool === 'test_simple_text',
    );
    expect(decision?.request).toMatchObject({ server: 'conformance', tool: 'test_simple_text' });
    expect(decision?.decision?.effect).toBe('allow');
  });

  it('serves its prompts and resources under their own names, and routes them to it', async () => {
    const prompts = (await client.listPrompts()).prompts.map((p) => p.name);
    expect(prompts).toContain('test_simple_prompt');
    expect(prompts.filter((n) => n.startsWith('conformance__'))).toEqual([]);
    const prompt = await client.getPrompt({
      name: 'test_prompt_with_arguments',
      arguments: { arg1: 'a', arg2: 'b' },
    });
    expect(prompt.messages[0]?.content).toEqual({
      type: 'text',
      text: "Prompt with arguments: arg1='a', arg2='b'",
    });
    const resources = (await client.listResources()).resources;
    expect(resources.find((r) => r.uri === 'test://static-text')?.name).toBe('static-text');
  });
});

describe('name collisions', () => {
  let gw: GatewayProcess;

  beforeAll(async () => {
    // The hostile server, unprefixed, offers a tool named as the everything server's echo.
    const fixture = await writeFixture(
      spec({
        hostile: { command: 'node', args: [HOSTILE_SERVER, '--shadow', 'everything__echo'], prefix: false },
        everything,
      }),
    );
    gw = await startGatewayProcess(fixture.configFile);
  });
  afterAll(async () => gw?.stop());

  it('serves neither tool of a name two servers offer, and says so on stderr', async () => {
    const client = new Client({ name: 'test-agent', version: '0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gw.url)));
    try {
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).not.toContain('everything__echo');
      expect(names).toEqual(expect.arrayContaining(['weather', 'everything__get-sum']));
      const result = await callTool(client, 'everything__echo', { message: 'hi' }).catch((e: Error) => e);
      expect(String(result instanceof Error ? result.message : textOf(result))).toMatch(/everything__echo/);
      expect(JSON.stringify(result)).not.toMatch(/shadowed/);
    } finally {
      await client.close();
    }
    const warning = gw
      .stderr()
      .split('\n')
      .filter((l) => l.includes('tool name collision'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(warning[0]).toMatchObject({
      msg: 'tool name collision: not served',
      name: 'everything__echo',
      servers: ['hostile', 'everything'],
    });
  });
});

describe('two unprefixed servers', () => {
  it('are refused when the config is loaded, naming both', async () => {
    const fixture = await writeFixture(
      spec({
        a: { ...everything, prefix: false },
        b: { command: 'node', args: [CONFORMANCE_SERVER, 'stdio'], prefix: false },
      }),
    );
    const refused = await run(process.execPath, [CLI, 'validate', '--config', fixture.configFile], {
      cwd: REPO,
    }).catch((e: { code: number; stderr: string }) => e);
    expect(refused).toMatchObject({ code: 1 });
    const stderr = (refused as { stderr: string }).stderr;
    // The problem on one line, then the count (as validate reports every problem); no stack trace.
    expect(stderr.trim().split('\n')).toEqual([
      expect.stringContaining(
        `${fixture.configFile}: servers.b.prefix: servers "a" and "b" both set prefix: false`,
      ),
      '1 problem found',
    ]);
    await expect(startGatewayProcess(fixture.configFile)).rejects.toThrow(
      /servers "a" and "b" both set prefix: false/,
    );
  });
});
