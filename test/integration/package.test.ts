import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { readEvidence } from '../../src/evidence/jsonl-store.js';
import { REFERENCE_SERVERS, REPO } from '../helpers/fixture.js';
import { callTool, textOf } from '../helpers/gateway-harness.js';

/**
 * The package as a user gets it: the repository's files packed with `npm pack` (its prepack build
 * included), the tarball installed into a new project with `npm install <tgz>` (dependencies from the
 * npm registry or the npm cache), and the installed CLI and library used there, with the user state
 * folder (MCPGOV_HOME) in a temp folder.
 */

const run = promisify(execFile);

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command; resolves with its exit code and output instead of throwing on a non-zero exit. */
async function exec(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  try {
    const { stdout, stderr } = await run(command, args, {
      cwd,
      env: { ...process.env, ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number | string; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof err.code === 'number' ? err.code : -1,
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? err.message,
    };
  }
}

/** Every file under `dir`, relative to it, sorted. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

let tmp: string;
/** The temporary project the tarball is installed into. */
let project: string;
/** The installed package: node_modules/mcpgov in the project. */
let installed: string;
/** MCPGOV_HOME for every command run in the project. */
let home: string;
/** The tarball's files, as `npm pack` lists them. */
let packed: string[];
/** The installed package's files before any command ran there. */
let installedBefore: string[];
const manifest = JSON.parse(await readFile(path.join(REPO, 'package.json'), 'utf8')) as {
  version: string;
  exports: Record<string, string | { types: string; default: string }>;
  bin: Record<string, string>;
};

/**
 * `npx --no -- <bin> ...` in the project: the installed bin, never one fetched from the registry (`--`
 * keeps npx from taking the bin's own options, such as `--version`, for itself).
 */
const npx = (...args: string[]) => exec('npx', ['--no', '--', ...args], project, { MCPGOV_HOME: home });

beforeAll(async () => {
  tmp = await realpath(await mkdtemp(path.join(tmpdir(), 'mcpgov-package-')));
  home = path.join(tmp, 'home');
  project = path.join(tmp, 'project');
  installed = path.join(project, 'node_modules', 'mcpgov');

  // Pack a copy of the repository's files (tracked, and new ones not ignored), without dist/: the
  // prepack build makes everything the tarball holds, and the repository's own dist/ stays untouched
  // for tests running beside this one.
  const source = path.join(tmp, 'source');
  const listed = await exec('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], REPO);
  if (listed.code !== 0) throw new Error(`git ls-files failed in ${REPO}: ${listed.stderr}`);
  for (const file of listed.stdout.split('\0').filter(Boolean)) {
    await cp(path.join(REPO, file), path.join(source, file), { force: true }).catch(
      (e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e; // a tracked file deleted in the working tree
      },
    );
  }
  await symlink(path.join(REPO, 'node_modules'), path.join(source, 'node_modules'));
  const pack = await exec('npm', ['pack', '--json', '--pack-destination', tmp], source);
  if (pack.code !== 0) throw new Error(`npm pack failed (exit ${pack.code}):\n${pack.stderr}`);
  const [report] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as [
    { filename: string; files: { path: string }[] },
  ];
  packed = report.files.map((f) => f.path).sort();

  await mkdir(project);
  await writeFile(
    path.join(project, 'package.json'),
    JSON.stringify({ name: 'mcpgov-package-test', private: true, type: 'module' }),
  );
  const install = await exec(
    'npm',
    ['install', path.join(tmp, report.filename), '--no-audit', '--no-fund', '--prefer-offline'],
    project,
  );
  if (install.code !== 0) {
    const ping = await exec('npm', ['ping'], project);
    throw new Error(
      ping.code === 0
        ? `npm install of the tarball failed:\n${install.stderr}`
        : `npm install of the tarball failed, and the npm registry is unreachable (npm ping: ${ping.stderr.trim().split('\n').at(-1)}): ` +
            `this test installs mcpgov's dependencies from the registry or the npm cache\n${install.stderr}`,
    );
  }
  installedBefore = await filesUnder(installed);
}, 600_000);

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  it('ships the runtime files only: no tests, test fixtures or source maps', () => {
    expect(packed.filter((f) => /^(dist\/)?test\//.test(f) || f.endsWith('.map'))).toEqual([]);
    expect(packed.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
  });

  it('ships the Apache-2.0 LICENSE, the demo, its registries and policies, and the eval suite', async () => {
    for (const file of [
      'LICENSE',
      'README.md',
      'mcpgov.yaml',
      'sidecar.yaml',
      'registries/tools.yaml',
      'policies/demo.yaml',
      'demo/notes/welcome.txt',
      'evals/mcpgov.yaml',
      'evals/thresholds.json',
    ])
      expect(packed).toContain(file);
    expect(packed.some((f) => f.startsWith('evals/cases/'))).toBe(true);
    const license = await readFile(path.join(installed, 'LICENSE'), 'utf8');
    expect(license).toMatch(/^\s*Apache License\s+Version 2\.0, January 2004/);
    expect(license).toContain('END OF TERMS AND CONDITIONS');
  });

  it('ships every exports target with its type declarations, and every bin', () => {
    const targets = Object.values(manifest.exports).flatMap((t) =>
      typeof t === 'string' ? [t] : [t.types, t.default],
    );
    expect(targets.filter((t) => t.endsWith('.d.ts'))).toHaveLength(4);
    for (const target of [...targets, ...Object.values(manifest.bin)])
      expect(packed).toContain(path.normalize(target));
    expect(Object.keys(manifest.bin).sort()).toEqual(['mcpgov', 'mcpgov-gateway', 'mcpgov-sidecar']);
  });
});

describe('mcpgov installed from the tarball', () => {
  it('npx mcpgov --version prints the package version', async () => {
    const { code, stdout } = await npx('mcpgov', '--version');
    expect(code).toBe(0);
    expect(stdout.trim()).toBe(manifest.version);
  });

  it('installs the mcpgov-gateway and mcpgov-sidecar bins, each its own command', async () => {
    const gateway = await npx('mcpgov-gateway', '--help');
    expect(gateway).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Usage: mcpgov gateway/) });
    const sidecar = await npx('mcpgov-sidecar', '--help');
    expect(sidecar).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Usage: mcpgov sidecar/) });
  });

  it('validates the shipped demo config', async () => {
    const { code, stdout, stderr } = await npx(
      'mcpgov',
      'validate',
      '--config',
      'node_modules/mcpgov/mcpgov.yaml',
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^ok: node_modules\/mcpgov\/mcpgov\.yaml: 3 servers, \d+ tool entries/);
    // The demo's folder is the user's copy, under MCPGOV_HOME, not the installed package's.
    expect(await readFile(path.join(home, 'demo', 'notes', 'welcome.txt'), 'utf8')).toMatch(/^Welcome/);
  });

  it('validates a config of the project, and names the problem in a broken one', async () => {
    await writeProjectConfig();
    const ok = await npx('mcpgov', 'validate', '--config', 'governed.yaml');
    expect(ok).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^ok: governed\.yaml: 0 servers, 1 tool entries, 1 agents, 0 rules/),
    });
    await writeFile(path.join(project, 'broken.yaml'), 'registries: ./registries\nevidence: { dri: ./e }\n');
    const broken = await npx('mcpgov', 'validate', '--config', 'broken.yaml');
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('broken.yaml:2: evidence.dri: unknown key');
  });

  it('runs the shipped eval suite by default, from any folder', async () => {
    const { code, stdout } = await npx('mcpgov', 'evals', 'run', '--stage', 'deterministic', '--json');
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { cases: number; metrics: { precision: number } };
    expect(report.cases).toBeGreaterThan(100);
    expect(report.metrics.precision).toBeGreaterThan(0);
  });

  it('governs a real server with the sidecar on a config of the project, evidence beside that config', async () => {
    await writeProjectConfig();
    const answer = await echoThroughSidecar(['--config', 'governed.yaml', '--name', 'everything'], 'echo');
    expect(answer.tools).toContain('echo');
    expect(answer.tools).not.toContain('get-env'); // not in the project's registry: hidden
    expect(answer.text).toBe('Echo: through the package');
    const decisions = (await readEvidence(path.join(project, 'evidence'))).filter(
      (r) => r.kind === 'decision',
    );
    expect(decisions.map((d) => [d.request?.tool, d.decision?.effect, d.pep.kind])).toEqual([
      ['echo', 'allow', 'sidecar'],
    ]);
  });

  it('keeps the state of the shipped sidecar config in MCPGOV_HOME, and the installed package unchanged', async () => {
    const answer = await echoThroughSidecar(
      ['--config', 'node_modules/mcpgov/sidecar.yaml', '--name', 'everything', '--prefix'],
      'everything__echo',
    );
    expect(answer.text).toBe('Echo: through the package');
    const evidenceDir = path.join(home, '.mcpgov', 'sidecar-evidence');
    const decisions = (await readEvidence(evidenceDir)).filter((r) => r.kind === 'decision');
    expect(decisions.map((d) => [d.request?.tool, d.decision?.effect])).toEqual([
      ['everything__echo', 'allow'],
    ]);
    expect(await filesUnder(path.join(evidenceDir, 'keys'))).toContain('signing-key.private.jwk');
    expect(await filesUnder(installed)).toEqual(installedBefore);
  });

  it('puts a Claude Desktop config under governance with npx mcpgov init, and serves its tools', async () => {
    await writeFile(
      path.join(project, 'claude_desktop_config.json'),
      JSON.stringify({
        mcpServers: { everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] } },
      }),
    );
    const init = await npx(
      'mcpgov',
      'init',
      '--from',
      'claude_desktop_config.json',
      '--dir',
      'gov',
      '--json',
    );
    expect(init.stderr).toBe('');
    expect(init.code).toBe(0);
    const result = JSON.parse(init.stdout) as { tools: { name: string }[]; snippet: Record<string, unknown> };
    expect(result.tools.map((t) => t.name)).toContain('everything__echo');
    expect(JSON.stringify(result.snippet)).toContain('gov/mcpgov.yaml');
    expect(await npx('mcpgov', 'validate', '-c', 'gov/mcpgov.yaml')).toMatchObject({ code: 0 });

    const client = new Client({ name: 'package-test', version: '0' });
    await client.connect(
      new StdioClientTransport({
        command: 'npx',
        args: ['--no', '--', 'mcpgov', 'gateway', '--stdio', '-c', 'gov/mcpgov.yaml'],
        cwd: project,
        env: { ...(process.env as Record<string, string>), MCPGOV_HOME: home },
        stderr: 'ignore',
      }),
    );
    try {
      expect((await client.listTools()).tools.map((t) => t.name)).toContain('everything__echo');
      const echo = await callTool(client, 'everything__echo', { message: 'governed by init' });
      expect(textOf(echo)).toBe('Echo: governed by init');
    } finally {
      await client.close();
    }
    const decisions = (await readEvidence(path.join(project, 'gov', '.mcpgov', 'evidence'))).filter(
      (r) => r.kind === 'decision',
    );
    expect(decisions.map((d) => d.request?.tool)).toContain('everything__echo');
  });

  it("import('mcpgov') and its subpaths resolve in the project and expose the documented names", async () => {
    await writeFile(
      path.join(project, 'api.mjs'),
      `import * as root from 'mcpgov';
import { startSidecar } from 'mcpgov/sidecar';
import { loadConfig } from 'mcpgov/config';
import { verifyLogDir } from 'mcpgov/evidence';
const config = await root.loadConfig('node_modules/mcpgov/sidecar.yaml');
const names = ['startSidecar', 'GovernedTransport', 'loadConfig', 'checkConfig', 'ConfigError', 'verifyLogDir', 'formatFailure', 'VERSION'];
console.log(JSON.stringify({
  missing: names.filter((n) => root[n] === undefined),
  same: root.startSidecar === startSidecar && root.loadConfig === loadConfig && root.verifyLogDir === verifyLogDir,
  version: root.VERSION,
  evidenceDir: config.evidence.dir,
}));
`,
    );
    const { code, stdout, stderr } = await exec(process.execPath, ['api.mjs'], project, {
      MCPGOV_HOME: home,
    });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      missing: [],
      same: true,
      version: manifest.version,
      evidenceDir: path.join(home, '.mcpgov', 'sidecar-evidence'),
    });
  });

  it('type-checks a TypeScript program against the declarations the exports name', async () => {
    await writeFile(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          target: 'es2022',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        files: ['api.ts'],
      }),
    );
    await writeFile(
      path.join(project, 'api.ts'),
      `import { loadConfig, verifyLogDir, type ResolvedConfig, type VerifyReport } from 'mcpgov';
import { startSidecar, type Sidecar } from 'mcpgov/sidecar';
export async function check(): Promise<[Sidecar, VerifyReport]> {
  const config: ResolvedConfig = await loadConfig('sidecar.yaml');
  // @ts-expect-error a config is not a number: the types are the real ones, not any
  const wrong: number = config;
  return [await startSidecar({ config }), await verifyLogDir(config.evidence.dir, { keys: [] })];
}
`,
    );
    const tsc = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    const { code, stdout } = await exec(process.execPath, [tsc, '-p', 'tsconfig.json'], project);
    expect(stdout).toBe('');
    expect(code).toBe(0);
  });
});

/** The project's own config: the echo tool of server-everything allowed to a default agent. */
async function writeProjectConfig(): Promise<void> {
  await mkdir(path.join(project, 'registries'), { recursive: true });
  await mkdir(path.join(project, 'policies'), { recursive: true });
  await writeFile(
    path.join(project, 'registries', 'tools.yaml'),
    stringify({ tools: [{ name: 'echo', owner: 'platform', risk_tier: 'low' }], groups: { all: ['echo'] } }),
  );
  await writeFile(
    path.join(project, 'registries', 'agents.yaml'),
    stringify({ agents: [{ id: 'dev', owner: 'platform', tool_groups: ['all'] }] }),
  );
  await writeFile(path.join(project, 'policies', 'rules.yaml'), stringify({ rules: [] }));
  await writeFile(
    path.join(project, 'governed.yaml'),
    stringify({
      registries: './registries',
      policies: './policies',
      evidence: { dir: './evidence' },
      identity: { default_agent: 'dev' },
      pep: { id: 'package-test' },
      mode: 'enforce',
    }),
  );
}

/**
 * `npx mcpgov sidecar OPTIONS -- node <server-everything> stdio` driven by an SDK client: initialize,
 * tools/list, one echo call; the client's close waits for the sidecar to exit.
 */
async function echoThroughSidecar(
  options: string[],
  tool: string,
): Promise<{ tools: string[]; text: string }> {
  const client = new Client({ name: 'package-test', version: '0' });
  await client.connect(
    new StdioClientTransport({
      command: 'npx',
      args: [
        '--no',
        '--',
        'mcpgov',
        'sidecar',
        ...options,
        '--',
        'node',
        REFERENCE_SERVERS.everything,
        'stdio',
      ],
      cwd: project,
      env: { ...(process.env as Record<string, string>), MCPGOV_HOME: home },
      stderr: 'ignore',
    }),
  );
  try {
    const tools = (await client.listTools()).tools.map((t) => t.name);
    const text = textOf(await callTool(client, tool, { message: 'through the package' }));
    return { tools, text };
  } finally {
    await client.close();
  }
}
