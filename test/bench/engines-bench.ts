import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { migrate } from '../../src/approvals/postgres-migrations.js';
import { RedisCounterStore } from '../../src/pipeline/redis-counters.js';

/** Where the engines are: the services the project's machines start, unless overridden. */
export interface EngineUrls {
  redis: string;
  postgres: string;
  nats: string;
}

/** A `state:` block on all three engines for one bench run, and how to remove what it made. */
export interface EngineState {
  state: { counters: string; approvals: string; evidence_stream: string };
  cleanup(): Promise<void>;
}

/**
 * Prepares shared state on Redis (a fresh key prefix), PostgreSQL (a fresh migrated schema) and NATS
 * JetStream (a fresh stream name), or says which engine is unreachable.
 */
export async function engineState(urls: EngineUrls): Promise<EngineState | { skipped: string }> {
  const prefix = `mcpgov-bench:${randomUUID()}:`;
  const redis = await RedisCounterStore.open(urls.redis, { prefix });
  const redisUp = await redis.ready(0);
  await redis.close();
  if (!redisUp) return { skipped: `Redis not reachable at ${urls.redis}` };

  const schema = `mcpgov_bench_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const pool = new pg.Pool({ connectionString: urls.postgres, max: 1, connectionTimeoutMillis: 3000 });
  pool.on('error', () => {});
  try {
    await migrate(pool, schema);
  } catch (err) {
    await pool.end();
    return { skipped: `PostgreSQL not usable at ${urls.postgres}: ${(err as Error).message}` };
  }

  const stream = `MCPGOV_BENCH_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const natsServer = new URL(urls.nats).host;
  const nc = await connect({ servers: natsServer, timeout: 3000 }).catch(() => undefined);
  if (!nc) {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
    return { skipped: `NATS not reachable at ${urls.nats}` };
  }
  return {
    state: {
      counters: `${urls.redis}?prefix=${encodeURIComponent(prefix)}`,
      approvals: `${urls.postgres}?schema=${schema}`,
      evidence_stream: `nats://${natsServer}?stream=${stream}`,
    },
    async cleanup() {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete(stream).catch(() => {});
      await nc.close();
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    },
  };
}
