import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Redis } from 'ioredis';
import { CounterUnavailableError } from '../../src/pipeline/counters.js';
import { RedisCounterStore } from '../../src/pipeline/redis-counters.js';
import { freePort } from '../helpers/demo-copy.js';
import { REFERENCE_SERVERS } from '../helpers/fixture.js';
import { REDIS as SERVICE, redisReachable } from '../helpers/redis.js';
import { callTool, runGateway, textOf, type RunningGateway } from '../helpers/gateway-harness.js';

const available = await redisReachable('the Redis counter tests');
/** The outage tests stop and start a private redis-server, never the machine's service. */
const serverBinary = available && spawnSync('redis-server', ['--version']).status === 0;
if (available && !serverBinary) {
  console.warn('counters-redis: no redis-server binary on PATH; the Redis outage tests did not run');
}

/** A private redis-server (no persistence) on `port`, ready when this resolves. */
async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
  });
  return child;
}

async function stopRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

describe.skipIf(!available)('Redis counters', () => {
  const url = `redis://${SERVICE.host}:${SERVICE.port}`;
  /** Every key of this run sits under this prefix, removed afterwards (it would expire anyway). */
  const run = `mcpgov-test:${randomUUID()}:`;
  let inspect: Redis;
  const stores: RedisCounterStore[] = [];

  async function store(prefix: string): Promise<RedisCounterStore> {
    const s = await RedisCounterStore.open(url, { prefix: run + prefix });
    stores.push(s);
    return s;
  }

  beforeAll(() => {
    inspect = new Redis(url);
  });

  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    const keys = await inspect.keys(`${run}*`);
    if (keys.length > 0) await inspect.del(...keys);
    inspect.disconnect();
  });

  it('allows exactly the cap across two stores sharing Redis, under many concurrent checks', async () => {
    const prefix = `t:${randomUUID()}:`;
    const [a, b] = [await store(prefix), await store(prefix)];
    const now = Date.now();
    const checks = Array.from({ length: 60 }, (_, i) =>
      (i % 2 ? a : b).acquireRate('dev\u0000tool', now, 10, 60_000),
    );
    const taken = (await Promise.all(checks)).filter((r) => r !== undefined);
    expect(taken).toHaveLength(10);
  });

  it('gives a released slot back, and only that one', async () => {
    const prefix = `t:${randomUUID()}:`;
    const s = await store(prefix);
    const now = Date.now();
    const first = await s.acquireRate('k', now, 2, 60_000);
    const second = await s.acquireRate('k', now, 2, 60_000);
    expect(first && second).toBeDefined();
    expect(await s.acquireRate('k', now, 2, 60_000)).toBeUndefined();
    first?.release();
    await vi.waitFor(async () => expect(await inspect.zcard(`${run}${prefix}rate:k`)).toBe(1));
    expect(await s.acquireRate('k', now, 2, 60_000)).toBeDefined();
    expect(await s.acquireRate('k', now, 2, 60_000)).toBeUndefined();
  });

  it('caps spend per day, gives a refused call its charge back, and every key expires on its own', async () => {
    const prefix = `t:${randomUUID()}:`;
    const s = await store(prefix);
    for (let i = 0; i < 3; i++) expect(await s.chargeSpend('dev', '2026-03-10', 1, 3)).toBeDefined();
    expect(await s.chargeSpend('dev', '2026-03-10', 1, 3)).toBeUndefined();
    // Another day is another total.
    expect(await s.chargeSpend('dev', '2026-03-11', 1, 3)).toBeDefined();
    const spendKey = `${run}${prefix}spend:2026-03-10:dev`;
    expect(Number(await inspect.get(spendKey))).toBe(3);
    const ttl = await inspect.ttl(spendKey);
    expect(ttl).toBeGreaterThan(86_400);
    expect(ttl).toBeLessThanOrEqual(2 * 86_400);

    const extra = await s.chargeSpend('dev', '2026-03-12', 2, 3);
    extra?.release();
    await vi.waitFor(async () =>
      expect(Number(await inspect.get(`${run}${prefix}spend:2026-03-12:dev`))).toBe(0),
    );

    await s.acquireRate('r', Date.now(), 5, 60_000);
    const pttl = await inspect.pttl(`${run}${prefix}rate:r`);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(60_000);
  });
});

describe.skipIf(!serverBinary)('Redis counters through an outage', () => {
  let port: number;
  let redis: ChildProcess;
  let url: string;
  const stores: RedisCounterStore[] = [];

  async function store(prefix: string): Promise<RedisCounterStore> {
    const s = await RedisCounterStore.open(url, { prefix });
    stores.push(s);
    return s;
  }

  beforeAll(async () => {
    port = await freePort();
    redis = await startRedis(port);
    url = `redis://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    if (redis) await stopRedis(redis);
  });

  describe('a gateway whose Redis goes away and comes back', () => {
    let gw: RunningGateway;

    beforeAll(async () => {
      gw = await runGateway({
        config: {
          mode: 'enforce',
          identity: { default_agent: 'dev' },
          state: { counters: url },
          servers: { everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] } },
        },
        tools: {
          tools: [
            {
              name: 'everything__get-sum',
              owner: 'platform',
              risk_tier: 'low',
              caps: { rate_per_minute: 100 },
            },
            {
              name: 'everything__get-tiny-image',
              owner: 'platform',
              risk_tier: 'low',
              caps: { cost_per_call: 1, spend_per_day: 100 },
            },
            { name: 'everything__echo', owner: 'platform', risk_tier: 'low' },
          ],
          groups: { demo: ['everything__*'] },
        },
        agents: {
          agents: [{ id: 'dev', owner: 'platform', tool_groups: ['demo'], scopes: [], clearance: [] }],
        },
      });
    });

    afterAll(async () => {
      await gw?.close();
    });

    it('fails capped tools closed with counter_unavailable, keeps uncapped ones working, and recovers', async () => {
      const client = await gw.client();
      expect((await callTool(client, 'everything__get-sum', { a: 1, b: 2 })).isError).toBeFalsy();

      await stopRedis(redis);
      const rate = await callTool(client, 'everything__get-sum', { a: 1, b: 2 });
      expect(rate.isError).toBe(true);
      expect(textOf(rate)).toContain('reason: counter_unavailable');
      const spend = await callTool(client, 'everything__get-tiny-image');
      expect(spend.isError).toBe(true);
      expect(textOf(spend)).toContain('reason: counter_unavailable');
      const echo = await callTool(client, 'everything__echo', { message: 'still here' });
      expect(echo.isError).toBeFalsy();
      expect(textOf(echo)).toContain('still here');

      redis = await startRedis(port);
      // The client reconnects on its own; no restart of the gateway.
      await vi.waitFor(
        async () =>
          expect((await callTool(client, 'everything__get-sum', { a: 1, b: 2 })).isError).toBeFalsy(),
        { timeout: 15_000, interval: 200 },
      );
      expect((await callTool(client, 'everything__get-tiny-image')).isError).toBeFalsy();
      const records = await gw.evidence();
      expect(records.some((r) => JSON.stringify(r).includes('counter_unavailable'))).toBe(true);
    });
  });

  it('rejects a check with CounterUnavailableError while Redis is down, without waiting for it', async () => {
    const s = await store(`t:${randomUUID()}:`);
    await stopRedis(redis);
    await expect(s.acquireRate('k', Date.now(), 1, 60_000)).rejects.toBeInstanceOf(CounterUnavailableError);
    await expect(s.chargeSpend('k', '2026-03-10', 1, 1)).rejects.toBeInstanceOf(CounterUnavailableError);
    redis = await startRedis(port);
    await vi.waitFor(async () => expect(await s.acquireRate('k', Date.now(), 1, 60_000)).toBeDefined(), {
      timeout: 15_000,
      interval: 200,
    });
  });
});
