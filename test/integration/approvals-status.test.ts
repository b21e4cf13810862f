import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REFERENCE_SERVERS } from '../helpers/fixture.js';
import { runGateway, type RunningGateway } from '../helpers/gateway-harness.js';
import { approver, waitFor } from '../helpers/approvals.js';

/** Waivers travel in the policy status a PEP reports, so `mcpgov policy status` shows the exceptions in force. */
describe('waivers in policy status', () => {
  let gw: RunningGateway;

  beforeAll(async () => {
    gw = await runGateway({
      config: {
        mode: 'enforce',
        identity: { default_agent: 'dev' },
        policies: { sources: './policies', poll_seconds: 0.2 },
        servers: { everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] } },
      },
      tools: {
        tools: [{ name: 'everything__*', owner: 'platform', risk_tier: 'low' }],
        groups: { all: ['everything__*'] },
      },
      agents: { agents: [{ id: 'dev', owner: 'dev-team', tool_groups: ['all'] }] },
    });
  });
  afterAll(async () => {
    await gw?.close();
  });

  const statusUrl = () => gw.url.replace(/\/mcp$/, '/policy/status');
  const gatewayWaivers = async () => {
    const res = await fetch(statusUrl());
    const view = (await res.json()) as { peps: { status?: { waivers?: { id: string; tool: string }[] } }[] };
    return view.peps.flatMap((p) => p.status?.waivers ?? []);
  };

  it('lists a waiver while it is in force, and not once it is revoked', async () => {
    const admin = approver('alice', Date.now(), {
      tiers: ['low', 'medium', 'high', 'critical'],
      localDev: true,
    });
    const added = await gw.gateway.approvals.addWaiver(
      {
        agent: 'dev',
        tool: 'everything__echo',
        until: '1h',
        reason: 'incident 42',
        compensating: 'watched live',
      },
      admin,
    );
    expect(added.ok).toBe(true);
    const id = added.ok ? added.waiver.id : '';
    const listed = await waitFor('the waiver in the status report', async () =>
      (await gatewayWaivers()).find((w) => w.id === id),
    );
    expect(listed).toMatchObject({ id, tool: 'everything__echo' });

    const revoked = await gw.gateway.approvals.revokeWaiver(id, 'incident closed', admin);
    expect(revoked.ok).toBe(true);
    await waitFor('the waiver gone from the status report', async () =>
      (await gatewayWaivers()).every((w) => w.id !== id),
    );
  });
});
