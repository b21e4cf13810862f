import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { VERSION } from '../../src/util/version.js';
import { inBatches, mcpgov } from '../helpers/cli.js';

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
