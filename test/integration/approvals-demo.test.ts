import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INSPECTOR, startDemoCopy, type DemoCopy } from '../helpers/demo-copy.js';
import { CLI } from '../helpers/fixture.js';

/**
 * The README's walk-through on the shipped demo, as a user runs it: `mcpgov gateway` on a copy of
 * mcpgov.yaml (registries, policies, demo folder), the MCP Inspector's CLI calling `fs__move_file`,
 * `mcpgov approvals approve ID --reason ok` with no other setup, the same call again, and
 * `mcpgov evidence verify`.
 */
const exec = promisify(execFile);

async function run(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, args, { cwd, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('the approvals walk-through on the shipped demo', () => {
  let demo: DemoCopy;
  let dir: string;
  let mcpUrl: string;

  beforeAll(async () => {
    demo = await startDemoCopy('mcpgov-demo-');
    ({ dir, mcpUrl } = demo);
    await writeFile(path.join(dir, 'demo/notes/welcome.txt'), 'hello from the demo\n');
    // Serving once the admin listener answers (it starts after the MCP listener).
    for (;;) {
      if (demo.gateway.exitCode !== null) throw new Error(`gateway exited: ${demo.stderr()}`);
      const up = await fetch(`${demo.adminUrl}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (up) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  afterAll(async () => {
    await demo?.remove();
  });

  it('holds the move for approval, moves the file once after `approvals approve`, and the evidence verifies', async () => {
    const move = [
      INSPECTOR,
      '--cli',
      mcpUrl,
      '--method',
      'tools/call',
      '--tool-name',
      'fs__move_file',
      '--tool-arg',
      'source=notes/welcome.txt',
      '--tool-arg',
      'destination=notes/moved.txt',
    ];
    const first = await run(move, dir);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('approval_pending');
    const id = /approve request ([0-9a-f-]{36})/.exec(first.stdout)?.[1];
    expect(id, first.stdout).toBeDefined();
    expect(existsSync(path.join(dir, 'demo/notes/welcome.txt'))).toBe(true);

    const approve = await run([CLI, 'approvals', 'approve', id!, '--reason', 'ok'], dir);
    expect(approve.code, approve.stderr + approve.stdout).toBe(0);

    const second = await run(move, dir);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).not.toContain('isError": true');
    expect(existsSync(path.join(dir, 'demo/notes/moved.txt'))).toBe(true);
    expect(existsSync(path.join(dir, 'demo/notes/welcome.txt'))).toBe(false);

    // The grant was single-use: the same call a third time is a new request.
    const third = await run(move, dir);
    expect(third.stdout).toContain('approval_pending');
    expect(third.stdout).not.toContain(id!);

    // Stop the gateway (its log is sealed with a signed checkpoint), then verify it offline.
    await demo.stop();
    const evidenceDir = path.join(dir, '.mcpgov/evidence');
    const verify = await run(
      [
        CLI,
        'evidence',
        'verify',
        evidenceDir,
        '--jwks',
        path.join(evidenceDir, 'keys/signing-key.jwks.json'),
      ],
      dir,
    );
    expect(verify.code, verify.stderr).toBe(0);
    const trail = verify.stdout.split('\n').find((line) => line.includes(`approval ${id!}`));
    expect(trail, verify.stdout).toBeDefined();
    expect(trail).toContain('created');
    expect(trail).toContain('decided approve by local-dev-approver');
    expect(trail).toMatch(/grant used by decision [0-9a-f-]{36}/);
  });
});
