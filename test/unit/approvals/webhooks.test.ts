import { afterEach, describe, expect, it } from 'vitest';
import { WebhookSchema } from '../../../src/config/approvals-schema.js';
import type { ApprovalRequest } from '../../../src/approvals/types.js';
import { escapeMrkdwn, requestLinks } from '../../../src/approvals/webhook-payloads.js';
import {
  consoleBaseUrl,
  createWebhookNotifier,
  retryAfterMs,
  signWebhook,
  verifyWebhookSignature,
  type WebhookNotifier,
} from '../../../src/approvals/webhooks.js';
import type { Logger } from '../../../src/util/log.js';
import { downUrl, startReceiver, type WebhookReceiver } from '../../helpers/webhook-receiver.js';

const SECRET = 'receiver-shared-secret';

/** A stored request, as the approval service hands it to listeners (arguments already masked). */
function request(overrides: Partial<ApprovalRequest> = {}): ApprovalRequest {
  return {
    id: '0192f0c1-1111-7000-8000-000000000001',
    state: 'pending',
    binding: {
      agent: 'dev',
      tool: 'fs__move_file',
      args_digest: `sha256:${'a'.repeat(64)}`,
      bundle_digest: `sha256:${'b'.repeat(64)}`,
    },
    verified: true,
    pep: 'gateway@test',
    session: 's1',
    decision_id: 'd1',
    reasons: ['move_needs_approval'],
    signals: ['exfiltration'],
    args: { source: '/demo/a.txt', url: 'postgres://u:[masked]@h/db' },
    tier: 'high',
    owner: 'platform',
    approvers: [],
    mode: 'return',
    recent_calls: ['fs__read_text_file'],
    created_at: '2026-11-24T12:00:00.000Z',
    expires_at: '2026-11-24T12:05:00.000Z',
    ...overrides,
  };
}

function logs(): { log: Logger; lines: { level: string; msg: string; fields?: Record<string, unknown> }[] } {
  const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  return { lines, log: (level, msg, fields) => lines.push({ level, msg, fields }) };
}

const hook = (url: string, extra: Record<string, unknown> = {}) =>
  WebhookSchema.parse({ url, secret_env: 'HOOK_SECRET', ...extra });

describe('webhook signatures', () => {
  const body = '{"event":"approval.requested"}';
  const now = Date.UTC(2026, 10, 24, 12, 0, 0);
  const ts = String(now / 1000);

  it('accepts the signature of the body at its timestamp', () => {
    const header = signWebhook(SECRET, ts, body);
    expect(header).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature(SECRET, ts, body, header, { now })).toBe(true);
    expect(verifyWebhookSignature(SECRET, ts, Buffer.from(body), header, { now })).toBe(true);
  });

  it('refuses another body, another secret, another timestamp, and no header', () => {
    const header = signWebhook(SECRET, ts, body);
    expect(verifyWebhookSignature(SECRET, ts, `${body} `, header, { now })).toBe(false);
    expect(verifyWebhookSignature('other', ts, body, header, { now })).toBe(false);
    expect(verifyWebhookSignature(SECRET, String(now / 1000 + 1), body, header, { now })).toBe(false);
    expect(verifyWebhookSignature(SECRET, ts, body, undefined, { now })).toBe(false);
    expect(verifyWebhookSignature(SECRET, ts, body, 'sha256=00', { now })).toBe(false);
  });

  it('refuses a replay older than the tolerance, and a malformed timestamp', () => {
    const old = String(now / 1000 - 301);
    expect(verifyWebhookSignature(SECRET, old, body, signWebhook(SECRET, old, body), { now })).toBe(false);
    const recent = String(now / 1000 - 299);
    expect(verifyWebhookSignature(SECRET, recent, body, signWebhook(SECRET, recent, body), { now })).toBe(
      true,
    );
    expect(verifyWebhookSignature(SECRET, '1e9', body, signWebhook(SECRET, '1e9', body), { now })).toBe(
      false,
    );
  });
});

describe('webhook payloads', () => {
  it('links to the request in the console and in the admin API', () => {
    expect(consoleBaseUrl({ http: '127.0.0.1:8788' })).toBe('http://127.0.0.1:8788');
    expect(consoleBaseUrl({ http: '0.0.0.0:8788', public_url: 'https://gov.example.com/approvals/' })).toBe(
      'https://gov.example.com/approvals',
    );
    expect(consoleBaseUrl(undefined)).toBeUndefined();
    expect(requestLinks('http://127.0.0.1:8788/', 'r1')).toEqual({
      console: 'http://127.0.0.1:8788/#/requests/r1',
      api: 'http://127.0.0.1:8788/api/approvals/r1',
    });
  });

  it('escapes Slack mrkdwn so that names stay text, never mentions or links', () => {
    expect(escapeMrkdwn('<!channel> & <https://evil|click>')).toBe(
      '&lt;!channel&gt; &amp; &lt;https://evil|click&gt;',
    );
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.UTC(2026, 10, 24, 12, 0, 0);
    expect(retryAfterMs('3', now)).toBe(3000);
    expect(retryAfterMs(new Date(now + 2000).toUTCString(), now)).toBe(2000);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(null, now)).toBeUndefined();
  });
});

describe('webhook delivery', () => {
  const receivers: WebhookReceiver[] = [];
  const notifiers: WebhookNotifier[] = [];
  const env = { HOOK_SECRET: SECRET };
  afterEach(async () => {
    for (const n of notifiers.splice(0)) n.stop();
    await Promise.all(receivers.splice(0).map((r) => r.close()));
  });
  async function receiver(...args: Parameters<typeof startReceiver>): Promise<WebhookReceiver> {
    const r = await startReceiver(...args);
    receivers.push(r);
    return r;
  }
  function notifier(opts: Parameters<typeof createWebhookNotifier>[0]): WebhookNotifier {
    const n = createWebhookNotifier(opts);
    notifiers.push(n);
    return n;
  }

  it('posts the generic event, signed, with a delivery id and links', async () => {
    const r = await receiver();
    const n = notifier({
      webhooks: [hook(r.url)],
      consoleBase: 'http://127.0.0.1:8788',
      env,
      log: logs().log,
    });
    n.notify(request());
    const [d] = await r.received(1);
    const ts = d!.headers['x-mcpgov-timestamp'] as string;
    expect(verifyWebhookSignature(SECRET, ts, d!.body, d!.headers['x-mcpgov-signature'] as string)).toBe(
      true,
    );
    expect(d!.headers['x-mcpgov-delivery']).toMatch(/^[0-9a-f-]{36}$/);
    expect(d!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(d!.body)).toEqual({
      event: 'approval.requested',
      request: {
        id: request().id,
        agent: 'dev',
        verified: true,
        tool: 'fs__move_file',
        tier: 'high',
        owner: 'platform',
        reasons: ['move_needs_approval'],
        signals: ['exfiltration'],
        args: { source: '/demo/a.txt', url: 'postgres://u:[masked]@h/db' },
        created_at: '2026-11-24T12:00:00.000Z',
        expires_at: '2026-11-24T12:05:00.000Z',
        mode: 'return',
      },
      links: {
        console: `http://127.0.0.1:8788/#/requests/${request().id}`,
        api: `http://127.0.0.1:8788/api/approvals/${request().id}`,
      },
    });
  });

  it('posts Slack incoming-webhook JSON: text and blocks, without the arguments', async () => {
    const r = await receiver();
    const n = notifier({
      webhooks: [hook(r.url, { format: 'slack' })],
      consoleBase: 'https://gov.example.com',
      env,
      log: logs().log,
    });
    n.notify(request({ binding: { ...request().binding, agent: '<!channel>' }, verified: false }));
    const [d] = await r.received(1);
    const ts = d!.headers['x-mcpgov-timestamp'] as string;
    expect(verifyWebhookSignature(SECRET, ts, d!.body, d!.headers['x-mcpgov-signature'] as string)).toBe(
      true,
    );
    const slack = JSON.parse(d!.body) as { text: string; blocks: Record<string, unknown>[] };
    expect(slack.text).toContain('&lt;!channel&gt; (unverified)');
    expect(slack.text).toContain(
      `<https://gov.example.com/#/requests/${request().id}|request ${request().id}>`,
    );
    expect(slack.text).not.toContain('<!channel>');
    expect(slack.blocks.map((b) => b['type'])).toEqual([
      'header',
      'section',
      'section',
      'context',
      'actions',
    ]);
    const fields = (slack.blocks[1] as { fields: { text: string }[] }).fields.map((f) => f.text);
    expect(fields).toEqual([
      '*Agent*\n&lt;!channel&gt; (unverified)',
      '*Tool*\nfs__move_file',
      '*Risk tier*\nhigh',
      '*Mode*\nreturn',
      '*Requested*\n2026-11-24T12:00:00.000Z',
      '*Expires*\n2026-11-24T12:05:00.000Z',
    ]);
    expect(JSON.stringify(slack.blocks[2])).toContain('move_needs_approval');
    expect(JSON.stringify(slack.blocks[2])).toContain('exfiltration');
    expect(JSON.stringify(slack.blocks[4])).toContain(`https://gov.example.com/#/requests/${request().id}`);
    expect(d!.body).not.toContain('postgres');
  });

  it('retries a 5xx with the same delivery id until the receiver takes it', async () => {
    const r = await receiver((n) => ({ status: n <= 2 ? 503 : 200 }));
    const { log, lines } = logs();
    const n = notifier({ webhooks: [hook(r.url)], env, log, baseDelayMs: 10 });
    n.notify(request());
    await n.idle();
    expect(r.deliveries).toHaveLength(3);
    expect(new Set(r.deliveries.map((d) => d.headers['x-mcpgov-delivery'])).size).toBe(1);
    expect(new Set(r.deliveries.map((d) => d.body)).size).toBe(1);
    for (const d of r.deliveries) {
      const ts = d.headers['x-mcpgov-timestamp'] as string;
      expect(verifyWebhookSignature(SECRET, ts, d.body, d.headers['x-mcpgov-signature'] as string)).toBe(
        true,
      );
    }
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(2);
    expect(lines.filter((l) => l.level === 'error')).toHaveLength(0);
  });

  it("waits at least a 429's Retry-After before the next attempt", async () => {
    const r = await receiver((n) =>
      n === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 },
    );
    const n = notifier({ webhooks: [hook(r.url)], env, log: logs().log, baseDelayMs: 10 });
    n.notify(request());
    const [first, second] = await r.received(2);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
  });

  it('gives up on a receiver that is down after its retries, with an error log naming only its origin', async () => {
    const url = `${await downUrl()}/T000/B000/slack-path-secret`;
    const { log, lines } = logs();
    const n = notifier({ webhooks: [hook(url, { retries: 2 })], env, log, baseDelayMs: 10 });
    n.notify(request());
    await n.idle();
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.fields).toMatchObject({ attempts: 3, problem: 'ECONNREFUSED', request: request().id });
    expect(JSON.stringify(lines)).not.toContain('slack-path-secret');
  });

  it('does not retry a receiver that refuses the delivery (4xx)', async () => {
    const r = await receiver(() => ({ status: 400 }));
    const { log, lines } = logs();
    const n = notifier({ webhooks: [hook(r.url)], env, log, baseDelayMs: 10 });
    n.notify(request());
    await n.idle();
    expect(r.deliveries).toHaveLength(1);
    expect(lines.find((l) => l.level === 'error')?.fields).toMatchObject({ problem: 'HTTP 400' });
  });

  it('abandons pending retries when stopped', async () => {
    const r = await receiver(() => ({ status: 500 }));
    const n = notifier({
      webhooks: [hook(r.url, { retries: 5 })],
      env,
      log: logs().log,
      baseDelayMs: 600_000,
    });
    n.notify(request());
    await r.received(1);
    n.stop();
    await n.idle();
    n.notify(request());
    await n.idle();
    expect(r.deliveries).toHaveLength(1);
  });

  it('skips, with an error log, a webhook whose secret variable is unset; sends unsigned when none is named', async () => {
    const signed = await receiver();
    const unsigned = await receiver();
    const { log, lines } = logs();
    const n = notifier({
      webhooks: [hook(signed.url), WebhookSchema.parse({ url: unsigned.url })],
      env: {},
      log,
    });
    expect(lines.find((l) => l.level === 'error')?.fields).toMatchObject({ secret_env: 'HOOK_SECRET' });
    n.notify(request());
    await n.idle();
    expect(signed.deliveries).toHaveLength(0);
    expect(unsigned.deliveries).toHaveLength(1);
    expect(unsigned.deliveries[0]!.headers['x-mcpgov-signature']).toBeUndefined();
  });
});
