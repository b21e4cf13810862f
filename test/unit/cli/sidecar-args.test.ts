import { describe, expect, it } from 'vitest';
import { parseSidecarArgs, sidecarOwnArgs } from '../../../src/cli/sidecar.js';

describe('mcpgov sidecar arguments', () => {
  it('takes options up to "--" and passes the rest to the server untouched', () => {
    expect(
      parseSidecarArgs(['--config', 'c.yaml', '--name', 'fs', '--', 'node', 'srv.js', '--config', 'x'], {}),
    ).toEqual({
      config: 'c.yaml',
      name: 'fs',
      prefix: false,
      command: 'node',
      args: ['srv.js', '--config', 'x'],
    });
  });

  it('also starts the command at the first non-option, for launchers that drop "--"', () => {
    expect(
      parseSidecarArgs(
        ['-c', 'c.yaml', '--prefix', '--gateway=ws://h:1/control', 'node', 'srv.js', '--help'],
        {},
      ),
    ).toEqual({
      config: 'c.yaml',
      name: 'local',
      prefix: true,
      gateway: 'ws://h:1/control',
      command: 'node',
      args: ['srv.js', '--help'],
    });
  });

  it('defaults the config to MCPGOV_CONFIG, then ./mcpgov.yaml', () => {
    expect(parseSidecarArgs(['node'], { MCPGOV_CONFIG: '/etc/mcpgov.yaml' }).config).toBe('/etc/mcpgov.yaml');
    expect(parseSidecarArgs(['node'], {}).config).toBe('mcpgov.yaml');
  });

  it('refuses an unknown option, a missing value and a missing command', () => {
    expect(() => parseSidecarArgs(['--verbose', 'node'], {})).toThrow(/unknown option "--verbose"/);
    expect(() => parseSidecarArgs(['--config'], {})).toThrow(/--config needs a value/);
    expect(() => parseSidecarArgs(['--prefix', '--'], {})).toThrow(/server command/);
  });

  it('reads --help as its own only before the command', () => {
    expect(sidecarOwnArgs(['-c', 'x', '--help'])).toContain('--help');
    expect(sidecarOwnArgs(['-c', 'x', 'node', 'srv.js', '--help'])).not.toContain('--help');
  });
});
