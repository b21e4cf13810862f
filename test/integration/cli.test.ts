import { execFile, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, REFERENCE_SERVERS, REPO, writeFixture, type FixtureSpec } from '../helpers/fixture.js';

const run = promisify(execFile);

/** Runs the built CLI; resolves with exit code and output instead of throwing on a non-zero exit. */
async function mcpgov(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { cwd: REPO });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const minimal: FixtureSpec = {
  config: {
    identity: { default_agent: 'dev' },
    servers: { everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] } },
  },
  tools: {
    tools: [{ name: 'everything__*', owner: 'platform', risk_tier: 'low' }],
    groups: { all: ['everything__*'] },
  },
  agents: { agents: [{ id: 'dev', owner: 'platform', tool_groups: ['all'] }] },
};

describe('mcpgov validate', () => {
  it('accepts the shipped config, registries and policies', async () => {
    const { code, stdout } = await mcpgov('validate', '--config', 'mcpgov.yaml');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^ok: mcpgov\.yaml: 3 servers/);
  });

  it('names the file, line and key path of an unknown key in a registry', async () => {
    const fixture = await writeFixture(minimal);
    const tools = path.join(fixture.dir, 'registries/tools.yaml');
    await writeFile(
      tools,
      'tools:\n  - name: everything__*\n    owner: platform\n    risk_tier: low\n    rate_limit: 5\ngroups:\n  all: [everything__*]\n',
    );
    const { code, stderr } = await mcpgov('validate', '--config', fixture.configFile);
    expect(code).toBe(1);
    expect(stderr).toContain(`${tools}:5: tools[0].rate_limit: unknown key`);
  });

  it('rejects a rule with a disallowed operator, naming file and path', async () => {
    const fixture = await writeFixture({
      ...minimal,
      rules: [
        {
          id: 'loose',
          description: 'loose equality',
          when: { '==': [{ var: 'call.name' }, 'x'] },
          effect: 'deny',
          reason: 'x',
        },
      ],
    });
    const { code, stderr } = await mcpgov('validate', '--config', fixture.configFile);
    expect(code).toBe(1);
    expect(stderr).toMatch(
      new RegExp(`${path.join(fixture.dir, 'policies/rules.yaml')}:\\d+: rules\\[0\\]\\.when.*==`),
    );
  });

  it('rejects a tool group that names an unknown tool', async () => {
    const fixture = await writeFixture({
      ...minimal,
      tools: {
        tools: [{ name: 'everything__echo', owner: 'platform', risk_tier: 'low' }],
        groups: { all: ['everything__echo', 'fs__nope'] },
      },
    });
    const { code, stderr } = await mcpgov('validate', '--config', fixture.configFile);
    expect(code).toBe(1);
    expect(stderr).toMatch(/tools\.yaml:\d+: groups\.all\[1\]: names unknown tool "fs__nope"/);
  });

  it('reports an LLM judge that could not start: no settings, or no key in the environment', async () => {
    const noSettings = await writeFixture({
      ...minimal,
      config: { ...minimal.config, semantic: { verifier: 'llm' } },
    });
    const a = await mcpgov('validate', '--config', noSettings.configFile);
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/mcpgov\.yaml(:\d+)?: semantic: .*needs semantic\.llm/);
    const noKey = await writeFixture({
      ...minimal,
      config: {
        ...minimal.config,
        semantic: { verifier: 'llm', llm: { model: 'm', api_key_env: 'MCPGOV_TEST_UNSET_KEY' } },
      },
    });
    const b = await mcpgov('validate', '--config', noKey.configFile);
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/MCPGOV_TEST_UNSET_KEY/);
  });

  it('records cassettes only from the LLM judge', async () => {
    const { code, stderr } = await mcpgov('evals', 'run', '--stage', 'semantic', '--record');
    expect(code).toBe(1);
    expect(stderr).toMatch(/recording cassettes needs semantic\.verifier: llm/);
  });

  it('prints help for every command', async () => {
    const commands = [
      ['--help'],
      ['gateway', '--help'],
      ['sidecar', '--help'],
      ['validate', '--help'],
      ['evidence', '--help'],
      ['policy', '--help'],
      ['evals', '--help'],
      ['keys', '--help'],
      ['registry', '--help'],
      ['connect', '--help'],
      ['approvals', '--help'],
      ['waivers', '--help'],
      ['report', '--help'],
    ];
    // All at once: each is a process start, and one after another they add up on a loaded machine.
    const runs = await Promise.all(commands.map((args) => mcpgov(...args)));
    runs.forEach(({ code, stdout }, i) => {
      expect(code, commands[i]!.join(' ')).toBe(0);
      expect(stdout).toMatch(/Usage: mcpgov/);
    });
  });

  it('fails with usage for an unknown command', async () => {
    const { code, stderr } = await mcpgov('frobnicate');
    expect(code).toBe(2);
    expect(stderr).toContain('unknown command "frobnicate"');
  });
});

describe('mcpgov gateway --stdio', () => {
  const closers: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const close of closers) await close();
  });

  it('serves an SDK client over stdio with namespaced tools', async () => {
    const fixture = await writeFixture(minimal);
    const client = new Client({ name: 'stdio-test', version: '0' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [CLI, 'gateway', '--stdio', '--config', fixture.configFile],
        stderr: 'ignore',
      }),
    );
    closers.push(() => client.close());
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('everything__echo');
    const result = await client.callTool({ name: 'everything__echo', arguments: { message: 'over stdio' } });
    expect(result.content).toEqual([{ type: 'text', text: 'Echo: over stdio' }]);
  });

  it('answers a malformed line with a JSON-RPC parse error on stdout and keeps serving', async () => {
    const fixture = await writeFixture(minimal);
    const child = spawn(process.execPath, [CLI, 'gateway', '--stdio', '--config', fixture.configFile], {
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    closers.push(async () => child.kill());
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const next = async () =>
      JSON.parse(((await lines.next()).value as string) ?? 'null') as Record<string, unknown>;
    const send = (msg: string) => child.stdin.write(`${msg}\n`);

    send(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-11-25',
          capabilities: {},
          clientInfo: { name: 'raw', version: '0' },
        },
      }),
    );
    expect(await next()).toMatchObject({ id: 1, result: { serverInfo: { name: 'mcpgov-gateway' } } });
    send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    send('{"jsonrpc":"2.0","id":2,"method":');
    expect(await next()).toMatchObject({ id: null, error: { code: -32700 } });
    send(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }));
    const listed = (await next()) as { id: number; result: { tools: { name: string }[] } };
    expect(listed.id).toBe(3);
    expect(listed.result.tools.map((t) => t.name)).toContain('everything__echo');
  });
});
