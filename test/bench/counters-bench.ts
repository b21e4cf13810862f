import { randomUUID } from 'node:crypto';
import { RedisCounterStore } from '../../src/pipeline/redis-counters.js';

/** Round trips of a Redis-backed rate-cap check (the Lua check-and-reserve), or why none were taken. */
export type RedisCapNumbers =
  { url: string; samples: number; p50_ms: number; p99_ms: number } | { url: string; skipped: string };

/**
 * Times `acquireRate` against Redis at `url`, one check at a time, each under a cap it never reaches,
 * with each slot given back; keys go under a fresh prefix and expire on their own within a minute.
 */
export async function measureRedisCapCheck(url: string, samples: number): Promise<RedisCapNumbers> {
  const store = await RedisCounterStore.open(url, { prefix: `mcpgov-bench:${randomUUID()}:` });
  try {
    if (!(await store.ready(0))) return { url, skipped: `Redis not reachable at ${url}` };
    const latencies: number[] = [];
    for (let i = 0; i < samples + 100; i++) {
      const started = performance.now();
      const reservation = await store.acquireRate(
        'bench\u0000everything__echo',
        Date.now(),
        1_000_000,
        60_000,
      );
      const elapsed = performance.now() - started;
      reservation?.release();
      if (i >= 100) latencies.push(elapsed); // the first 100 warm the connection and the script cache
    }
    latencies.sort((a, b) => a - b);
    const pct = (p: number): number =>
      latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
    return { url, samples, p50_ms: round(pct(0.5)), p99_ms: round(pct(0.99)) };
  } finally {
    await store.close();
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
