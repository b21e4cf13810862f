import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { mcpgov } from '../helpers/cli.js';
import { CLI, REFERENCE_SERVERS, REPO, writeFixture, type FixtureSpec } from '../helpers/fixture.js';

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

/** The commands that run something (no subcommands of their own), by their words after `mcpgov`. */
function leaves(command: Command = buildProgram(), words: string[] = []): [string, Command][] {
  const subs = command.commands.filter((c) => c.name() !== 'help');
  if (subs.length === 0) return [[words.join(' '), command]];
  return subs.flatMap((c) => leaves(c, [...words, c.name()]));
}

/** Commands that read no config: they work on files or URLs named on the command line. */
const NO_CONFIG = [
  'connect',
  'keys generate',
  'evidence verify',
  'evidence pull',
  'evals convert-rjudge',
  'version',
  'completion',
  'init',
];
/** Commands whose output is not a report: MCP on stdio, the data itself, a token, a script. */
const NO_JSON = [
  'gateway',
  'sidecar',
  'connect',
  'evidence export',
  'approvals token',
  'version',
  'completion',
];

describe('mcpgov options shared by the commands', { timeout: 120_000 }, () => {
  it('gives every command that reads a config -c/--config, from MCPGOV_CONFIG when not given', () => {
    for (const [name, command] of leaves()) {
      const config = command.options.find((o) => o.long === '--config');
      if (NO_CONFIG.includes(name)) {
        expect(config, name).toBeUndefined();
        continue;
      }
      expect(config?.short, name).toBe('-c');
      // The eval suite's config is its own, not the deployment's.
      expect(config?.envVar, name).toBe(name.startsWith('evals ') ? undefined : 'MCPGOV_CONFIG');
    }
  });

  it('gives every command that reports something --json', () => {
    for (const [name, command] of leaves()) {
      const json = command.options.some((o) => o.long === '--json');
      expect(json, name).toBe(!NO_JSON.includes(name));
    }
  });

  it('reads the config named by MCPGOV_CONFIG, and -c wins over it', async () => {
    const fixture = await writeFixture(minimal);
    const other = await writeFixture(minimal);
    const env = { MCPGOV_CONFIG: fixture.configFile };
    const fromEnv = await mcpgov(['validate', '--json'], { env });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
    expect(JSON.parse(fromEnv.stdout)).toMatchObject({ ok: true, config: fixture.configFile, servers: 1 });
    const given = await mcpgov(['validate', '--json', '-c', other.configFile], { env });
    expect(JSON.parse(given.stdout)).toMatchObject({ config: other.configFile });
    // A command that used to take only --config: the approvals store of the config from the variable.
    const listed = await mcpgov(['approvals', 'list', '--json'], { env });
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual({ requests: [] });
  });

  it('warns on a config with no servers: a line on stderr, a warnings array with --json, exit 1 only with --strict', async () => {
    const fixture = await writeFixture({ ...minimal, config: { identity: { default_agent: 'dev' } } });
    const plain = await mcpgov(['validate', '-c', fixture.configFile]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).toMatch(/^warning: .*no servers configured/);
    expect(plain.stdout).toMatch(/^ok: .*0 servers/);
    const json = await mcpgov(['validate', '-c', fixture.configFile, '--json']);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as { ok: boolean; warnings: string[]; problems: unknown[] };
    expect(report).toMatchObject({ ok: true, problems: [] });
    expect(report.warnings).toHaveLength(1);
    expect(report.warnings[0]).toMatch(/no servers configured/);
    const strict = await mcpgov(['validate', '-c', fixture.configFile, '--strict']);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(/failing with --strict/);
  });

  it('prints JSON with --json: keys generate, registry pin against a live server', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-keys-'));
    const keys = await mcpgov(['keys', 'generate', '--out', dir, '--name', 'k', '--json']);
    expect(keys.code, keys.stderr).toBe(0);
    const files = JSON.parse(keys.stdout) as { privateKey: string; publicJwks: string; kid: string };
    expect(files.privateKey).toBe(path.join(dir, 'k.private.jwk'));
    expect(JSON.parse(await readFile(files.publicJwks, 'utf8'))).toMatchObject({
      keys: [{ kid: files.kid }],
    });

    const fixture = await writeFixture(minimal);
    const pinned = await mcpgov(['registry', 'pin', '-c', fixture.configFile, '--dry-run', '--json']);
    expect(pinned.code, pinned.stderr).toBe(0);
    const plan = JSON.parse(pinned.stdout) as { written: unknown; counts: { not_exact: number } };
    expect(plan.written).toBeNull();
    // Only a glob entry covers the server's tools: none is pinned, each is counted.
    expect(plan.counts.not_exact).toBeGreaterThan(0);
  });
});

describe("mcpgov sidecar and the wrapped command's own options", { timeout: 120_000 }, () => {
  /** Runs the sidecar around a script that records its arguments and exits; returns them and our stdout. */
  async function wrapped(form: 'dashes' | 'bare'): Promise<{ argv: string[]; stdout: string }> {
    const fixture = await writeFixture(minimal);
    const script = path.join(fixture.dir, 'record-argv.mjs');
    const out = path.join(fixture.dir, 'argv.json');
    await writeFile(
      script,
      `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(out)}, JSON.stringify(process.argv.slice(2)));\n`,
    );
    const args = [
      'sidecar',
      '-c',
      fixture.configFile,
      ...(form === 'dashes' ? ['--'] : []),
      'node',
      script,
      '--help',
      '-c',
      'x',
    ];
    // stdin stays open: the sidecar ends because the wrapped command exits, not because its client left.
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO, stdio: ['pipe', 'pipe', 'ignore'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    await new Promise((resolve) => child.once('exit', resolve));
    child.stdin.destroy();
    return { argv: JSON.parse(await readFile(out, 'utf8')) as string[], stdout };
  }

  it('passes --help after "--" to the wrapped server, not printing ours', async () => {
    const { argv, stdout } = await wrapped('dashes');
    expect(argv).toEqual(['--help', '-c', 'x']);
    expect(stdout).not.toContain('Usage: mcpgov');
  });

  it('passes --help after the command without "--" too', async () => {
    const { argv, stdout } = await wrapped('bare');
    expect(argv).toEqual(['--help', '-c', 'x']);
    expect(stdout).not.toContain('Usage: mcpgov');
  });
});

describe('mcpgov completion', { timeout: 120_000 }, () => {
  /** Every command of the tree by its words after `mcpgov`, with its subcommands and long options. */
  function tree(command: Command = buildProgram(), words: string[] = []) {
    const subs = command.commands.filter((c) => c.name() !== 'help');
    const longs = [...command.options.map((o) => o.long!), '--help'];
    const node = { words, subs: subs.map((c) => c.name()), longs };
    return [node, ...subs.flatMap((c): (typeof node)[] => tree(c, [...words, c.name()]))];
  }

  it('completes every subcommand and option of the tree in bash', async () => {
    const script = await mcpgov(['completion', 'bash']);
    expect(script.code, script.stderr).toBe(0);
    const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-completion-'));
    await writeFile(path.join(dir, 'mcpgov.bash'), script.stdout);
    const nodes = tree();
    // One bash run: for each command, what TAB offers after it, and after "--".
    const driver = [
      `source ${JSON.stringify(path.join(dir, 'mcpgov.bash'))}`,
      'offer() { COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=(); _mcpgov; echo "${COMPREPLY[*]}"; }',
      ...nodes.flatMap(({ words }) => [
        `offer mcpgov ${words.join(' ')} ''`,
        `offer mcpgov ${words.join(' ')} --`,
      ]),
      'offer mcpgov pol',
      'offer mcpgov policy s',
      'offer mcpgov sidecar -c sidecar.yaml --',
      'offer mcpgov evals run --stage p',
    ].join('\n');
    const bash = await new Promise<string>((resolve, reject) => {
      const child = spawn('bash', ['--norc', '--noprofile'], { cwd: dir });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => reject(new Error(c.toString())));
      child.once('exit', () => resolve(out));
      child.stdin.end(driver);
    });
    const lines = bash.split('\n');
    nodes.forEach(({ words, subs, longs }, i) => {
      const all = lines[2 * i]!.split(' ');
      const dashed = lines[2 * i + 1]!.split(' ');
      for (const sub of subs) expect(all, `mcpgov ${words.join(' ')} <TAB>`).toContain(sub);
      for (const long of longs) expect(dashed, `mcpgov ${words.join(' ')} --<TAB>`).toContain(long);
    });
    const tail = lines.slice(2 * nodes.length);
    expect(tail[0]).toBe('policy');
    expect(tail[1]!.split(' ').sort()).toEqual(['sign', 'status']);
    expect(tail[2]!.split(' ')).toEqual(
      expect.arrayContaining(['--config', '--name', '--prefix', '--gateway']),
    );
    // An option with choices completes them.
    expect(tail[3]).toBe('pipeline');
  });

  it('prints a zsh script with every command, subcommand and option of the tree', async () => {
    const script = await mcpgov(['completion', 'zsh']);
    expect(script.code, script.stderr).toBe(0);
    expect(script.stdout).toMatch(/^#compdef mcpgov\n/);
    for (const { words, subs, longs } of tree()) {
      const entry = new RegExp(`^ {4}"${words.join(' ')}"\\) subs=\\((.*)\\); opts=\\((.*)\\) ;;$`, 'm').exec(
        script.stdout,
      );
      expect(entry, words.join(' ')).not.toBeNull();
      for (const sub of subs) expect(entry![1], words.join(' ')).toContain(`'${sub}:`);
      for (const long of longs) expect(entry![2], words.join(' ')).toContain(`'${long}:`);
    }
  });
});
