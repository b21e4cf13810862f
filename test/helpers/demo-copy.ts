import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CLI, REPO } from './fixture.js';

/** The MCP Inspector's CLI, pinned at 0.15.0 (a devDependency). */
export const INSPECTOR = path.join(REPO, 'node_modules/@modelcontextprotocol/inspector/cli/build/cli.js');

/** A loopback port nothing listens on now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `mcpgov gateway` running on a copy of the shipped demo, as a user runs it. */
export interface DemoCopy {
  dir: string;
  mcpUrl: string;
  adminUrl: string;
  gateway: ChildProcess;
  /** Everything the gateway has written to stderr so far. */
  stderr(): string;
  /** SIGTERM, and waits for the exit (the evidence log sealed); a second call does nothing more. */
  stop(): Promise<void>;
  /** Stops the gateway and removes the copy. */
  remove(): Promise<void>;
}

/**
 * Copies mcpgov.yaml, the registries, the policies and the demo folder into a temp folder (the demo
 * config's fixed ports replaced by free ones) and starts the built gateway on it.
 */
export async function startDemoCopy(prefix: string): Promise<DemoCopy> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  for (const item of ['registries', 'policies', 'demo']) {
    await cp(path.join(REPO, item), path.join(dir, item), { recursive: true });
  }
  await symlink(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
  const [mcpPort, adminPort] = [await freePort(), await freePort()];
  const config = (await readFile(path.join(REPO, 'mcpgov.yaml'), 'utf8'))
    .replace("'127.0.0.1:8787'", `'127.0.0.1:${mcpPort}'`)
    .replace("'127.0.0.1:8788'", `'127.0.0.1:${adminPort}'`);
  if (!config.includes(`127.0.0.1:${adminPort}`))
    throw new Error('mcpgov.yaml no longer names 127.0.0.1:8788');
  await writeFile(path.join(dir, 'mcpgov.yaml'), config);

  const gateway = spawn(process.execPath, [CLI, 'gateway', '--config', 'mcpgov.yaml'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  gateway.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => gateway.once('exit', () => resolve()));
  const stop = async () => {
    if (gateway.exitCode === null && gateway.signalCode === null) gateway.kill('SIGTERM');
    await exited;
  };
  return {
    dir,
    mcpUrl: `http://127.0.0.1:${mcpPort}/mcp`,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    gateway,
    stderr: () => stderr,
    stop,
    async remove() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
