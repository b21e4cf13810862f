import { mkdir, mkdtemp, realpath, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { checkConfig, interpolate, resolveConfig } from '../../../src/config/load-config.js';
import { ConfigSchema, ToolsFileSchema } from '../../../src/config/schema.js';
import { formatProblem, YamlFile } from '../../../src/config/yaml-file.js';

function problemsOf(text: string, schema: z.ZodType = ToolsFileSchema) {
  const { yaml, problems } = YamlFile.parse('/r/tools.yaml', text);
  if (!yaml) return problems.map(formatProblem);
  return yaml.validate(schema).problems.map(formatProblem);
}

describe('strict config files', () => {
  it('names file, line and key path of an unknown key', () => {
    const text =
      'tools:\n  - name: a__b\n    owner: o\n    risk_tier: low\n    caps:\n      rate_per_min: 3\n';
    expect(problemsOf(text)).toEqual(['/r/tools.yaml:6: tools[0].caps.rate_per_min: unknown key']);
  });

  it('reports every problem, not just the first', () => {
    const text =
      'tools:\n  - name: a__b\n    risk_tier: extreme\n  - name: c\n    owner: o\n    risk_tier: low\n    mode: block\n';
    const problems = problemsOf(text);
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).toMatch(/:2: tools\[0\]: missing required key "owner"/);
    expect(problems.join('\n')).toMatch(/:3: tools\[0\]\.risk_tier/);
    expect(problems.join('\n')).toMatch(/:7: tools\[1\]\.mode/);
  });

  it("names every choice of a server missing both, and the meant one's own problem otherwise", () => {
    const missing = 'servers:\n  fs:\n    args: [server.js]\n';
    expect(problemsOf(missing, ConfigSchema)).toEqual([
      '/r/tools.yaml:2: servers.fs: missing required key "command" (or "package" or "url")',
    ]);
    // It has a command, so it is a local server: its command is what is wrong, not a missing url.
    const wrong = 'servers:\n  fs:\n    command: 3\n';
    expect(problemsOf(wrong, ConfigSchema)).toEqual([
      '/r/tools.yaml:3: servers.fs.command: Invalid input: expected string, received number',
    ]);
  });

  it('reports YAML syntax errors with a line', () => {
    expect(problemsOf('tools:\n  - name: [unclosed\n')[0]).toMatch(/^\/r\/tools\.yaml:\d+: /);
  });

  it('rejects duplicate keys rather than silently keeping the last', () => {
    expect(problemsOf('tools: []\ntools: []\n')).toHaveLength(1);
  });

  it('takes a Redis URL for shared counters, and nothing else', () => {
    const parsed = ConfigSchema.parse({ state: { counters: 'redis://127.0.0.1:6379' } });
    expect(resolveConfig(parsed, '/etc/mcpgov/mcpgov.yaml').state).toEqual({
      dir: path.resolve('/etc/mcpgov/.mcpgov/state'),
      counters: 'redis://127.0.0.1:6379',
    });
    expect(ConfigSchema.safeParse({ state: { counters: 'http://127.0.0.1:6379' } }).success).toBe(false);
    expect(resolveConfig(ConfigSchema.parse({}), '/etc/mcpgov/mcpgov.yaml').state.counters).toBeUndefined();
  });

  it('rejects server names that would break <server>__<tool> naming', () => {
    const result = ConfigSchema.safeParse({ servers: { a__b: { command: 'node' } } });
    expect(result.success).toBe(false);
  });
});

describe('config paths', () => {
  it('resolves relative paths against the config folder', () => {
    const config = resolveConfig(
      ConfigSchema.parse({
        paths: { demo: './demo' },
        servers: { fs: { command: 'node', args: ['${config_dir}/x.js'] } },
      }),
      '/etc/mcpgov/mcpgov.yaml',
    );
    expect(config.registries).toBe('/etc/mcpgov/registries');
    expect(config.evidence.dir).toBe(path.resolve('/etc/mcpgov/.mcpgov/evidence'));
    expect(config.paths['demo']).toBe('/etc/mcpgov/demo');
    expect(config.servers['fs']).toMatchObject({ args: ['/etc/mcpgov/x.js'], cwd: '/etc/mcpgov' });
  });

  it('gives named paths and server roots their real path', async () => {
    const dir = await realpath(await mkdtemp(path.join(tmpdir(), 'mcpgov-config-')));
    await mkdir(path.join(dir, 'data'));
    await symlink(path.join(dir, 'data'), path.join(dir, 'demo'));
    const config = resolveConfig(
      ConfigSchema.parse({
        paths: { demo: './demo' },
        servers: { fs: { command: 'node', args: ['x.js', './demo'], roots: ['./demo'] } },
      }),
      path.join(dir, 'mcpgov.yaml'),
    );
    expect(config.paths['demo']).toBe(path.join(dir, 'data'));
    expect(config.servers['fs']).toMatchObject({ roots: [path.join(dir, 'data')] });
    expect(checkConfig(config)).toEqual([]);
  });

  it("refuses roots that are not folders or differ from a server's folder arguments", async () => {
    const dir = await realpath(await mkdtemp(path.join(tmpdir(), 'mcpgov-config-')));
    await mkdir(path.join(dir, 'a'));
    await mkdir(path.join(dir, 'b'));
    const check = (args: string[], roots: string[]) =>
      checkConfig(
        resolveConfig(
          ConfigSchema.parse({ servers: { fs: { command: 'node', args, roots } } }),
          path.join(dir, 'mcpgov.yaml'),
        ),
      ).map((p) => `${p.path}: ${p.message}`);
    expect(check(['x.js', 'a'], ['missing'])).toEqual([
      `servers.fs.roots[0]: not a folder: ${path.join(dir, 'missing')}`,
    ]);
    expect(check(['x.js', 'a', 'b'], ['b', 'a'])).toEqual([
      expect.stringMatching(/^servers\.fs\.roots: the server's folder arguments .* differ from its roots/),
    ]);
    expect(check(['x.js', 'a'], ['a', 'b'])).toHaveLength(1);
    expect(check(['x.js', 'a', 'b'], ['a', 'b'])).toEqual([]);
    // A server without folder arguments (it learns its folders another way) is taken at its word.
    expect(check(['x.js'], ['a'])).toEqual([]);
  });

  it('refuses a second server with prefix: false, naming both servers', () => {
    const check = (servers: Record<string, unknown>) =>
      checkConfig(resolveConfig(ConfigSchema.parse({ servers }), '/etc/mcpgov/mcpgov.yaml')).map(
        (p) => `${p.path}: ${p.message}`,
      );
    expect(
      check({
        docs: { url: 'http://127.0.0.1:3001/mcp', prefix: false },
        fs: { command: 'node' },
        search: { command: 'node', prefix: false },
      }),
    ).toEqual([
      'servers.search.prefix: servers "docs" and "search" both set prefix: false: their tools would share one set of unprefixed names, where any name both offer collides; keep the prefix on one of them',
    ]);
    expect(
      check({ docs: { command: 'node', prefix: false }, fs: { command: 'node', prefix: true } }),
    ).toEqual([]);
    expect(ConfigSchema.safeParse({ servers: { fs: { command: 'node', prefix: 'no' } } }).success).toBe(
      false,
    );
  });

  it('refuses hosts that name unknown agents, or that no token could be verified for', () => {
    const config = resolveConfig(
      ConfigSchema.parse({ identity: { hosts: { agents: ['chat-host', 'ghost'] } } }),
      '/etc/mcpgov/mcpgov.yaml',
    );
    expect(checkConfig(config, new Set(['chat-host'])).map((p) => `${p.path}: ${p.message}`)).toEqual([
      'identity.hosts.agents[1]: names unknown agent "ghost"',
      'identity.hosts: hosts named by agent or claims need identity.jwks to verify their tokens',
    ]);
  });

  it('interpolates ${config_dir} and ${env:NAME}', () => {
    expect(interpolate('${config_dir}/m.jsonl ${env:HOME_X}', '/c', { HOME_X: 'h' })).toBe('/c/m.jsonl h');
  });

  it('defaults to observe mode, batch fsync and a 1 MiB message limit', () => {
    const config = ConfigSchema.parse({});
    expect(config).toMatchObject({
      mode: 'observe',
      evidence: { fsync: 'batch' },
      limits: { max_message_bytes: 1048576 },
    });
  });

  it('fills every limit a config leaves out, and refuses unknown or unsafe ones', () => {
    expect(ConfigSchema.parse({ limits: { max_sessions: 5 } }).limits).toEqual({
      max_message_bytes: 1048576,
      max_argument_bytes: 262144,
      max_argument_depth: 64,
      max_result_bytes: 8388608,
      max_downstream_message_bytes: 33554432,
      max_concurrent_calls_per_session: 32,
      max_concurrent_calls_per_agent: 128,
      max_sessions: 5,
      max_sessions_per_caller: 64,
      session_idle_seconds: 600,
    });
    expect(ConfigSchema.safeParse({ limits: { max_sesions: 5 } }).success).toBe(false);
    // Deeper arguments could not be canonicalized inside a decision record.
    expect(ConfigSchema.safeParse({ limits: { max_argument_depth: 300 } }).success).toBe(false);
    expect(ConfigSchema.safeParse({ limits: { max_sessions: 0 } }).success).toBe(false);
  });
});
