import { describe, expect, it } from 'vitest';
import { parseClientConfig } from '../../../src/config/client-config.js';
import { guessTier, planServers, serverName } from '../../../src/config/init-plan.js';
import { ConfigSchema } from '../../../src/config/schema.js';
import { formatProblem, YamlFile } from '../../../src/config/yaml-file.js';

function configProblems(text: string): string[] {
  const { yaml, problems } = YamlFile.parse('/r/mcpgov.yaml', text);
  if (!yaml) return problems.map(formatProblem);
  return yaml.validate(ConfigSchema).problems.map(formatProblem);
}

describe('client-config keys in mcpgov.yaml', () => {
  it('accepts type stdio with command and type http with url, headers and env', () => {
    const text = [
      'servers:',
      '  local: { type: stdio, command: node, args: [server.js], env: { LOG: debug } }',
      '  remote: { type: http, url: "https://mcp.example.com/mcp", headers: { Authorization: "${env:TOKEN}" } }',
      '  plain: { url: "http://127.0.0.1:3001/mcp" }',
    ].join('\n');
    expect(configProblems(text)).toEqual([]);
  });

  it('checks type against the other keys, one problem each with its line', () => {
    const text = [
      'servers:',
      '  a: { type: http, command: node }',
      '  b: { type: stdio, url: "http://h/mcp" }',
      '  c: { command: node, url: "http://h/mcp" }',
      '  d: { args: [x] }',
    ].join('\n');
    expect(configProblems(text)).toEqual([
      '/r/mcpgov.yaml:2: servers.a.url: type http needs a url',
      '/r/mcpgov.yaml:3: servers.b.command: type stdio needs a command',
      '/r/mcpgov.yaml:4: servers.c: give command (a stdio server) or url (Streamable HTTP), not both',
      '/r/mcpgov.yaml:5: servers.d: missing required key "command" (or "package" or "url")',
    ]);
  });

  it('refuses sse, saying only Streamable HTTP is supported', () => {
    const [problem] = configProblems('servers:\n  old: { type: sse, url: "http://h/sse" }\n');
    expect(problem).toMatch(
      /^\/r\/mcpgov\.yaml:2: servers\.old\.type: sse is not supported: only Streamable HTTP/,
    );
  });

  it('keeps unknown keys errors, and refuses mcpServers with the way in', () => {
    expect(configProblems('servers:\n  a: { command: node, autoApprove: [x] }\n')).toEqual([
      '/r/mcpgov.yaml:2: servers.a.autoApprove: unknown key',
    ]);
    expect(configProblems('mcpServers:\n  a: { command: node }\n')[0]).toMatch(
      /mcpServers: a client config key: list servers under `servers`, or run `mcpgov init --from FILE`/,
    );
  });
});

describe('reading a client config', () => {
  it('reads Claude Desktop and Cursor mcpServers, stdio and url entries', () => {
    const { config } = parseClientConfig(
      JSON.stringify({
        mcpServers: {
          fs: { command: 'npx', args: ['-y', 'server-filesystem', '/tmp'], env: { A: 'b' } },
          docs: { url: 'https://docs.example.com/mcp', headers: { 'X-Key': 'k' } },
        },
        globalShortcut: 'Ctrl+Space',
      }),
    );
    expect(config?.format).toBe('mcpServers');
    expect(config?.servers).toEqual([
      {
        name: 'fs',
        kind: 'stdio',
        command: 'npx',
        args: ['-y', 'server-filesystem', '/tmp'],
        env: { A: 'b' },
      },
      { name: 'docs', kind: 'http', url: 'https://docs.example.com/mcp', headers: { 'X-Key': 'k' } },
    ]);
  });

  it("reads VS Code's servers with comments and trailing commas, leaving sse out with the reason", () => {
    const text = `{
      // the workspace's servers
      "inputs": [],
      "servers": {
        "remote": { "type": "http", "url": "http://127.0.0.1:3001/mcp", },
        /* an old one */
        "old": { "type": "sse", "url": "http://127.0.0.1:3002/sse" },
        "local": { "type": "stdio", "command": "node", "args": ["s.js // not a comment"], "envFile": ".env" },
      },
    }`;
    const { config } = parseClientConfig(text);
    expect(config?.format).toBe('servers');
    expect(config?.servers.map((s) => s.name)).toEqual(['remote', 'local']);
    expect(config?.servers[1]).toMatchObject({ args: ['s.js // not a comment'] });
    expect(config?.skipped).toEqual([
      { name: 'old', reason: 'an SSE server: mcpgov reaches servers over Streamable HTTP only' },
    ]);
    expect(config?.ignored).toEqual(['local.envFile']);
  });

  it('leaves out an entry that already runs mcpgov, so a second init does not wrap the gateway in itself', () => {
    const { config } = parseClientConfig(
      JSON.stringify({
        mcpServers: {
          mcpgov: {
            command: 'npx',
            args: ['-y', 'mcpgov', 'gateway', '--stdio', '--config', '/m/mcpgov.yaml'],
          },
          fs: {
            command: 'npx',
            args: ['-y', 'mcpgov@0.2.0', 'sidecar', '-c', 's.yaml', '--', 'node', 'fs.js'],
          },
          dev: { command: 'node', args: ['/src/mcpgov/dist/src/cli/bin-mcpgov.js', 'gateway', '--stdio'] },
          memory: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory'] },
          files: {
            command: 'npx',
            args: ['-y', '@modelcontextprotocol/server-filesystem', '/home/me/mcpgov'],
          },
        },
      }),
    );
    expect(config?.servers.map((s) => s.name)).toEqual(['memory', 'files']);
    expect(config?.skipped.map((s) => s.name)).toEqual(['mcpgov', 'fs', 'dev']);
  });

  it('says in one line what is wrong with a file that is not a client config', () => {
    expect(parseClientConfig('not json').problem).toMatch(/^not JSON: /);
    expect(parseClientConfig('{"preferences": {}}').problem).toBe(
      'no "mcpServers" (Claude Desktop, Cursor) or "servers" (VS Code) object',
    );
    expect(parseClientConfig('{"mcpServers": {}}').problem).toBe('no servers in "mcpServers"');
  });
});

describe('planning the servers', () => {
  const secretNamed = (key: string) => /token|key/i.test(key);

  it('moves secret values to ${env:NAME} and keeps the rest as written', () => {
    const [fs, docs] = planServers(
      [
        { name: 'gh', kind: 'stdio', command: 'x', args: [], env: { GITHUB_TOKEN: 't1', LOG: 'debug' } },
        { name: 'docs', kind: 'http', url: 'https://d/mcp', headers: { 'X-Api-Key': 'k1', Accept: 'a' } },
      ],
      secretNamed,
    );
    expect(fs?.entry).toEqual({
      type: 'stdio',
      command: 'x',
      args: [],
      env: { GITHUB_TOKEN: '${env:GITHUB_TOKEN}', LOG: 'debug' },
    });
    expect(fs?.secrets).toEqual({ GITHUB_TOKEN: 't1' });
    expect(docs?.entry).toEqual({
      type: 'http',
      url: 'https://d/mcp',
      headers: { 'X-Api-Key': '${env:DOCS_X_API_KEY}', Accept: 'a' },
    });
    expect(docs?.secrets).toEqual({ DOCS_X_API_KEY: 'k1' });
  });

  it('moves an argument that holds a secret, such as a connection string with a password', () => {
    const [db] = planServers(
      [
        {
          name: 'db',
          kind: 'stdio',
          command: 'npx',
          args: ['server-postgres', 'postgres://u:pw@h/db'],
          env: {},
        },
      ],
      (_key, value) => value.includes(':pw@'),
    );
    expect(db?.entry).toEqual({ type: 'stdio', command: 'npx', args: ['server-postgres', '${env:DB_ARG2}'] });
    expect(db?.secrets).toEqual({ DB_ARG2: 'postgres://u:pw@h/db' });
  });

  it('gives two servers with one variable name and different secrets a variable each', () => {
    const planned = planServers(
      [
        { name: 'a', kind: 'stdio', command: 'x', args: [], env: { API_KEY: 'one' } },
        { name: 'b', kind: 'stdio', command: 'x', args: [], env: { API_KEY: 'two' } },
        { name: 'c', kind: 'stdio', command: 'x', args: [], env: { API_KEY: 'one' } },
      ],
      secretNamed,
    );
    expect(planned.map((p) => p.secrets)).toEqual([
      { API_KEY: 'one' },
      { B_API_KEY: 'two' },
      { API_KEY: 'one' },
    ]);
  });

  it('makes client names valid, unique server names, never the reserved mcpgov', () => {
    expect(serverName('my files', new Set())).toBe('my-files');
    expect(serverName('a__b', new Set())).toBe('a_b');
    expect(serverName('github.com/x', new Set(['github-com-x']))).toBe('github-com-x-2');
    expect(serverName('mcpgov', new Set())).toBe('mcpgov-server');
    expect(serverName('--', new Set())).toBe('server');
  });

  it('guesses low for read-only, high for destructive, medium otherwise', () => {
    expect(guessTier({ readOnlyHint: true, destructiveHint: true }).tier).toBe('low');
    expect(guessTier({ readOnlyHint: false, destructiveHint: true }).tier).toBe('high');
    expect(guessTier({ destructiveHint: false }).tier).toBe('medium');
    expect(guessTier(undefined).tier).toBe('medium');
  });
});
