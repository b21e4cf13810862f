import { describe, expect, it } from 'vitest';
import type { McpgovCommand } from '../../../src/cli/command.js';
import { buildProgram } from '../../../src/cli/program.js';

/** Parses `mcpgov sidecar ARGV` with the real command tree, capturing what the action would get. */
async function parseSidecar(argv: string[], env: Record<string, string> = {}) {
  const saved = process.env['MCPGOV_CONFIG'];
  if (env['MCPGOV_CONFIG'] === undefined) delete process.env['MCPGOV_CONFIG'];
  else process.env['MCPGOV_CONFIG'] = env['MCPGOV_CONFIG'];
  try {
    const program = buildProgram();
    const sidecar = program.commands.find((c) => c.name() === 'sidecar') as McpgovCommand;
    let seen: { opts: Record<string, unknown>; args: string[] } | undefined;
    sidecar.run(async (opts: Record<string, unknown>, args) => {
      seen = { opts, args };
      return 0;
    });
    program.exitOverride();
    sidecar.exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    await program.parseAsync(['sidecar', ...argv], { from: 'user' });
    return seen!;
  } finally {
    if (saved === undefined) delete process.env['MCPGOV_CONFIG'];
    else process.env['MCPGOV_CONFIG'] = saved;
  }
}

describe('mcpgov sidecar arguments', () => {
  it('takes options up to "--" and passes the rest to the server untouched', async () => {
    const { opts, args } = await parseSidecar([
      '--config',
      'c.yaml',
      '--name',
      'fs',
      '--',
      'node',
      'srv.js',
      '--config',
      'x',
    ]);
    expect(opts).toEqual({ config: 'c.yaml', name: 'fs' });
    expect(args).toEqual(['node', 'srv.js', '--config', 'x']);
  });

  it('also starts the command at the first non-option, for launchers that drop "--"', async () => {
    const { opts, args } = await parseSidecar([
      '-c',
      'c.yaml',
      '--prefix',
      '--gateway=ws://h:1/control',
      'node',
      'srv.js',
      '--help',
    ]);
    expect(opts).toEqual({ config: 'c.yaml', name: 'local', prefix: true, gateway: 'ws://h:1/control' });
    expect(args).toEqual(['node', 'srv.js', '--help']);
  });

  it('defaults the config to MCPGOV_CONFIG, then ./mcpgov.yaml', async () => {
    expect((await parseSidecar(['node'], { MCPGOV_CONFIG: '/etc/mcpgov.yaml' })).opts['config']).toBe(
      '/etc/mcpgov.yaml',
    );
    expect((await parseSidecar(['node'])).opts['config']).toBe('mcpgov.yaml');
  });

  it('refuses an unknown option, a missing value and a missing command', async () => {
    await expect(parseSidecar(['--verbose', 'node'])).rejects.toThrow(/unknown option '--verbose'/);
    await expect(parseSidecar(['--config'])).rejects.toThrow(/option '-c, --config <file>' argument missing/);
    await expect(parseSidecar(['--prefix', '--'])).rejects.toThrow(/missing required argument 'command'/);
  });
});
