import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Reservation } from '../core/decision.js';
import type { Logger } from '../util/log.js';
import { CounterUnavailableError, type CounterStore } from './counters.js';

/**
 * Sliding-window check-and-reserve in one round trip. A sorted set per key: score = call time,
 * member = a unique id, so a release removes exactly that call's slot. The key lives one window past
 * its last call. KEYS[1] window; ARGV now, window ms, limit, member.
 */
const RATE_LUA = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
return 1
`;

/**
 * Daily spend check-and-charge: adds the amount unless the total would pass the limit. One key per
 * agent (and tool) and day, kept two days so it outlives the day in every time zone's clock skew.
 * KEYS[1] total; ARGV amount, limit, ttl seconds.
 */
const SPEND_LUA = `
local total = tonumber(redis.call('GET', KEYS[1]) or '0')
if total + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return 0 end
redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
`;

/** Gives a charge back, but never recreates a total that has already expired (it would never expire). */
const REFUND_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('INCRBYFLOAT', KEYS[1], ARGV[1]) end
return 1
`;

/** How long a spend total is kept: the day itself and a day's margin. */
const SPEND_TTL_SECONDS = 2 * 86_400;
/** A check slower than this fails (closed): a cap check must not hold a call for long. */
const DEFAULT_COMMAND_TIMEOUT_MS = 300;
/** How long opening waits for a first connection before the gateway starts anyway. */
const CONNECT_WAIT_MS = 2000;

/** Options of the Redis store. */
export interface RedisCounterOptions {
  log?: Logger;
  /** Prefix of every key; default `mcpgov:`. */
  prefix?: string;
  /** Milliseconds a command may take before the check fails; default 300. */
  commandTimeoutMs?: number;
}

/**
 * Splits our own query parameters (`prefix`, `timeout_ms`) off a Redis URL; the rest goes to the
 * client as it is. Throws on a bad value, so a typo in the config stops the start.
 */
export function parseRedisUrl(url: string): { url: string; options: RedisCounterOptions } {
  const parsed = new URL(url);
  const options: RedisCounterOptions = {};
  const prefix = parsed.searchParams.get('prefix');
  if (prefix !== null) {
    if (prefix === '') throw new Error(`${url}: prefix= must not be empty`);
    options.prefix = prefix;
  }
  const timeout = parsed.searchParams.get('timeout_ms');
  if (timeout !== null) {
    const ms = Number(timeout);
    if (!Number.isInteger(ms) || ms <= 0 || ms > 60_000) {
      throw new Error(`${url}: timeout_ms= must be a whole number of milliseconds from 1 to 60000`);
    }
    options.commandTimeoutMs = ms;
  }
  parsed.searchParams.delete('prefix');
  parsed.searchParams.delete('timeout_ms');
  return { url: parsed.toString(), options };
}

interface CounterCommands {
  mcpgovRate(key: string, now: number, windowMs: number, limit: number, member: string): Promise<number>;
  mcpgovSpend(key: string, amount: number, limit: number, ttl: number): Promise<number>;
  mcpgovRefund(key: string, amount: number): Promise<number>;
}

/**
 * Rate and spend counters shared by gateway replicas through Redis (client: ioredis). Each check is
 * one server-side script, so concurrent calls on any replica cannot overshoot a cap. While Redis is
 * unreachable nothing is queued: a check rejects at once with `CounterUnavailableError`, and the client
 * reconnects in the background, so caps work again without a restart.
 */
export class RedisCounterStore implements CounterStore {
  private readonly redis: Redis & CounterCommands;
  private readonly prefix: string;
  private reachable = true;

  private constructor(
    url: string,
    private readonly opts: RedisCounterOptions,
  ) {
    this.prefix = opts.prefix ?? 'mcpgov:';
    this.redis = new Redis(url, {
      commandTimeout: opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
      // Fail a check now rather than hold it until Redis returns.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // Keep trying, at most once a second, for as long as the process runs.
      retryStrategy: (times) => Math.min(times * 100, 1000),
    }) as Redis & CounterCommands;
    this.redis.defineCommand('mcpgovRate', { numberOfKeys: 1, lua: RATE_LUA });
    this.redis.defineCommand('mcpgovSpend', { numberOfKeys: 1, lua: SPEND_LUA });
    this.redis.defineCommand('mcpgovRefund', { numberOfKeys: 1, lua: REFUND_LUA });
    // Said once per outage, not once per reconnect attempt.
    this.redis.on('error', (err: Error) => {
      if (!this.reachable) return;
      this.reachable = false;
      opts.log?.('error', 'counters: Redis unreachable; capped tools fail closed', { error: err.message });
    });
    this.redis.on('ready', () => {
      if (this.reachable) return;
      this.reachable = true;
      opts.log?.('info', 'counters: Redis reachable again');
    });
  }

  /**
   * Connects to `url` (`redis://host:port/db`), waiting briefly for a first connection; never fails.
   * The URL may carry `?prefix=` (key prefix) and `?timeout_ms=` (command timeout), which `opts` override.
   */
  static async open(url: string, opts: RedisCounterOptions = {}): Promise<RedisCounterStore> {
    const parsed = parseRedisUrl(url);
    const store = new RedisCounterStore(parsed.url, { ...parsed.options, ...opts });
    await store.ready(CONNECT_WAIT_MS);
    return store;
  }

  /** Whether a connection is up, waiting at most `ms` for one. */
  async ready(ms: number): Promise<boolean> {
    if (this.redis.status === 'ready') return true;
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        this.redis.off('ready', onReady);
        resolve(ok);
      };
      const onReady = (): void => done(true);
      const timer = setTimeout(() => done(false), ms);
      this.redis.on('ready', onReady);
    });
  }

  async acquireRate(
    key: string,
    now: number,
    limit: number,
    windowMs: number,
  ): Promise<Reservation | undefined> {
    const k = `${this.prefix}rate:${key}`;
    const member = randomUUID();
    const taken = await this.run(() => this.redis.mcpgovRate(k, now, windowMs, limit, member));
    if (taken !== 1) return undefined;
    return { release: () => this.background(this.redis.zrem(k, member)) };
  }

  async chargeSpend(
    key: string,
    day: string,
    amount: number,
    limit: number,
  ): Promise<Reservation | undefined> {
    const k = `${this.prefix}spend:${day}:${key}`;
    const charged = await this.run(() => this.redis.mcpgovSpend(k, amount, limit, SPEND_TTL_SECONDS));
    if (charged !== 1) return undefined;
    return { release: () => this.background(this.redis.mcpgovRefund(k, -amount)) };
  }

  /** Closes the connection; checks after this fail as unavailable. */
  async close(): Promise<void> {
    this.reachable = true; // a deliberate close is no outage
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private async run(command: () => Promise<number>): Promise<number> {
    try {
      return await command();
    } catch (err) {
      throw new CounterUnavailableError((err as Error).message);
    }
  }

  /** A release is fire-and-forget: a lost one only holds a slot until its key expires. */
  private background(pending: Promise<unknown>): void {
    pending.catch((err: Error) =>
      this.opts.log?.('warn', 'counters: a reservation was not given back', { error: err.message }),
    );
  }
}
