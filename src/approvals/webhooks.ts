import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { WebhookConfig } from '../config/approvals-schema.js';
import type { Logger } from '../util/log.js';
import { VERSION } from '../util/version.js';
import { genericPayload, requestLinks, slackPayload, withoutTrailingSlashes } from './webhook-payloads.js';
import type { ApprovalRequest } from './types.js';

/**
 * Webhooks: each new approval request is POSTed to every configured receiver (a Slack incoming
 * webhook, or a generic JSON endpoint such as a Jira or ServiceNow integration), signed, and retried
 * with backoff. Delivery never holds up the call or the request: a receiver that is down costs an
 * error log, and the request stays decidable through every other channel.
 *
 * ## For receivers: checking a delivery
 * Each delivery carries
 * - `X-Mcpgov-Delivery`: a UUID, the same on every retry of one delivery (deduplicate on it);
 * - `X-Mcpgov-Timestamp`: Unix seconds when this attempt was sent;
 * - `X-Mcpgov-Signature`: `sha256=` and the hex HMAC-SHA256, keyed with the shared secret (the value
 *   of the environment variable the webhook's `secret_env` names), over `<timestamp>.<raw body>`.
 * Recompute the HMAC over the raw body bytes as received (before any JSON parsing), compare in
 * constant time, and refuse a timestamp more than five minutes from your clock (a replay).
 * `verifyWebhookSignature` does all three.
 */

/** Header names of a delivery. */
export const WEBHOOK_HEADERS = {
  delivery: 'x-mcpgov-delivery',
  timestamp: 'x-mcpgov-timestamp',
  signature: 'x-mcpgov-signature',
} as const;

/** How far a delivery's timestamp may be from the receiver's clock, by default (a replay window). */
export const SIGNATURE_TOLERANCE_SECONDS = 300;
/** The first retry's delay; each next one doubles. */
const BASE_DELAY_MS = 500;
/** Longest wait between attempts, whatever a receiver's `Retry-After` asks. */
const MAX_DELAY_MS = 60_000;
/** Deliveries in progress (including waits between attempts) past which new ones are dropped, logged. */
const MAX_IN_FLIGHT = 1000;

/** The signature header's value for `body` sent at `timestamp` (Unix seconds). */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * Whether a delivery is authentic: `header` (the `X-Mcpgov-Signature` value) is the HMAC-SHA256 of
 * `<timestamp>.<body>` under `secret`, compared in constant time, and `timestamp` (the
 * `X-Mcpgov-Timestamp` value) is within `toleranceSeconds` of `now` (milliseconds since the epoch).
 * Pass the raw body as received.
 */
export function verifyWebhookSignature(
  secret: string,
  timestamp: string,
  body: string | Buffer,
  header: string | undefined,
  opts: { toleranceSeconds?: number; now?: number } = {},
): boolean {
  if (header === undefined || !/^\d{1,15}$/.test(timestamp)) return false;
  const age = Math.abs((opts.now ?? Date.now()) / 1000 - Number(timestamp));
  if (age > (opts.toleranceSeconds ?? SIGNATURE_TOLERANCE_SECONDS)) return false;
  const expected = Buffer.from(
    signWebhook(secret, timestamp, typeof body === 'string' ? body : body.toString('utf8')),
  );
  const given = Buffer.from(header.trim());
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export interface WebhookNotifierOptions {
  webhooks: readonly WebhookConfig[];
  /** The admin listener's base URL (`admin.public_url`, else `http://<admin.http>`); no links without it. */
  consoleBase?: string;
  env: NodeJS.ProcessEnv;
  log: Logger;
  /** The first retry's delay in milliseconds (each next doubles); default 500. */
  baseDelayMs?: number;
}

/** A running notifier: `stop` abandons pending retries and aborts deliveries in progress. */
export interface WebhookNotifier {
  /** Delivers (in the background) one request to every receiver. */
  notify(request: ApprovalRequest): void;
  /** Resolves when every delivery now in progress has ended (delivered, given up or abandoned). */
  idle(): Promise<void>;
  stop(): void;
}

/** One receiver, ready to send to. */
interface Receiver {
  config: WebhookConfig;
  /** What logs name it by: its position and origin (a Slack webhook URL's path is its secret). */
  label: string;
  secret?: string;
}

/** Starts a notifier for `webhooks`; a receiver whose secret variable is unset is skipped, logged. */
export function createWebhookNotifier(opts: WebhookNotifierOptions): WebhookNotifier {
  const { log } = opts;
  const baseDelay = opts.baseDelayMs ?? BASE_DELAY_MS;
  const stopping = new AbortController();
  const inFlight = new Set<Promise<void>>();
  const receivers: Receiver[] = [];
  opts.webhooks.forEach((config, i) => {
    const label = `approvals.webhooks[${i}] (${new URL(config.url).origin})`;
    if (config.secret_env === undefined) {
      receivers.push({ config, label });
      return;
    }
    const secret = opts.env[config.secret_env];
    // An unsigned delivery to a receiver that expects a signature would be refused there anyway, and
    // one that does not check would trust it: neither is sent.
    if (secret === undefined || secret === '') {
      log('error', 'webhook secret not set; deliveries to this webhook are skipped', {
        webhook: label,
        secret_env: config.secret_env,
      });
      return;
    }
    receivers.push({ config, label, secret });
  });

  const deliver = async (receiver: Receiver, request: ApprovalRequest): Promise<void> => {
    const links = opts.consoleBase === undefined ? undefined : requestLinks(opts.consoleBase, request.id);
    const payload =
      receiver.config.format === 'slack' ? slackPayload(request, links) : genericPayload(request, links);
    const body = JSON.stringify(payload);
    const delivery = randomUUID();
    const attempts = receiver.config.retries + 1;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (stopping.signal.aborted) return;
      const outcome = await post(receiver, body, delivery, stopping.signal);
      if (outcome.kind === 'delivered') {
        log('debug', 'webhook delivered', {
          webhook: receiver.label,
          request: request.id,
          delivery,
          attempt,
        });
        return;
      }
      if (stopping.signal.aborted) return;
      const last = attempt === attempts || outcome.kind === 'refused';
      if (last) {
        log('error', 'webhook not delivered; the request stays decidable through the other channels', {
          webhook: receiver.label,
          request: request.id,
          delivery,
          attempts: attempt,
          problem: outcome.problem,
        });
        return;
      }
      const backoff = baseDelay * 2 ** (attempt - 1);
      const delay = Math.min(MAX_DELAY_MS, Math.max(backoff, outcome.retryAfterMs ?? 0));
      log('warn', 'webhook delivery failed; retrying', {
        webhook: receiver.label,
        request: request.id,
        delivery,
        attempt,
        problem: outcome.problem,
        retry_in_ms: delay,
      });
      await wait(delay, stopping.signal);
    }
  };

  return {
    notify(request) {
      for (const receiver of receivers) {
        if (stopping.signal.aborted) return;
        if (inFlight.size >= MAX_IN_FLIGHT) {
          log('error', 'too many webhook deliveries in progress; this one is dropped', {
            webhook: receiver.label,
            request: request.id,
          });
          continue;
        }
        const running: Promise<void> = deliver(receiver, request)
          .catch((err: Error) =>
            log('error', 'webhook delivery failed', { webhook: receiver.label, error: err.message }),
          )
          .finally(() => inFlight.delete(running));
        inFlight.add(running);
      }
    },
    async idle() {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
    stop() {
      stopping.abort();
    },
  };
}

/** How one attempt ended: delivered, worth retrying, or refused for good (a 4xx other than 429). */
type Attempt =
  | { kind: 'delivered' }
  | { kind: 'retry'; problem: string; retryAfterMs?: number }
  | { kind: 'refused'; problem: string };

/** One POST of a delivery, signed at the moment it is sent. */
async function post(receiver: Receiver, body: string, delivery: string, stop: AbortSignal): Promise<Attempt> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': `mcpgov/${VERSION}`,
    [WEBHOOK_HEADERS.delivery]: delivery,
    [WEBHOOK_HEADERS.timestamp]: timestamp,
  };
  if (receiver.secret !== undefined)
    headers[WEBHOOK_HEADERS.signature] = signWebhook(receiver.secret, timestamp, body);
  let response: Response;
  try {
    response = await fetch(receiver.config.url, {
      method: 'POST',
      headers,
      body,
      // A redirect would send the signed body somewhere the config does not name.
      redirect: 'manual',
      signal: AbortSignal.any([stop, AbortSignal.timeout(receiver.config.timeout_ms)]),
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const problem =
      e.name === 'TimeoutError'
        ? `no answer within ${receiver.config.timeout_ms} ms`
        : (e.cause?.code ?? e.message);
    return { kind: 'retry', problem };
  }
  // The answer's body is not needed; reading it frees the connection.
  await response.arrayBuffer().catch(() => undefined);
  const status = response.status;
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  // RFC 9110 15.5.20 and 15.6: a 429 or a 5xx is the receiver's trouble, maybe for a while only.
  if (status === 429 || status >= 500)
    return {
      kind: 'retry',
      problem: `HTTP ${status}`,
      retryAfterMs: retryAfterMs(response.headers.get('retry-after')),
    };
  return { kind: 'refused', problem: `HTTP ${status}` };
}

/** A `Retry-After` value (RFC 9110 10.2.3: delay seconds or an HTTP date) in milliseconds from now. */
export function retryAfterMs(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    // A pending retry does not keep a process alive that has nothing else to do.
    timer.unref();
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** The admin listener's base URL as webhooks link to it: `public_url`, else `http://<admin.http>`. */
export function consoleBaseUrl(admin: { http: string; public_url?: string } | undefined): string | undefined {
  if (admin === undefined) return undefined;
  return withoutTrailingSlashes(admin.public_url ?? `http://${admin.http}`);
}
