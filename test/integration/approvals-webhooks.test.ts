import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApprovalRequest, ApproverPrincipal } from '../../src/approvals/types.js';
import { verifyWebhookSignature } from '../../src/approvals/webhooks.js';
import { REFERENCE_SERVERS } from '../helpers/fixture.js';
import { callTool, runGateway, textOf, type RunningGateway } from '../helpers/gateway-harness.js';
import { downUrl, startReceiver, type Delivery, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const SECRET = 'integration-webhook-secret';
const SECRET_ENV = 'MCPGOV_TEST_WEBHOOK_SECRET';
/** A credential in a call's arguments: masked in the request, so never in any delivery. */
const PASSWORD = 'hunter2';

/** An approver as the admin API would authenticate one, allowed for the medium tier used here. */
const approver: ApproverPrincipal = {
  approver: { sub: 'alice', name: 'Alice', via: 'api' },
  teams: ['security'],
  owners: ['*'],
  tiers: ['low', 'medium'],
};

function signed(d: Delivery): boolean {
  return verifyWebhookSignature(
    SECRET,
    d.headers['x-mcpgov-timestamp'] as string,
    d.body,
    d.headers['x-mcpgov-signature'] as string,
  );
}

/** Resolves once a pending request for `tool` exists (a held call's request is opened before it waits). */
async function pendingFor(gw: RunningGateway, tool: string): Promise<ApprovalRequest> {
  for (;;) {
    const found = (await gw.gateway.approvals.list({ state: 'pending' })).find(
      (r) => r.binding.tool === tool,
    );
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('approval webhooks through the gateway', () => {
  let gw: RunningGateway;
  let demo: string;
  let slack: WebhookReceiver;
  let generic: WebhookReceiver;
  let flaky: WebhookReceiver;

  beforeAll(async () => {
    process.env[SECRET_ENV] = SECRET;
    demo = await mkdtemp(path.join(tmpdir(), 'mcpgov-demo-'));
    await writeFile(path.join(demo, 'a.txt'), 'to be moved');
    slack = await startReceiver();
    generic = await startReceiver();
    // Fails the first two deliveries it gets, then takes every one.
    flaky = await startReceiver((n) => ({ status: n <= 2 ? 502 : 200 }));
    const down = await downUrl();
    gw = await runGateway({
      config: {
        mode: 'enforce',
        identity: { default_agent: 'dev' },
        paths: { demo },
        servers: { fs: { command: 'node', args: [REFERENCE_SERVERS.filesystem, demo] } },
        admin: { http: '127.0.0.1:0', public_url: 'https://approvals.example.com/' },
        approvals: {
          webhooks: [
            { url: slack.url, format: 'slack', secret_env: SECRET_ENV },
            { url: generic.url, format: 'generic', secret_env: SECRET_ENV },
            { url: flaky.url, format: 'generic', secret_env: SECRET_ENV, retries: 3 },
            // Down for the whole test: its retries are still pending when the gateway closes.
            { url: down, format: 'generic', secret_env: SECRET_ENV, retries: 10 },
          ],
        },
      },
      tools: {
        tools: [{ name: 'fs__*', owner: 'platform', risk_tier: 'medium', scopes: ['fs'] }],
        groups: { fs: ['fs__*'] },
      },
      agents: { agents: [{ id: 'dev', owner: 'platform', tool_groups: ['fs'], scopes: ['fs'] }] },
      rules: [
        {
          id: 'writes-need-approval',
          description: 'a person approves each write',
          when: { '===': [{ var: 'call.name' }, 'fs__write_file'] },
          effect: 'escalate',
          reason: 'write_needs_approval',
          approval: { mode: 'return' },
        },
        {
          id: 'moves-need-approval',
          description: 'a person approves each move, while the call waits',
          when: { '===': [{ var: 'call.name' }, 'fs__move_file'] },
          effect: 'escalate',
          reason: 'move_needs_approval',
          approval: { mode: 'hold' },
        },
      ],
    });
  });
  afterAll(async () => {
    await gw?.close();
    await Promise.all([slack, generic, flaky].map((r) => r.close()));
    delete process.env[SECRET_ENV];
  });

  it('posts each new request, signed, in Slack and generic form, without the unmasked arguments', async () => {
    const client = await gw.client();
    const target = path.join(demo, 'config.env');
    const answer = await callTool(client, 'fs__write_file', {
      path: target,
      content: `DATABASE_URL=postgres://u:${PASSWORD}@h/db`,
    });
    expect(textOf(answer)).toContain('approval_pending');
    const id = (answer._meta?.['mcpgov/decision'] as { request: string }).request;
    expect(existsSync(target)).toBe(false);

    const [toSlack] = await slack.received(1);
    const [toGeneric] = await generic.received(1);
    for (const d of [toSlack!, toGeneric!]) {
      expect(signed(d)).toBe(true);
      expect(d.body).not.toContain(PASSWORD);
    }
    const event = JSON.parse(toGeneric!.body) as {
      event: string;
      request: Record<string, unknown>;
      links: { console: string; api: string };
    };
    expect(event.event).toBe('approval.requested');
    expect(event.request).toMatchObject({
      id,
      agent: 'dev',
      verified: false,
      tool: 'fs__write_file',
      tier: 'medium',
      reasons: ['write_needs_approval'],
      mode: 'return',
    });
    expect(event.request['args']).toEqual({
      path: target,
      content: 'DATABASE_URL=postgres://u:[masked]@h/db',
    });
    expect(event.links).toEqual({
      console: `https://approvals.example.com/#/requests/${id}`,
      api: `https://approvals.example.com/api/approvals/${id}`,
    });
    const message = JSON.parse(toSlack!.body) as { text: string; blocks: unknown[] };
    expect(message.text).toContain('dev (unverified) wants to call fs__write_file (medium tier)');
    expect(JSON.stringify(message.blocks)).toContain(`https://approvals.example.com/#/requests/${id}`);
  });

  it('redelivers to a receiver that failed twice, three deliveries under one delivery id', async () => {
    const deliveries = await flaky.received(3);
    expect(new Set(deliveries.map((d) => d.headers['x-mcpgov-delivery'])).size).toBe(1);
    expect(deliveries.every(signed)).toBe(true);
    expect(deliveries.every((d) => !d.body.includes(PASSWORD))).toBe(true);
  });

  it('a held call is decided and goes through while a receiver is down', async () => {
    const client = await gw.client();
    const source = path.join(demo, 'a.txt');
    const destination = path.join(demo, 'b.txt');
    const held = callTool(client, 'fs__move_file', { source, destination });
    const request = await pendingFor(gw, 'fs__move_file');
    // The receivers that are up heard of it; the one that is down is still being retried.
    await generic.received(2);
    const decided = await gw.gateway.approvals.decide(
      request.id,
      { verdict: 'approve', reason: 'expected move', args_digest: request.binding.args_digest },
      approver,
    );
    expect(decided.ok).toBe(true);
    const result = await held;
    expect(result.isError).toBeFalsy();
    expect(await readFile(destination, 'utf8')).toBe('to be moved');
    expect(existsSync(source)).toBe(false);
  });
});
