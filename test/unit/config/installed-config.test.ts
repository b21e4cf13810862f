import { mkdir, mkdtemp, readFile, realpath, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig, resolveConfig } from '../../../src/config/load-config.js';
import { launchPackage } from '../../../src/config/package-server.js';
import { ConfigSchema } from '../../../src/config/schema.js';
import { stateRoot, userStateFolder } from '../../../src/config/state-root.js';
import { REPO } from '../../helpers/fixture.js';

describe('user state folder', () => {
  it('is $MCPGOV_HOME when set', () => {
    expect(userStateFolder({ MCPGOV_HOME: '/srv/gov', XDG_STATE_HOME: '/x' })).toBe('/srv/gov');
  });

  it('is $XDG_STATE_HOME/mcpgov without MCPGOV_HOME', () => {
    expect(userStateFolder({ XDG_STATE_HOME: '/home/u/.state' })).toBe('/home/u/.state/mcpgov');
  });

  it('is ~/.local/state/mcpgov otherwise, and when XDG_STATE_HOME is relative (the spec says ignore it)', () => {
    const fallback = path.join(homedir(), '.local', 'state', 'mcpgov');
    expect(userStateFolder({})).toBe(fallback);
    expect(userStateFolder({ XDG_STATE_HOME: 'rel/state' })).toBe(fallback);
  });

  it("is a config's state root only when the config lies inside node_modules", () => {
    const env = { MCPGOV_HOME: '/srv/gov' };
    expect(stateRoot('/p/node_modules/mcpgov/mcpgov.yaml', env)).toBe('/srv/gov');
    expect(stateRoot('/usr/lib/node_modules/mcpgov/evals/mcpgov.yaml', env)).toBe('/srv/gov');
    expect(stateRoot('/p/mcpgov.yaml', env)).toBe('/p');
  });
});

describe('a config inside node_modules', () => {
  const config = ConfigSchema.parse({
    registries: './registries',
    paths: { here: '.' },
    evidence: { dir: './.mcpgov/evidence' },
    policies: { sources: './policies' },
    servers: {
      memory: {
        command: 'node',
        args: ['${config_dir}/server.js'],
        env: { MEMORY_FILE_PATH: '${state_root}/.mcpgov/memory.jsonl' },
      },
    },
  });
  const file = '/p/node_modules/mcpgov/mcpgov.yaml';

  it('writes evidence, state, the policy registry and cache, and ${state_root} files under the user state folder', () => {
    const resolved = resolveConfig(config, file, { MCPGOV_HOME: '/srv/gov' });
    expect(resolved.stateRoot).toBe('/srv/gov');
    expect(resolved.evidence.dir).toBe('/srv/gov/.mcpgov/evidence');
    expect(resolved.state.dir).toBe('/srv/gov/.mcpgov/state');
    expect(resolved.policy.registry).toBe('/srv/gov/.mcpgov/policy-registry');
    expect(resolved.policy.cache).toBe('/srv/gov/.mcpgov/policy-cache');
    expect(resolved.servers['memory']).toMatchObject({
      args: ['/p/node_modules/mcpgov/server.js'],
      env: { MEMORY_FILE_PATH: '/srv/gov/.mcpgov/memory.jsonl' },
      cwd: '/p/node_modules/mcpgov',
    });
  });

  it('still reads its registries and policies beside it', () => {
    const resolved = resolveConfig(config, file, { MCPGOV_HOME: '/srv/gov' });
    expect(resolved.registries).toBe('/p/node_modules/mcpgov/registries');
    expect(resolved.policies).toBe('/p/node_modules/mcpgov/policies');
  });

  it('outside node_modules, keeps every path beside the config', () => {
    const resolved = resolveConfig(config, '/p/mcpgov.yaml', { MCPGOV_HOME: '/srv/gov' });
    expect(resolved.evidence.dir).toBe('/p/.mcpgov/evidence');
    expect(resolved.servers['memory']).toMatchObject({
      env: { MEMORY_FILE_PATH: '/p/.mcpgov/memory.jsonl' },
    });
  });
});

describe('servers named by their npm package', () => {
  async function project(pkg: Record<string, unknown>): Promise<string> {
    const dir = await realpath(await mkdtemp(path.join(tmpdir(), 'mcpgov-pkg-')));
    const folder = path.join(dir, 'node_modules', '@acme', 'server-notes');
    await mkdir(path.join(dir, 'config', 'deeper'), { recursive: true });
    await mkdir(folder, { recursive: true });
    await writeFile(
      path.join(folder, 'package.json'),
      JSON.stringify({ name: '@acme/server-notes', ...pkg }),
    );
    return dir;
  }

  it('run with this node from a local install found upward from the config folder', async () => {
    const dir = await project({ bin: { 'notes-server': 'dist/main.js' } });
    expect(launchPackage('@acme/server-notes@1.2.3', path.join(dir, 'config', 'deeper'))).toEqual({
      command: process.execPath,
      args: [path.join(dir, 'node_modules/@acme/server-notes/dist/main.js')],
    });
  });

  it('of several bins, run the one named after the package, as npx does', async () => {
    const dir = await project({ bin: { other: 'o.js', 'server-notes': 'main.js' } });
    expect(launchPackage('@acme/server-notes@1.2.3', dir).args).toEqual([
      path.join(dir, 'node_modules/@acme/server-notes/main.js'),
    ]);
  });

  it('run with npx -y name@version when not installed', async () => {
    const dir = await project({ bin: 'main.js' });
    expect(launchPackage('@acme/other-server@2.0.0', dir)).toEqual({
      command: 'npx',
      args: ['-y', '@acme/other-server@2.0.0'],
    });
  });

  it('resolve in the config to the command, with the launcher arguments before their own', async () => {
    const dir = await project({ bin: 'main.js' });
    const config = ConfigSchema.parse({
      servers: { notes: { package: '@acme/server-notes@1.2.3', args: ['./data'] } },
    });
    expect(resolveConfig(config, path.join(dir, 'mcpgov.yaml')).servers['notes']).toEqual({
      command: process.execPath,
      args: [path.join(dir, 'node_modules/@acme/server-notes/main.js'), './data'],
      env: {},
      cwd: dir,
      roots: [],
    });
  });

  it('need name@version', () => {
    expect(ConfigSchema.safeParse({ servers: { a: { package: '@acme/server-notes' } } }).success).toBe(false);
    expect(ConfigSchema.safeParse({ servers: { a: { package: 'x@1', command: 'node' } } }).success).toBe(
      false,
    );
  });

  it('in the demo config, pin the versions the clone installs (npx runs what the tests ran)', async () => {
    const demo = parse(await readFile(path.join(REPO, 'mcpgov.yaml'), 'utf8')) as {
      servers: Record<string, { package?: string }>;
    };
    const specs = Object.values(demo.servers).map((s) => s.package);
    expect(specs).toHaveLength(3);
    for (const spec of specs) {
      const at = spec!.lastIndexOf('@');
      const manifest = path.join(REPO, 'node_modules', spec!.slice(0, at), 'package.json');
      const installed = (JSON.parse(await readFile(manifest, 'utf8')) as { version: string }).version;
      expect(`${spec!.slice(0, at)}@${installed}`).toBe(spec);
    }
  });
});

describe('seed folders', () => {
  it('are copied to the user state folder on first load of an installed config, and never over the copy', async () => {
    const tmp = await realpath(await mkdtemp(path.join(tmpdir(), 'mcpgov-seed-')));
    const pkg = path.join(tmp, 'project', 'node_modules', 'mcpgov');
    await mkdir(path.join(pkg, 'demo', 'notes'), { recursive: true });
    await writeFile(path.join(pkg, 'demo', 'notes', 'welcome.txt'), 'shipped');
    await writeFile(
      path.join(pkg, 'mcpgov.yaml'),
      "seed: { demo: ./demo }\npaths: { demo: '${state_root}/demo' }\n",
    );
    const home = path.join(tmp, 'home');
    const before = process.env['MCPGOV_HOME'];
    process.env['MCPGOV_HOME'] = home;
    try {
      const loaded = await loadConfig(path.join(pkg, 'mcpgov.yaml'));
      expect(loaded.paths['demo']).toBe(path.join(home, 'demo'));
      expect(await readFile(path.join(home, 'demo', 'notes', 'welcome.txt'), 'utf8')).toBe('shipped');
      await writeFile(path.join(home, 'demo', 'notes', 'welcome.txt'), 'the user changed it');
      await loadConfig(path.join(pkg, 'mcpgov.yaml'));
      expect(await readFile(path.join(home, 'demo', 'notes', 'welcome.txt'), 'utf8')).toBe(
        'the user changed it',
      );
    } finally {
      if (before === undefined) delete process.env['MCPGOV_HOME'];
      else process.env['MCPGOV_HOME'] = before;
    }
  });

  it("leave a clone's folder where it is: the state root is the config's folder", async () => {
    const tmp = await realpath(await mkdtemp(path.join(tmpdir(), 'mcpgov-seed-clone-')));
    await mkdir(path.join(tmp, 'demo'));
    await writeFile(
      path.join(tmp, 'mcpgov.yaml'),
      "seed: { demo: ./demo }\npaths: { demo: '${state_root}/demo' }\n",
    );
    const loaded = await loadConfig(path.join(tmp, 'mcpgov.yaml'));
    expect(loaded.paths['demo']).toBe(path.join(tmp, 'demo'));
  });
});
