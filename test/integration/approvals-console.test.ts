import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApprovalRequest } from '../../src/approvals/types.js';
import { REFERENCE_SERVERS, REPO } from '../helpers/fixture.js';
import { callTool, runGateway, textOf, type RunningGateway } from '../helpers/gateway-harness.js';
import { startIdentityProvider, type IdentityProvider } from '../helpers/identity-provider.js';

/** Debian's chromium package (the issue names it); the test installs nothing itself. */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
];
const SCREENSHOT = path.join(REPO, 'test-output/approvals-console-inbox.png');
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/** Markup an agent might put in arguments, hoping the console renders it. */
const INJECTED = '<img src=x onerror=document.body.dataset.pwned=1>';

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

describe('approver console in headless Chromium', () => {
  let idp: IdentityProvider;
  let gw: RunningGateway;
  let browser: Browser;
  let page: Page;
  let admin: string;
  let demo: string;
  /** Alice's token: a recent sign-in, but no step-up (no mfa). */
  let token: string;
  const pageErrors: string[] = [];
  const cspViolations: string[] = [];

  beforeAll(async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`).toBe(true);
    idp = await startIdentityProvider('mcpgov-approvals');
    demo = await mkdtemp(path.join(tmpdir(), 'mcpgov-demo-'));
    await mkdir(path.join(demo, 'reports'));
    await writeFile(path.join(demo, 'reports/q3.txt'), 'quarterly report');
    gw = await runGateway({
      config: {
        mode: 'enforce',
        identity: { default_agent: 'dev' },
        paths: { demo },
        servers: { fs: { command: 'node', args: [REFERENCE_SERVERS.filesystem, demo] } },
        admin: { http: '127.0.0.1:0' },
        approvals: {
          jwks_uri: idp.jwksUri,
          issuer: idp.issuer,
          approvers: [{ sub: 'alice', name: 'Alice Approver', teams: ['security'] }],
        },
      },
      tools: {
        tools: [
          { name: 'fs__write_file', owner: 'platform', risk_tier: 'high', scopes: ['fs'] },
          { name: 'fs__*', owner: 'platform', risk_tier: 'medium', scopes: ['fs'] },
        ],
        groups: { fs: ['fs__*'] },
      },
      agents: { agents: [{ id: 'dev', owner: 'platform', tool_groups: ['fs'], scopes: ['fs'] }] },
      rules: [
        {
          id: 'moves-need-approval',
          description: 'a person approves each move while the call waits',
          when: { '===': [{ var: 'call.name' }, 'fs__move_file'] },
          effect: 'escalate',
          reason: 'move_needs_approval',
          approval: { mode: 'hold' },
        },
        {
          id: 'writes-need-approval',
          description: 'a person approves each write',
          when: { '===': [{ var: 'call.name' }, 'fs__write_file'] },
          effect: 'escalate',
          reason: 'write_needs_approval',
          approval: { mode: 'return' },
        },
      ],
    });
    admin = gw.gateway.adminUrl ?? '';
    token = await idp.sign({
      sub: 'alice',
      expiresIn: 3600,
      claims: { auth_time: Math.floor(Date.now() / 1000) },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (msg) => {
      if (/content security policy/i.test(msg.text())) cspViolations.push(msg.text());
    });
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.close();
    await idp?.close();
  });

  it('serves the page, its script and its style with a strict Content-Security-Policy', async () => {
    expect(admin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    for (const asset of ['/', '/console.js', '/console.css']) {
      const res = await fetch(`${admin}${asset}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-security-policy')).toBe(CSP);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      await res.arrayBuffer();
    }
    const html = await (await fetch(`${admin}/`)).text();
    // Only external script and style: the CSP would refuse anything inline.
    expect(html).toMatch(/<script src="\/console.js" defer><\/script>/);
    expect(html).not.toMatch(/<script>|<style|style=|onclick=/i);
    const js = await (await fetch(`${admin}/console.js`)).text();
    expect(js).not.toContain('innerHTML');
  });

  it('signs in with a pasted approver token and says who is signed in', async () => {
    await page.goto(`${admin}/`);
    await page.locator('#signin').waitFor();
    await page.fill('#token-input', 'not-a-token');
    await page.click('#signin-button');
    await page.locator('#signin-error', { hasText: 'not a JWT' }).waitFor();
    await page.fill('#token-input', token);
    await page.click('#signin-button');
    await page.locator('#whoami-name', { hasText: 'Alice Approver (alice)' }).waitFor();
    expect(await page.locator('#whoami-detail').textContent()).toContain(
      'tiers: low, medium, high, critical',
    );
  });

  it('releases a held call with a click, shows refusals, and renders injected markup as text', async () => {
    const client = await gw.client();
    await callTool(client, 'mcpgov__declare_intent', { intent: 'archive the quarterly report' });
    const written = await callTool(client, 'fs__write_file', {
      path: path.join(demo, 'reports/notes.txt'),
      content: INJECTED,
    });
    expect(textOf(written)).toContain('approval_pending');
    const source = path.join(demo, 'reports/q3.txt');
    const destination = path.join(demo, 'reports/q3-archived.txt');
    const held = callTool(client, 'fs__move_file', { source, destination });
    // Awaited below; a failure before that must not surface as an unhandled rejection.
    held.catch(() => {});
    const move = await pendingFor(gw, 'fs__move_file');
    const write = await pendingFor(gw, 'fs__write_file');

    const moveCard = page.locator(`#inbox [data-request-id="${move.id}"]`);
    const writeCard = page.locator(`#inbox [data-request-id="${write.id}"]`);
    await moveCard.waitFor();
    await writeCard.waitFor();
    expect(await page.locator('#pending-count').textContent()).toBe('2');
    const moveText = (await moveCard.textContent()) ?? '';
    for (const expected of [
      'fs__move_file',
      'medium risk',
      'call waiting',
      'dev',
      'unverified (default agent)',
      'move_needs_approval',
      'archive the quarterly report',
      'fs__write_file',
      move.binding.args_digest,
      'q3-archived.txt',
    ])
      expect(moveText).toContain(expected);
    await moveCard.locator('.waited', { hasText: /^waiting \d/ }).waitFor();

    // The injected markup is shown as text: no element was made of it, and nothing ran.
    expect(await writeCard.locator('pre.args').textContent()).toContain(INJECTED);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.evaluate('document.body.dataset.pwned')).toBeUndefined();

    await mkdir(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    console.log(`approver console inbox screenshot: ${SCREENSHOT}`);

    // A high-tier approval without step-up is refused, said clearly, and changes nothing.
    await writeCard.locator('textarea.reason').fill('notes are fine');
    await writeCard.locator('button[data-action="approve"]').click();
    const refusal = writeCard.locator('.card-error[data-code="step_up_required"]');
    await refusal.waitFor();
    expect(await refusal.textContent()).toMatch(/^Step-up required: high-tier approvals need a step-up/);
    expect((await gw.gateway.approvals.get(write.id))?.state).toBe('pending');

    // No reason, no decision.
    await moveCard.locator('button[data-action="approve"]').click();
    await moveCard.locator('.card-error[data-code="reason_missing"]').waitFor();
    expect(existsSync(source)).toBe(true);

    await moveCard.locator('textarea.reason').fill('archiving the report was asked for');
    await moveCard.locator('button[data-action="approve"]').click();
    const result = await held;
    expect(result.isError).toBeFalsy();
    expect(await readFile(destination, 'utf8')).toBe('quarterly report');
    expect(existsSync(source)).toBe(false);
    const approved = await gw.gateway.approvals.get(move.id);
    expect(approved?.state).toBe('approved');
    expect(approved?.verdict).toMatchObject({
      verdict: 'approve',
      reason: 'archiving the report was asked for',
      approver: { sub: 'alice', via: 'console' },
    });
    await page.locator('#notice', { hasText: `Approved request ${move.id}` }).waitFor();
    await moveCard.waitFor({ state: 'detached' });

    await writeCard.locator('button[data-action="deny"]').click();
    await writeCard.waitFor({ state: 'detached' });
    expect((await gw.gateway.approvals.get(write.id))?.verdict).toMatchObject({
      verdict: 'deny',
      reason: 'notes are fine',
      approver: { via: 'console' },
    });
    expect(existsSync(path.join(demo, 'reports/notes.txt'))).toBe(false);

    const decided = page.locator('#decided-rows');
    await decided.locator(`tr[data-request-id="${move.id}"] td.outcome`, { hasText: 'approved' }).waitFor();
    await decided.locator(`tr[data-request-id="${write.id}"] td.outcome`, { hasText: 'denied' }).waitFor();
    const row = (await decided.locator(`tr[data-request-id="${move.id}"]`).textContent()) ?? '';
    expect(row).toContain('Alice Approver (alice) via console');
    expect(await decided.locator(`tr[data-request-id="${move.id}"] td.grant`).textContent()).toMatch(
      /^used /,
    );
    expect(await page.locator('#inbox-empty').isVisible()).toBe(true);
  });

  it('lists active waivers and revokes one with a reason', async () => {
    // Creating a waiver needs step-up: a fresh multi-factor sign-in.
    const stepped = await idp.sign({
      sub: 'alice',
      expiresIn: 600,
      claims: { auth_time: Math.floor(Date.now() / 1000), amr: ['pwd', 'mfa'] },
    });
    const created = await fetch(`${admin}/api/waivers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stepped}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        agent: 'dev',
        tool: 'fs__move_file',
        until: '2h',
        reason: 'report migration this afternoon',
        compensating: 'moves reviewed in the evidence pack tomorrow',
      }),
    });
    expect(created.status).toBe(201);
    const { waiver } = (await created.json()) as { waiver: { id: string } };

    const card = page.locator(`#waivers [data-waiver-id="${waiver.id}"]`);
    await card.waitFor();
    const text = (await card.textContent()) ?? '';
    expect(text).toContain('report migration this afternoon');
    expect(text).toContain('moves reviewed in the evidence pack tomorrow');
    await card.locator('input.reason').fill('migration finished early');
    await card.locator('button[data-action="revoke"]').click();
    await card.waitFor({ state: 'detached' });
    const active = await fetch(`${admin}/api/waivers?active=true`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(((await active.json()) as { waivers: unknown[] }).waivers).toEqual([]);
  });

  it('ran no script error and broke no CSP rule', () => {
    expect(pageErrors).toEqual([]);
    expect(cspViolations).toEqual([]);
  });
});
