/**
 * Memory of the gateway process under a long run and under many idle sessions: whether it holds
 * steady, and whether idle sessions are given back (README: Limits, `session_idle_seconds`).
 */
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI } from '../helpers/fixture.js';
import { startGatewayProcess } from '../helpers/gateway-process.js';
import { openRawSession, rawRequest, sessionHeaders } from '../helpers/raw-http.js';
import { benchFixture } from './bench-fixture.js';
import { concurrentCalls, connect, round, rssMb } from './measure.js';

/** Calls before the first reading: past start-up, JIT and the first segment's growth. */
const WARM_CALLS = 5_000;
/** Idle sessions opened against the HTTP gateway, and how many open at once. */
const SESSIONS = 1_000;
const OPENING_CONCURRENCY = 8;
/** The idle timeout of the sessions run: long enough to open them all, short enough to wait for. */
const IDLE_SECONDS = 20;

/** What the memory part reports. */
export interface MemoryNumbers {
  /** Gateway over stdio, 16 concurrent callers: RSS after the warm-up and after `calls` more calls. */
  calls: number;
  rss_warm_mb: number;
  rss_end_mb: number;
  rss_growth_mb: number;
  /** Gateway over HTTP: RSS growth for `sessions` idle sessions, and whether the idle timeout closed them. */
  sessions: number;
  session_idle_seconds: number;
  sessions_open_s: number;
  sessions_rss_mb: number;
  sessions_rss_after_reap_mb: number;
  sessions_reaped: boolean;
  /** Of `sessions`, how many answered 404 (session not found) after the idle timeout and a sweep. */
  sessions_reaped_count: number;
}

/** Runs both memory measurements, each on a gateway process and fixture of its own. */
export async function measureMemory(fsync: string, calls: number): Promise<MemoryNumbers> {
  return { calls, ...(await longRun(fsync, calls)), ...(await idleSessions(fsync)) };
}

async function longRun(fsync: string, calls: number) {
  const fixture = await benchFixture({ fsync });
  const gateway = await connect(process.execPath, [
    CLI,
    'gateway',
    '--stdio',
    '--config',
    fixture.configFile,
  ]);
  try {
    await concurrentCalls(gateway.client, 'everything__echo', WARM_CALLS);
    const warm = reading(gateway.pid);
    await concurrentCalls(gateway.client, 'everything__echo', calls);
    const end = reading(gateway.pid);
    return { rss_warm_mb: warm, rss_end_mb: end, rss_growth_mb: round(end - warm, 1) };
  } finally {
    await gateway.client.close();
    await rm(fixture.dir, { recursive: true, force: true });
  }
}

async function idleSessions(fsync: string) {
  const fixture = await benchFixture({
    fsync,
    limits: {
      max_sessions: 2 * SESSIONS,
      max_sessions_per_caller: 2 * SESSIONS,
      session_idle_seconds: IDLE_SECONDS,
    },
  });
  const gateway = await startGatewayProcess(fixture.configFile);
  const pid = gateway.child.pid;
  try {
    // One session through first, so that the reading before counts sessions and not start-up.
    await openRawSession(gateway.url);
    const before = reading(pid);
    const ids: string[] = [];
    let opening = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: OPENING_CONCURRENCY }, async () => {
        while (opening++ < SESSIONS) ids.push(await openRawSession(gateway.url));
      }),
    );
    const openSeconds = (performance.now() - started) / 1000;
    const open = reading(pid);
    // Closed after IDLE_SECONDS without a request, by a sweep that runs every IDLE_SECONDS; any
    // request on a session before then would keep it open, so none is sent until after both.
    await sleep((2 * IDLE_SECONDS + 3) * 1000);
    let gone = 0;
    for (const id of ids) {
      const res = await rawRequest(gateway.url, {
        headers: sessionHeaders(id),
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
      });
      await res.text();
      if (res.status === 404) gone++;
    }
    return {
      sessions: SESSIONS,
      session_idle_seconds: IDLE_SECONDS,
      sessions_open_s: round(openSeconds, 1),
      sessions_rss_mb: round(open - before, 1),
      sessions_rss_after_reap_mb: round(reading(pid) - before, 1),
      sessions_reaped: gone === SESSIONS,
      sessions_reaped_count: gone,
    };
  } finally {
    gateway.child.kill('SIGTERM');
    await gateway.exited;
    await rm(fixture.dir, { recursive: true, force: true });
  }
}

/** The gateway's RSS now; a gateway gone mid-run fails the part. */
function reading(pid: number | undefined): number {
  const mb = rssMb(pid);
  if (mb === undefined) throw new Error(`no RSS for the gateway process ${pid}: has it exited?`);
  return mb;
}
