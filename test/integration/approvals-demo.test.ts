import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, REPO } from '../helpers/fixture.js';

/**
 * The README's walk-through on the shipped demo, as a user runs it: `mcpgov gateway` on a copy of
 * mcpgov.yaml (registries, policies, demo folder), the MCP Inspector's CLI calling `fs__move_file`,
 * `mcpgov approvals approve ID --reason ok` with no other setup, the same call again, and
 * `mcpgov evidence verify`.
 */
const INSPECTOR = path.join(REPO, 'node_modules/@modelcontextprotocol/inspector/cli/build/cli.js');
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

/** A port nothing listens on now (the demo config names fixed ports; the copy gets free ones). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('the approvals walk-through on the shipped demo', () => {
  let dir: string;
  let gateway: ChildProcess;
  let mcpUrl: string;
  let stderr = '';

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-demo-'));
    for (const item of ['registries', 'policies', 'demo']) {
      await cp(path.join(REPO, item), path.join(dir, item), { recursive: true });
    }
    await symlink(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
    const [mcpPort, adminPort] = [await freePort(), await freePort()];
    const config = (await readFile(path.join(REPO, 'mcpgov.yaml'), 'utf8'))
      .replace("'127.0.0.1:8787'", `'127.0.0.1:${mcpPort}'`)
      .replace("'127.0.0.1:8788'", `'127.0.0.1:${adminPort}'`);
    expect(config).toContain(`127.0.0.1:${adminPort}`);
    await writeFile(path.join(dir, 'mcpgov.yaml'), config);
    await writeFile(path.join(dir, 'demo/notes/welcome.txt'), 'hello from the demo\n');
    mcpUrl = `http://127.0.0.1:${mcpPort}/mcp`;

    gateway = spawn(process.execPath, [CLI, 'gateway', '--config', 'mcpgov.yaml'], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    gateway.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // Serving once the admin listener answers (it starts after the MCP listener).
    for (;;) {
      if (gateway.exitCode !== null) throw new Error(`gateway exited: ${stderr}`);
      const up = await fetch(`http://127.0.0.1:${adminPort}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (up) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  afterAll(async () => {
    if (gateway && gateway.exitCode === null) {
      const exited = new Promise((resolve) => gateway.once('exit', resolve));
      gateway.kill('SIGTERM');
      await exited;
    }
    if (dir) await rm(dir, { recursive: true, force: true });
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
    const exited = new Promise((resolve) => gateway.once('exit', resolve));
    gateway.kill('SIGTERM');
    await exited;
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
