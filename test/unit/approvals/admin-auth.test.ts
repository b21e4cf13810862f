import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ApproverAuth } from '../../../src/approvals/approver-auth.js';
import {
  ensureLocalDevKey,
  localDevKeyPath,
  LOCAL_DEV_SUB,
  mintLocalDevToken,
  prepareLocalDevApprover,
} from '../../../src/approvals/local-dev.js';
import { ApprovalsConfigSchema } from '../../../src/config/approvals-schema.js';
import type { Logger } from '../../../src/util/log.js';
import { APPROVER_ISSUER, approverKeys, type ApproverKeys } from '../../helpers/approver-tokens.js';

let keys: ApproverKeys;

beforeAll(async () => {
  keys = await approverKeys();
});

function config(overrides: Record<string, unknown> = {}) {
  return ApprovalsConfigSchema.parse({
    jwks: keys.jwks,
    issuer: APPROVER_ISSUER,
    approvers: [
      { sub: 'alice', name: 'Alice Approver', teams: ['security'], owners: ['*'] },
      { sub: 'bob', teams: ['payments'], owners: ['payments'], tiers: ['low', 'medium'] },
    ],
    ...overrides,
  });
}

async function auth(overrides: Record<string, unknown> = {}, stateDir?: string): Promise<ApproverAuth> {
  const dir = stateDir ?? (await mkdtemp(path.join(tmpdir(), 'mcpgov-state-')));
  return ApproverAuth.create({ approvals: config(overrides), stateDir: dir });
}

describe('approver tokens', () => {
  it('maps a valid token to its approver, carrying what step-up is judged on', async () => {
    const authTime = Math.floor(Date.now() / 1000) - 30;
    const token = await keys.sign({ acr: 'phr', amr: ['mfa', 'pwd'], auth_time: authTime });
    const result = await (await auth()).authenticate(token, 'api');
    expect(result).toEqual({
      ok: true,
      principal: {
        approver: {
          sub: 'alice',
          iss: APPROVER_ISSUER,
          name: 'Alice Approver',
          via: 'api',
          acr: 'phr',
          amr: ['mfa', 'pwd'],
          auth_time: authTime,
        },
        teams: ['security'],
        owners: ['*'],
        tiers: ['low', 'medium', 'high', 'critical'],
      },
    });
  });

  it('names the channel the verdict will record', async () => {
    const token = await keys.sign({ sub: 'bob' });
    const result = await (await auth()).authenticate(token, 'console');
    expect(result).toMatchObject({
      ok: true,
      principal: { approver: { sub: 'bob', via: 'console' }, owners: ['payments'], tiers: ['low', 'medium'] },
    });
  });

  it('refuses an expired token, saying when it expired', async () => {
    const token = await keys.sign({ expiresIn: -3600 });
    const result = await (await auth()).authenticate(token, 'api');
    expect(result).toMatchObject({ ok: false, code: 'invalid_token' });
    expect(result.ok || result.message).toMatch(/the approver token expired at \d{4}-.*: get a new one/);
  });

  it('refuses a token signed with a key the approver keys do not hold', async () => {
    const result = await (await auth()).authenticate(await keys.signWithUnknownKey(), 'api');
    expect(result).toMatchObject({
      ok: false,
      code: 'invalid_token',
      message: expect.stringMatching(/unknown key/),
    });
  });

  it('refuses a token for another audience or from another issuer', async () => {
    const a = await auth();
    expect(await a.authenticate(await keys.sign({ aud: 'mcp-gateway' }), 'api')).toMatchObject({
      ok: false,
      code: 'invalid_token',
      message: 'the approver token is for audience "mcp-gateway", not mcpgov-approvals',
    });
    expect(await a.authenticate(await keys.sign({ iss: 'https://evil.test' }), 'api')).toMatchObject({
      ok: false,
      code: 'invalid_token',
      message: `the approver token's issuer is "https://evil.test", not ${APPROVER_ISSUER}`,
    });
  });

  it('refuses a verified subject that is not a configured approver', async () => {
    const result = await (await auth()).authenticate(await keys.sign({ sub: 'mallory' }), 'api');
    expect(result).toEqual({
      ok: false,
      code: 'not_an_approver',
      message: 'mallory is not an approver: approvals.approvers does not name it',
    });
  });

  it('refuses a missing token and a token that is not a JWT', async () => {
    const a = await auth();
    expect(await a.authenticate(undefined, 'api')).toMatchObject({ ok: false, code: 'unauthenticated' });
    expect(await a.authenticate('not-a-jwt', 'api')).toMatchObject({
      ok: false,
      code: 'invalid_token',
      message: 'the approver token is not a JWT',
    });
  });

  it('refuses every configured-approver token when no approver keys are configured', async () => {
    const a = await auth({ jwks: undefined });
    expect(await a.authenticate(await keys.sign(), 'api')).toMatchObject({
      ok: false,
      code: 'invalid_token',
      message: expect.stringMatching(/no approver keys are configured/),
    });
  });
});

describe('the local development approver', () => {
  const localDev = {
    local_dev: { enabled: true, teams: ['demo'], tiers: ['low', 'medium', 'high', 'critical'] },
  };

  it('creates its key once, readable only by its owner', async () => {
    const state = await mkdtemp(path.join(tmpdir(), 'mcpgov-state-'));
    expect(await ensureLocalDevKey(state)).toEqual({ file: localDevKeyPath(state), created: true });
    expect(await ensureLocalDevKey(state)).toEqual({ file: localDevKeyPath(state), created: false });
    expect((await stat(localDevKeyPath(state))).mode & 0o777).toBe(0o600);
  });

  it('is accepted while local_dev is enabled, with the local_dev teams and tiers, as step-up', async () => {
    const state = await mkdtemp(path.join(tmpdir(), 'mcpgov-state-'));
    const token = await mintLocalDevToken(state, 'mcpgov-approvals', 300);
    const result = await (await auth(localDev, state)).authenticate(token, 'cli');
    expect(result).toMatchObject({
      ok: true,
      principal: {
        approver: { sub: LOCAL_DEV_SUB, iss: 'mcpgov-local-dev', via: 'cli', auth_time: expect.any(Number) },
        teams: ['demo'],
        owners: ['*'],
        tiers: ['low', 'medium', 'high', 'critical'],
        localDev: true,
      },
    });
  });

  it('is refused while local_dev is off, saying so', async () => {
    const state = await mkdtemp(path.join(tmpdir(), 'mcpgov-state-'));
    const token = await mintLocalDevToken(state, 'mcpgov-approvals', 300);
    expect(await (await auth({}, state)).authenticate(token, 'cli')).toEqual({
      ok: false,
      code: 'invalid_token',
      message:
        'local development approver tokens are not accepted: approvals.local_dev.enabled is off in this config',
    });
  });

  it('is refused when signed by another state folder’s key, expired, or for another audience', async () => {
    const state = await mkdtemp(path.join(tmpdir(), 'mcpgov-state-'));
    const elsewhere = await mkdtemp(path.join(tmpdir(), 'mcpgov-state-'));
    await ensureLocalDevKey(state);
    const a = await auth(localDev, state);
    const foreign = await mintLocalDevToken(elsewhere, 'mcpgov-approvals', 300);
    expect(await a.authenticate(foreign, 'cli')).toMatchObject({
      ok: false,
      code: 'invalid_token',
      message: expect.stringMatching(/unknown key/),
    });
    const expired = await mintLocalDevToken(state, 'mcpgov-approvals', 60, Date.now() - 3600_000);
    expect(await a.authenticate(expired, 'cli')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/expired/),
    });
    const otherAudience = await mintLocalDevToken(state, 'other-gateway', 300);
    expect(await a.authenticate(otherAudience, 'cli')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/audience "other-gateway"/),
    });
  });

  it('is refused, saying where the key should be, when the state folder has none', async () => {
    const state = await mkdtemp(path.join(tmpdir(), 'mcpgov-state-'));
    const token = await mintLocalDevToken(
      await mkdtemp(path.join(tmpdir(), 'mcpgov-state-')),
      'mcpgov-approvals',
      300,
    );
    expect(await (await auth(localDev, state)).authenticate(token, 'cli')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/no local development approver key in .*start the gateway once/),
    });
  });

  it('announces a token once, when its key is first created, and verifies that token', async () => {
    const state = await mkdtemp(path.join(tmpdir(), 'mcpgov-state-'));
    const lines: { msg: string; fields?: Record<string, unknown> }[] = [];
    const log: Logger = (_level, msg, fields) => lines.push({ msg, fields });
    const approvals = config(localDev);
    await prepareLocalDevApprover(approvals, state, log, 'http://127.0.0.1:8788');
    await prepareLocalDevApprover(approvals, state, log, 'http://127.0.0.1:8788');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      msg: 'approvals.local_dev is enabled: generated the local development approver key',
      fields: { private_key: localDevKeyPath(state), console: 'http://127.0.0.1:8788' },
    });
    const token = String(lines[0]?.fields?.['token']);
    expect(await (await auth(localDev, state)).authenticate(token, 'console')).toMatchObject({ ok: true });
  });

  it('creates no key and prints nothing while local_dev is off', async () => {
    const state = await mkdtemp(path.join(tmpdir(), 'mcpgov-state-'));
    const lines: string[] = [];
    await prepareLocalDevApprover(config(), state, (_l, msg) => lines.push(msg));
    expect(lines).toEqual([]);
    await expect(stat(localDevKeyPath(state))).rejects.toThrow(/ENOENT/);
  });
});
