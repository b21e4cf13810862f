import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';

/** The NATS (with JetStream) the project's machines start; `MCPGOV_TEST_NATS` names another. */
export const NATS_SERVER = process.env['MCPGOV_TEST_NATS'] ?? '127.0.0.1:4222';

/**
 * Whether NATS with JetStream answers. When it does not, the tests that need it are skipped with a
 * message naming the service; with `MCPGOV_REQUIRE_SERVICES=1` (CI on a machine that runs it) that
 * is an error.
 */
export async function natsReachable(what: string): Promise<boolean> {
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({ servers: NATS_SERVER, timeout: 3000 });
    await (await jetstreamManager(nc)).getAccountInfo();
    return true;
  } catch (err) {
    const message = `NATS JetStream at ${NATS_SERVER} is unreachable (${(err as Error).message}): not running ${what}`;
    if (process.env['MCPGOV_REQUIRE_SERVICES'] === '1') throw new Error(message, { cause: err });
    console.warn(`SKIPPED: ${message}`);
    return false;
  } finally {
    await nc?.close().catch(() => {});
  }
}

/** A stream name of its own for one test (its subjects are `<name>.>`, so tests never overlap). */
export function freshStreamName(): string {
  return `MCPGOV_TEST_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
}

/** A JetStream manager on `server`, for a test to inspect (and finally delete) its streams. */
export async function streamAdmin(server = NATS_SERVER): Promise<{
  jsm: JetStreamManager;
  nc: NatsConnection;
  close(): Promise<void>;
}> {
  const nc = await connect({ servers: server, timeout: 3000 });
  const jsm = await jetstreamManager(nc);
  return { nc, jsm, close: () => nc.close() };
}

/** Message counts per subject of a stream. */
export async function subjectCounts(jsm: JetStreamManager, stream: string): Promise<Record<string, number>> {
  const info = await jsm.streams.info(stream, { subjects_filter: `${stream}.>` });
  return info.state.subjects ?? {};
}

/** The `nats-server` binary the outage tests start privately, if there is one. */
export function natsServerBinary(): string | undefined {
  for (const candidate of ['nats-server', '/usr/sbin/nats-server', '/usr/local/bin/nats-server']) {
    if (spawnSync(candidate, ['--version']).status === 0) return candidate;
  }
  return undefined;
}

/** A private nats-server with JetStream (never the machine's service), stopped with SIGKILL. */
export interface PrivateNats {
  port: number;
  url: string;
  stop(): Promise<void>;
}

/** Starts a private nats-server on `port` keeping its JetStream data in `storeDir`; ready when this resolves. */
export async function startPrivateNats(binary: string, port: number, storeDir: string): Promise<PrivateNats> {
  const child: ChildProcess = spawn(binary, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = once(child, 'exit');
  // Ready once it accepts connections (and JetStream has loaded what it stored).
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`nats-server exited (${child.exitCode}): ${log}`);
    if (await accepts(port)) break;
    if (i > 100) throw new Error(`nats-server did not listen on ${port}: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const url = `nats://127.0.0.1:${port}`;
  const admin = await streamAdmin(`127.0.0.1:${port}`);
  try {
    await admin.jsm.getAccountInfo();
  } finally {
    await admin.close();
  }
  return {
    port,
    url,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}
