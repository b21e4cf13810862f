import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { VERSION } from '../../src/util/version.js';
import { inBatches, mcpgov } from '../helpers/cli.js';
import { CLI, REPO } from '../helpers/fixture.js';

/** Every command of the tree as the words after `mcpgov` ([] for mcpgov itself), with its command. */
function commandTree(command: Command = buildProgram(), words: string[] = []): [string[], Command][] {
  const subs = command.commands.filter((c) => c.name() !== 'help');
  return [[words, command], ...subs.flatMap((c) => commandTree(c, [...words, c.name()]))];
}

const TREE = commandTree();

describe('mcpgov help', { timeout: 120_000 }, () => {
  it('covers the whole tree, nested subcommands included', () => {
    const paths = TREE.map(([words]) => words.join(' '));
    for (const p of [
      'gateway',
      'sidecar',
      'validate',
      'policy sign',
      'policy build',
      'evidence verify',
      'keys generate',
      'approvals list',
      'waivers add',
      'evals run',
      'db migrate',
      'registry pin',
      'completion',
    ])
      expect(paths).toContain(p);
  });

  it('prints each command its own help: its usage line, its options, and only its own subcommands', async () => {
    const runs = await inBatches(TREE, 4, ([words]) => mcpgov([...words, '--help']));
    TREE.forEach(([words, command], i) => {
      const { code, stdout, stderr } = runs[i]!;
      const name = ['mcpgov', ...words].join(' ');
      expect(code, `${name} --help: ${stderr}`).toBe(0);
      expect(stdout.split('\n')[0], name).toMatch(new RegExp(`^Usage: ${name} `));
      // Help is generated from the definitions the parser uses: every option is in it.
      for (const option of command.options)
        expect(stdout, `${name}: ${option.flags}`).toContain(option.flags);
      const subs = command.commands.filter((c) => c.name() !== 'help');
      if (subs.length === 0) expect(stdout, name).not.toMatch(/^Commands:/m);
      for (const sub of subs) expect(stdout, name).toMatch(new RegExp(`^  ${sub.name()} `, 'm'));
    });
  });

  it('answers "mcpgov help <command...>" with the same help as --help', async () => {
    const nested = TREE.filter(([words]) => words.length > 0);
    const runs = await inBatches(nested, 4, async ([words]) => ({
      help: await mcpgov(['help', ...words]),
      option: await mcpgov([...words, '--help']),
    }));
    nested.forEach(([words], i) => {
      const { help, option } = runs[i]!;
      expect(help.code, `help ${words.join(' ')}`).toBe(0);
      expect(help.stdout).toBe(option.stdout);
    });
  });

  it('prints sign\'s own help for "policy sign --help", not the whole policy help', async () => {
    const { code, stdout } = await mcpgov(['policy', 'sign', '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: mcpgov policy sign \[options\] <bundle>/);
    // The options the code reads, which the old help left out.
    expect(stdout).toContain('--scope <scope>');
    expect(stdout).not.toContain('rollback');
    expect((await mcpgov(['policy', 'build', '--help'])).stdout).toContain('--revision <rev>');
  });

  it('prints the overview on stderr and exits 2 when no command is given', async () => {
    const { code, stdout, stderr } = await mcpgov([]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^Usage: mcpgov <command> \[options\]/);
    expect(stderr).toMatch(/^ {2}policy /m);
  });

  it('prints the version for --version, -V and "version"', async () => {
    for (const args of [['--version'], ['-V'], ['version']]) {
      const { code, stdout } = await mcpgov(args);
      expect(code, args[0]).toBe(0);
      expect(stdout).toBe(`${VERSION}\n`);
    }
  });
});

describe('mcpgov start-up', { timeout: 120_000 }, () => {
  /** The modules `mcpgov ARGS` loads, as file paths relative to the repository. */
  async function modulesLoaded(args: string[]): Promise<string[]> {
    const log = path.join(await mkdtemp(path.join(tmpdir(), 'mcpgov-imports-')), 'imports.log');
    await new Promise<void>((resolve, reject) =>
      execFile(
        process.execPath,
        ['--import', path.join(REPO, 'test/helpers/record-imports.mjs'), CLI, ...args],
        { cwd: REPO, env: { ...process.env, MCPGOV_IMPORT_LOG: log } },
        (error) => (error && error.code !== 0 ? reject(error) : resolve()),
      ),
    );
    const urls = (await readFile(log, 'utf8')).split('\n').filter((u) => u.startsWith('file:'));
    return urls.map((u) => path.relative(REPO, fileURLToPath(u)));
  }

  it("loads no command implementation for --help, --version or a subcommand's help", async () => {
    for (const args of [['--help'], ['--version'], ['policy', 'sign', '--help'], ['gateway', '--help']]) {
      const loaded = await modulesLoaded(args);
      expect(loaded, args.join(' ')).toContain('dist/src/cli/program.js');
      const heavy = loaded.filter(
        (f) =>
          /^dist\/(mcp-gateway|mcp-sidecar)\//.test(f) ||
          /^dist\/src\/(pipeline|evidence|policy|semantic|approvals)\//.test(f) ||
          /^dist\/src\/cli\/(gateway|sidecar|validate|policy-release|evidence|report|evals)\.js$/.test(f) ||
          /node_modules\/(@modelcontextprotocol|pg|ioredis|openai|@nats-io)\//.test(f),
      );
      expect(heavy, args.join(' ')).toEqual([]);
    }
  });

  it("loads a command's implementation when it runs", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-keys-'));
    expect(await modulesLoaded(['keys', 'generate', '--out', dir])).toContain('dist/src/cli/keys.js');
  });
});
