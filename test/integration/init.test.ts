import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { readEvidence } from '../../src/evidence/jsonl-store.js';
import { freePort } from '../helpers/demo-copy.js';
import { CLI, REFERENCE_SERVERS, REPO } from '../helpers/fixture.js';
import { callTool, textOf } from '../helpers/gateway-harness.js';
import { spawnGateway } from '../helpers/policy-lifecycle.js';

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

/** A new temp folder holding a client config with `content`; returns the folder and the file. */
async function clientConfig(content: unknown): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-init-'));
  const file = path.join(dir, 'client.json');
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return { dir, file };
}

/** Connects an SDK client to a gateway's Streamable HTTP endpoint. */
async function httpClient(url: string): Promise<Client> {
  const client = new Client({ name: 'init-test', version: '0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
});

/** server-everything's own Streamable HTTP transport on a free loopback port (it reads PORT). */
async function everythingOverHttp(): Promise<string> {
  const port = await freePort();
  const child = spawn(process.execPath, [REFERENCE_SERVERS.everything, 'streamableHttp'], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stderr! }).on('line', (line) => {
      if (line.includes(`listening on port ${port}`)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`server-everything over HTTP exited with ${code}`)));
  });
  return `http://127.0.0.1:${port}/mcp`;
}

const SECRET = 'ghp_0123456789abcdefghijklmnopqrstuvwxyzAB';

describe('mcpgov init --from a Claude Desktop config', () => {
  it('writes a setup that validates, and a gateway on it serves the servers and records their calls', async () => {
    const { dir, file } = await clientConfig({});
    const notes = path.join(dir, 'notes');
    await mkdir(notes);
    await writeFile(
      file,
      JSON.stringify({
        mcpServers: {
          everything: {
            command: 'node',
            args: [REFERENCE_SERVERS.everything, 'stdio'],
            env: { GITHUB_PERSONAL_ACCESS_TOKEN: SECRET, DEBUG_LEVEL: 'info' },
          },
          filesystem: { command: 'node', args: [REFERENCE_SERVERS.filesystem, notes] },
        },
      }),
    );
    const out = path.join(dir, 'setup');

    const init = await mcpgov('init', '--from', file, '--dir', out, '--json');
    expect(init.stderr).toBe('');
    expect(init.code).toBe(0);
    const result = JSON.parse(init.stdout) as {
      files: string[];
      servers: { name: string; tools?: number }[];
      tools: { name: string; risk_tier: string }[];
      secrets: string[];
      snippet: {
        mcpServers: Record<string, { command: string; args: string[]; env: Record<string, string> }>;
      };
    };
    expect(result.files.map((f) => path.relative(out, f))).toEqual([
      'mcpgov.yaml',
      'registries/tools.yaml',
      'registries/agents.yaml',
      'policies/starter.yaml',
    ]);
    expect(result.servers.map((s) => s.name)).toEqual(['everything', 'filesystem']);
    const tier = (name: string) => result.tools.find((t) => t.name === name)?.risk_tier;
    expect(tier('everything__echo')).toBe('low'); // readOnlyHint
    expect(tier('filesystem__write_file')).toBe('high'); // destructiveHint
    expect(tier('filesystem__read_text_file')).toBe('low');

    // The secret stays out of mcpgov.yaml; the client entry that replaces the servers carries it.
    const configText = await readFile(path.join(out, 'mcpgov.yaml'), 'utf8');
    expect(configText).not.toContain(SECRET);
    expect(parse(configText).servers.everything.env).toEqual({
      GITHUB_PERSONAL_ACCESS_TOKEN: '${env:GITHUB_PERSONAL_ACCESS_TOKEN}',
      DEBUG_LEVEL: 'info',
    });
    expect(result.secrets).toEqual(['GITHUB_PERSONAL_ACCESS_TOKEN']);
    expect(result.snippet).toEqual({
      mcpServers: {
        mcpgov: {
          command: 'npx',
          args: ['-y', 'mcpgov', 'gateway', '--stdio', '--config', path.join(out, 'mcpgov.yaml')],
          env: { GITHUB_PERSONAL_ACCESS_TOKEN: SECRET },
        },
      },
    });
    // Every guessed tier is marked for review.
    const toolsText = await readFile(path.join(out, 'registries/tools.yaml'), 'utf8');
    const entries = (parse(toolsText) as { tools: unknown[] }).tools.length;
    expect(toolsText.match(/# review: tier guessed from annotations/g)).toHaveLength(entries);
    expect(entries).toBe(result.tools.length);

    const validate = await mcpgov('validate', '--config', path.join(out, 'mcpgov.yaml'));
    expect(validate.stderr).toBe('');
    expect(validate.stdout).toMatch(/^ok: .*: 2 servers, \d+ tool entries, 1 agents, 1 rules/);

    // The gateway gets the secret from its environment, as the client entry would give it.
    const gateway = await spawnGateway(path.join(out, 'mcpgov.yaml'), {
      GITHUB_PERSONAL_ACCESS_TOKEN: SECRET,
    });
    try {
      const client = await httpClient(`${gateway.base}/mcp`);
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toEqual(expect.arrayContaining(['everything__echo', 'filesystem__write_file']));
      const echo = await callTool(client, 'everything__echo', { message: 'governed' });
      expect(textOf(echo)).toBe('Echo: governed');
      const env = await callTool(client, 'everything__get-env');
      expect(textOf(env)).toContain(SECRET);
      const listing = await callTool(client, 'filesystem__list_allowed_directories');
      expect(textOf(listing)).toContain('notes');
      await client.close();
    } finally {
      await gateway.stop();
    }
    const records = await readEvidence(path.join(out, '.mcpgov/evidence'));
    const decided = records
      .filter((r) => r.kind === 'decision')
      .map((r) => [r.request?.tool, r.decision?.effect]);
    expect(decided).toEqual(
      expect.arrayContaining([
        ['everything__echo', 'allow'],
        ['filesystem__list_allowed_directories', 'allow'],
      ]),
    );
  });

  it('refuses to overwrite an existing setup, in one line, writing nothing', async () => {
    const { dir, file } = await clientConfig({
      mcpServers: { everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] } },
    });
    expect((await mcpgov('init', '--dir', dir)).code).toBe(0);
    const before = await stat(path.join(dir, 'mcpgov.yaml'));
    const again = await mcpgov('init', '--dir', dir, '--from', file, '--sidecar');
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('');
    expect(again.stderr).toBe(
      `mcpgov init: ${path.join(dir, 'mcpgov.yaml')} exists (and 3 more); pass --force to overwrite\n`,
    );
    expect((await stat(path.join(dir, 'mcpgov.yaml'))).mtimeMs).toBe(before.mtimeMs);
    await expect(stat(path.join(dir, 'sidecars'))).rejects.toThrow(/ENOENT/);
    // With --force it writes over them.
    const forced = await mcpgov('init', '--dir', dir, '--from', file, '--force', '--no-probe');
    expect(forced.code).toBe(0);
    expect(await readFile(path.join(dir, 'mcpgov.yaml'), 'utf8')).toContain('everything:');
  });

  it('reports a server that does not start, keeps it in the config, and exits 1', async () => {
    const { dir, file } = await clientConfig({
      mcpServers: {
        everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] },
        missing: { command: path.join(tmpdir(), 'no-such-mcp-server') },
      },
    });
    const init = await mcpgov('init', '--dir', dir, '--from', file);
    expect(init.code).toBe(1);
    expect(init.stdout).toMatch(/^server everything: \d+ tools registered for review$/m);
    expect(init.stdout).toMatch(/^server missing: no tools registered: spawn .*no-such-mcp-server ENOENT$/m);
    expect(init.stderr).toBe(
      'mcpgov init: missing did not list tools: in mcpgov.yaml, tools not registered\n',
    );
    expect(
      parse(await readFile(path.join(dir, 'registries/tools.yaml'), 'utf8')).tools.length,
    ).toBeGreaterThan(0);
    const config = parse(await readFile(path.join(dir, 'mcpgov.yaml'), 'utf8'));
    expect(Object.keys(config.servers)).toEqual(['everything', 'missing']);
    expect((await mcpgov('validate', '--config', path.join(dir, 'mcpgov.yaml'))).code).toBe(0);
  });
});

describe('mcpgov init --from a VS Code mcp.json', () => {
  it('governs an http server (Streamable HTTP) and a stdio server behind one gateway', async () => {
    const url = await everythingOverHttp();
    const { dir, file } = await clientConfig(`{
      // VS Code writes comments and trailing commas
      "servers": {
        "remote": { "type": "http", "url": "${url}", "headers": { "X-Trace": "init-test" } },
        "memory": { "type": "stdio", "command": "node", "args": ["${REFERENCE_SERVERS.memory}"],
                    "env": { "MEMORY_FILE_PATH": "${path.join(tmpdir(), `mcpgov-init-memory-${process.pid}.jsonl`)}" } },
      },
    }`);
    const init = await mcpgov('init', '--dir', dir, '--from', file, '--json');
    expect(init.code).toBe(0);
    const result = JSON.parse(init.stdout) as {
      snippet: unknown;
      servers: { name: string; tools?: number }[];
    };
    expect(result.servers.every((s) => (s.tools ?? 0) > 0)).toBe(true);
    expect(result.snippet).toEqual({
      servers: {
        mcpgov: {
          type: 'stdio',
          command: 'npx',
          args: ['-y', 'mcpgov', 'gateway', '--stdio', '--config', path.join(dir, 'mcpgov.yaml')],
        },
      },
    });
    const config = parse(await readFile(path.join(dir, 'mcpgov.yaml'), 'utf8'));
    expect(config.servers.remote).toEqual({ type: 'http', url, headers: { 'X-Trace': 'init-test' } });
    expect((await mcpgov('validate', '--config', path.join(dir, 'mcpgov.yaml'))).code).toBe(0);

    const gateway = await spawnGateway(path.join(dir, 'mcpgov.yaml'));
    try {
      const client = await httpClient(`${gateway.base}/mcp`);
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toEqual(expect.arrayContaining(['remote__echo', 'memory__read_graph']));
      expect(textOf(await callTool(client, 'remote__echo', { message: 'over http' }))).toBe(
        'Echo: over http',
      );
      await client.close();
    } finally {
      await gateway.stop();
    }
    const records = await readEvidence(path.join(dir, '.mcpgov/evidence'));
    expect(records.some((r) => r.kind === 'decision' && r.request?.tool === 'remote__echo')).toBe(true);
  });
});

describe('mcpgov init --sidecar', () => {
  it('wraps each server in a sidecar of its own, and the printed entry runs one', async () => {
    const { dir, file } = await clientConfig({
      mcpServers: { everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] } },
    });
    const init = await mcpgov('init', '--dir', dir, '--from', file, '--sidecar', '--json');
    expect(init.code).toBe(0);
    const { snippet, files } = JSON.parse(init.stdout) as {
      files: string[];
      snippet: { mcpServers: Record<string, { command: string; args: string[] }> };
    };
    const sidecarConfig = path.join(dir, 'sidecars/everything.yaml');
    expect(files).toContain(sidecarConfig);
    const entry = snippet.mcpServers['everything']!;
    expect(entry).toEqual({
      command: 'npx',
      args: [
        '-y',
        'mcpgov',
        'sidecar',
        '-c',
        sidecarConfig,
        '--name',
        'everything',
        '--prefix',
        '--',
        'node',
        REFERENCE_SERVERS.everything,
        'stdio',
      ],
    });
    expect((await mcpgov('validate', '--config', sidecarConfig)).code).toBe(0);

    // The entry's arguments after `npx -y mcpgov`, run with the built CLI.
    const client = new Client({ name: 'init-test', version: '0' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [CLI, ...entry.args.slice(2)],
        stderr: 'ignore',
      }),
    );
    try {
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toContain('everything__echo');
      expect(textOf(await callTool(client, 'everything__echo', { message: 'beside' }))).toBe('Echo: beside');
    } finally {
      await client.close();
    }
    const records = await readEvidence(path.join(dir, '.mcpgov/sidecars/everything/evidence'));
    expect(records.some((r) => r.kind === 'decision' && r.request?.tool === 'everything__echo')).toBe(true);
  });
  it('leaves a server reached over HTTP to the gateway, says so, and exits 1', async () => {
    const { dir, file } = await clientConfig({
      mcpServers: {
        everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] },
        remote: { url: 'http://127.0.0.1:1/mcp' },
      },
    });
    const init = await mcpgov('init', '--dir', dir, '--from', file, '--sidecar', '--no-probe');
    expect(init.code).toBe(1);
    expect(init.stderr).toBe(
      'mcpgov init: remote is reached over HTTP: a sidecar wraps stdio servers only; use the gateway for it\n',
    );
    expect(init.stdout).toContain(path.join(dir, 'sidecars/everything.yaml'));
    await expect(stat(path.join(dir, 'sidecars/remote.yaml'))).rejects.toThrow(/ENOENT/);
  });
});

describe('mcpgov init, plain and refused', () => {
  it('writes a starting setup that validates, with no servers', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-init-'));
    const init = await mcpgov('init', '--dir', dir);
    expect(init.code).toBe(0);
    expect(init.stdout.trim().split('\n')).toEqual([
      `wrote ${path.join(dir, 'mcpgov.yaml')}`,
      `wrote ${path.join(dir, 'registries/tools.yaml')}`,
      `wrote ${path.join(dir, 'registries/agents.yaml')}`,
      `wrote ${path.join(dir, 'policies/starter.yaml')}`,
    ]);
    const validate = await mcpgov('validate', '--config', path.join(dir, 'mcpgov.yaml'));
    expect(validate.stdout).toMatch(/^ok: .*: 0 servers, 0 tool entries, 1 agents, 1 rules/);
  });

  it.each([
    ['not JSON', 'mcpServers: [', /^not JSON: /],
    ['without servers', '{"globalShortcut": "Ctrl+Space"}', /^no "mcpServers" \(Claude Desktop, Cursor\)/],
    ['with an empty mcpServers', '{"mcpServers": {}}', /^no servers in "mcpServers"$/],
    [
      'with only an SSE server',
      '{"servers": {"old": {"type": "sse", "url": "http://127.0.0.1:1/sse"}}}',
      /^no server can be governed: old: an SSE server/,
    ],
  ])('refuses a client config %s in one line, exit 1, writing nothing', async (_what, text, message) => {
    const { dir, file } = await clientConfig(text);
    const init = await mcpgov('init', '--dir', path.join(dir, 'out'), '--from', file);
    expect(init.code).toBe(1);
    const lines = init.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.slice(`mcpgov init: ${file}: `.length)).toMatch(message);
    await expect(stat(path.join(dir, 'out'))).rejects.toThrow(/ENOENT/);
  });

  it('says in one line when the folder cannot be made', async () => {
    const { file } = await clientConfig('{}');
    const init = await mcpgov('init', '--dir', path.join(file, 'setup'));
    expect(init.code).toBe(1);
    expect(init.stderr).toBe(`mcpgov init: cannot create ${path.join(file, 'setup')}: ENOTDIR\n`);
  });

  it('takes --sidecar only with --from, as a usage error', async () => {
    const init = await mcpgov('init', '--sidecar');
    expect(init.code).toBe(2);
    expect(init.stderr).toMatch(
      /^mcpgov init: --sidecar needs --from CLIENT_CONFIG \(see "mcpgov init --help"\)\n/,
    );
  });
});
