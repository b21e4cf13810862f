import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LowdbApprovalStore } from '../../../src/approvals/lowdb-store.js';
import { ApprovalService, type NewRequest } from '../../../src/approvals/service.js';
import type { ApprovalRequest, ApproverPrincipal } from '../../../src/approvals/types.js';
import { ApprovalsConfigSchema } from '../../../src/config/approvals-schema.js';
import { EvidenceLog } from '../../../src/evidence/evidence-log.js';
import { readEvidence } from '../../../src/evidence/jsonl-store.js';
import { LocalEd25519Signer, readJwks, writeKeyPair } from '../../../src/evidence/signer.js';
import type { EvidenceRecord } from '../../../src/evidence/types.js';
import { verifyLogDir } from '../../../src/evidence/verify.js';
import { approver, BINDING, sha, verdict, waitFor } from '../../helpers/approvals.js';

const PEP = { id: 'gateway@test', kind: 'gateway' as const, version: '0' };

interface Setup {
  service: ApprovalService;
  store: LowdbApprovalStore;
  /** The service's clock: real time moved by `advance`. */
  now(): number;
  advance(ms: number): void;
  records(): Promise<EvidenceRecord[]>;
  /** Approval and waiver events in the evidence log, in order. */
  events(): Promise<string[]>;
  stateDir: string;
  evidenceDir: string;
  publicJwks: string;
}

const running: { service: ApprovalService; log: EvidenceLog }[] = [];

afterEach(async () => {
  for (const { service, log } of running.splice(0)) {
    await service.close();
    await log.close();
  }
});

/** A service on a real store and a real evidence log in a temp folder. */
async function setup(config: Record<string, unknown> = {}): Promise<Setup> {
  const root = await mkdtemp(path.join(tmpdir(), 'mcpgov-approval-service-'));
  const keys = await writeKeyPair(path.join(root, 'keys'));
  const evidenceDir = path.join(root, 'evidence');
  const log = await EvidenceLog.open({
    dir: evidenceDir,
    fsync: 'batch',
    signer: await LocalEd25519Signer.fromFile(keys.privateKey),
    origin: 'mcpgov/test',
    checkpoint: { everyRecords: 1000, everySeconds: 3600 },
    segmentMaxBytes: 1 << 26,
    log: () => {},
  });
  const stateDir = path.join(root, 'state');
  const store = await LowdbApprovalStore.open(stateDir);
  let offset = 0;
  const now = () => Date.now() + offset;
  const service = new ApprovalService({
    store,
    config: ApprovalsConfigSchema.parse(config),
    evidence: log,
    pep: PEP,
    log: () => {},
    clock: now,
  });
  running.push({ service, log });
  const records = async () => {
    await log.flush();
    return readEvidence(evidenceDir);
  };
  return {
    service,
    store,
    now,
    advance: (ms) => (offset += ms),
    records,
    events: async () =>
      (await records()).flatMap((r) =>
        r.approval ? [`approval ${r.approval.event}`] : r.waiver ? [`waiver ${r.waiver.event}`] : [],
      ),
    stateDir,
    evidenceDir,
    publicJwks: keys.publicJwks,
  };
}

/** What the enforcer passes when it opens a request for an escalated call. */
function escalated(fields: Partial<NewRequest> = {}): NewRequest {
  return {
    binding: BINDING,
    verified: true,
    pep: PEP.id,
    session: 'session-1',
    server: 'fs',
    decision_id: 'decision-1',
    reasons: ['move_needs_approval'],
    signals: [],
    args: { source: 'a.txt', destination: 'b.txt' },
    tier: 'high',
    owner: 'platform',
    agent_owner: 'research',
    approvers: [],
    mode: 'return',
    recent_calls: [],
    timeoutSeconds: 300,
    ...fields,
  };
}

describe('deciding a request', () => {
  it('records the approval, opens its grant, and writes created and decided records', async () => {
    const s = await setup({ grant_seconds: 600 });
    const request = await s.service.open(escalated());
    const alice = approver('alice', s.now());
    s.advance(1500);
    const result = await s.service.decide(
      request.id,
      { verdict: 'approve', reason: '  fine, go ahead ', args_digest: BINDING.args_digest },
      alice,
    );
    expect(result).toMatchObject({
      ok: true,
      request: { state: 'approved', verdict: { verdict: 'approve', reason: 'fine, go ahead' } },
    });
    const decided = result.ok ? result.request : undefined;
    expect(Date.parse(decided?.grant?.expires_at ?? '') - Date.parse(decided?.verdict?.at ?? '')).toBe(
      600_000,
    );
    // The store learns the verdict is recorded at the next sweep, or when the service closes.
    await s.service.close();
    expect(await s.store.get(request.id)).toMatchObject({ verdict_recorded: true });

    const approvals = (await s.records()).filter((r) => r.kind === 'approval');
    expect(approvals.map((r) => r.approval?.event)).toEqual(['created', 'decided']);
    expect(approvals.every((r) => r.chain === 'approvals')).toBe(true);
    expect(approvals[0]?.approval).toMatchObject({
      request: request.id,
      decision_id: 'decision-1',
      agent: 'dev',
      tool: 'fs__move_file',
      args_digest: BINDING.args_digest,
      bundle_digest: BINDING.bundle_digest,
      expires_at: request.expires_at,
      mode: 'return',
      tier: 'high',
    });
    expect(approvals[1]?.approval).toMatchObject({
      verdict: 'approve',
      reason: 'fine, go ahead',
      approver: { sub: 'alice', iss: 'https://idp.test', via: 'api', amr: ['pwd', 'mfa'] },
    });
    expect(approvals[1]?.approval?.time_to_decision_ms).toBeGreaterThanOrEqual(1500);
  });

  it('tells onCreated listeners of each new request', async () => {
    const s = await setup();
    const told: ApprovalRequest[] = [];
    s.service.onCreated((r) => told.push(r));
    const request = await s.service.open(escalated());
    expect(told).toEqual([request]);
  });

  describe('refusals, which change nothing', () => {
    /** Decides and checks that the request is still pending and no verdict was recorded. */
    async function refused(
      s: Setup,
      request: ApprovalRequest,
      principal: ApproverPrincipal,
      kind: 'approve' | 'deny' = 'approve',
      argsDigest?: string,
    ) {
      const result = await s.service.decide(
        request.id,
        { verdict: kind, reason: 'looks fine', args_digest: argsDigest },
        principal,
      );
      expect(result.ok).toBe(false);
      expect(await s.store.get(request.id)).toMatchObject({ state: request.state });
      expect((await s.store.get(request.id))?.verdict).toEqual(request.verdict);
      return result.ok ? { code: '', message: '' } : result;
    }

    it('an unknown request', async () => {
      const s = await setup();
      const result = await s.service.decide(
        'no-such-id',
        { verdict: 'approve', reason: 'x' },
        approver('a', s.now()),
      );
      expect(result).toMatchObject({
        ok: false,
        code: 'unknown_request',
        message: 'no approval request no-such-id',
      });
    });

    it('a request already decided', async () => {
      const s = await setup();
      const request = await s.service.open(escalated());
      await s.service.decide(request.id, { verdict: 'deny', reason: 'no' }, approver('alice', s.now()));
      const decided = (await s.store.get(request.id)) as ApprovalRequest;
      const result = await refused(s, decided, approver('bob', s.now()));
      expect(result).toMatchObject({
        code: 'not_pending',
        message: `request ${request.id} is already denied`,
      });
      expect(await s.events()).toEqual(['approval created', 'approval decided']);
    });

    it('an expired request', async () => {
      const s = await setup();
      const request = await s.service.open(escalated({ timeoutSeconds: 60 }));
      s.advance(60_000);
      const result = await refused(s, request, approver('alice', s.now()));
      expect(result).toMatchObject({ code: 'expired' });
      expect(result.message).toContain(request.expires_at);
    });

    it('a request whose arguments digest is not the one the approver was shown', async () => {
      const s = await setup();
      const request = await s.service.open(escalated());
      const result = await refused(s, request, approver('alice', s.now()), 'approve', sha('e'));
      expect(result).toMatchObject({ code: 'binding_changed' });
      expect(result.message).toContain(BINDING.args_digest);
    });

    it('an empty reason', async () => {
      const s = await setup();
      const request = await s.service.open(escalated());
      const result = await s.service.decide(
        request.id,
        { verdict: 'deny', reason: '   ' },
        approver('a', s.now()),
      );
      expect(result).toMatchObject({ ok: false, message: 'a reason of 1 to 2000 characters is required' });
    });

    it('an approver not allowed for the tier', async () => {
      const s = await setup();
      const request = await s.service.open(escalated({ tier: 'critical' }));
      const result = await refused(
        s,
        request,
        approver('alice', s.now(), { tiers: ['low', 'medium', 'high'] }),
        'deny',
      );
      expect(result).toEqual({
        ok: false,
        code: 'not_allowed',
        message: 'alice may not decide critical-tier requests',
      });
    });

    it("an approver not allowed for the tool's owner", async () => {
      const s = await setup();
      const request = await s.service.open(escalated({ owner: 'security' }));
      const result = await refused(s, request, approver('alice', s.now(), { owners: ['platform'] }), 'deny');
      expect(result.message).toBe('alice may not decide requests for tools owned by security');
      const mayDecide = await s.service.decide(
        request.id,
        { verdict: 'deny', reason: 'no' },
        approver('sam', s.now(), { owners: ['security'] }),
      );
      expect(mayDecide.ok).toBe(true);
    });

    it('an approver the request does not name', async () => {
      const s = await setup();
      const request = await s.service.open(escalated({ approvers: ['carol', 'dan'] }));
      const result = await refused(s, request, approver('alice', s.now()));
      expect(result.message).toBe(`request ${request.id} names its approvers (carol, dan); alice is not one`);
      expect(
        (await s.service.decide(request.id, { verdict: 'approve', reason: 'ok' }, approver('dan', s.now())))
          .ok,
      ).toBe(true);
    });

    it("the agent's own owner, under separation of duties, either way", async () => {
      const s = await setup();
      const request = await s.service.open(escalated({ agent_owner: 'research' }));
      const owner = approver('rita', s.now(), { teams: ['research'] });
      for (const kind of ['approve', 'deny'] as const) {
        const result = await refused(s, request, owner, kind);
        expect(result).toMatchObject({ code: 'not_allowed' });
        expect(result.message).toBe(
          'separation of duties: rita belongs to research, which owns agent dev; another approver must decide',
        );
      }
    });

    it("lets the agent's owner decide when separation of duties is off", async () => {
      const s = await setup({ separation_of_duties: false });
      const request = await s.service.open(escalated({ agent_owner: 'research' }));
      const result = await s.service.decide(
        request.id,
        { verdict: 'approve', reason: 'mine, fine' },
        approver('rita', s.now(), { teams: ['research'] }),
      );
      expect(result.ok).toBe(true);
    });
  });

  describe('step-up', () => {
    it('refuses a critical approval by a token without auth_time', async () => {
      const s = await setup();
      const request = await s.service.open(escalated({ tier: 'critical' }));
      const result = await s.service.decide(
        request.id,
        { verdict: 'approve', reason: 'ok' },
        approver('alice', s.now(), { approver: { auth_time: undefined } }),
      );
      expect(result).toEqual({
        ok: false,
        code: 'step_up_required',
        message: 'critical-tier approvals need a step-up authentication: the token has no auth_time',
      });
      expect((await s.store.get(request.id))?.state).toBe('pending');
    });

    it('refuses an approval whose authentication is older than the window', async () => {
      const s = await setup({ step_up: { max_auth_age_seconds: 300 } });
      const request = await s.service.open(escalated({ tier: 'high' }));
      const stale = approver('alice', s.now(), {}, 360);
      const result = await s.service.decide(request.id, { verdict: 'approve', reason: 'ok' }, stale);
      expect(result).toMatchObject({ ok: false, code: 'step_up_required' });
      // (The age is read off the clock when the verdict is given: 360 s and however long this test took.)
      expect(result.ok ? '' : result.message).toMatch(
        /^high-tier approvals need a step-up authentication within the last 300 s; this token's auth_time is 36\d s old: sign in again$/,
      );
      const fresh = approver('alice', s.now(), {}, 240);
      expect((await s.service.decide(request.id, { verdict: 'approve', reason: 'ok' }, fresh)).ok).toBe(true);
    });

    it('refuses a token that carries neither a step-up acr nor amr', async () => {
      const s = await setup({ step_up: { acr: ['phrh'], amr: ['hwk'] } });
      const request = await s.service.open(escalated({ tier: 'critical' }));
      const pwd = approver('alice', s.now(), { approver: { amr: ['pwd', 'mfa'], acr: 'basic' } });
      const result = await s.service.decide(request.id, { verdict: 'approve', reason: 'ok' }, pwd);
      expect(result).toEqual({
        ok: false,
        code: 'step_up_required',
        message:
          'critical-tier approvals need a step-up authentication: the token carries none of acr phrh, amr hwk',
      });
      const acr = approver('alice', s.now(), { approver: { amr: ['pwd'], acr: 'phrh' } });
      expect((await s.service.decide(request.id, { verdict: 'approve', reason: 'ok' }, acr)).ok).toBe(true);
    });

    it('does not ask a step-up to deny, nor to approve a tier outside step_up.tiers', async () => {
      const s = await setup();
      const plain = approver('alice', s.now(), { approver: { amr: ['pwd'], auth_time: undefined } });
      const critical = await s.service.open(escalated({ tier: 'critical' }));
      expect((await s.service.decide(critical.id, { verdict: 'deny', reason: 'not now' }, plain)).ok).toBe(
        true,
      );
      const medium = await s.service.open(escalated({ tier: 'medium' }));
      expect((await s.service.decide(medium.id, { verdict: 'approve', reason: 'ok' }, plain)).ok).toBe(true);
    });

    it('counts the local development key as a step-up', async () => {
      const s = await setup();
      const request = await s.service.open(escalated({ tier: 'critical' }));
      const localDev: ApproverPrincipal = {
        approver: { sub: 'local-dev-approver', iss: 'mcpgov-local-dev', via: 'cli' },
        teams: [],
        owners: ['*'],
        tiers: ['low', 'medium', 'high', 'critical'],
        localDev: true,
      };
      const result = await s.service.decide(request.id, { verdict: 'approve', reason: 'demo' }, localDev);
      expect(result.ok).toBe(true);
      const decided = (await s.records()).find((r) => r.approval?.event === 'decided');
      expect(decided?.approval?.approver).toEqual({
        sub: 'local-dev-approver',
        iss: 'mcpgov-local-dev',
        via: 'cli',
      });
    });
  });
});

describe('holding a call', () => {
  it('goes on the moment the request is approved', async () => {
    const s = await setup();
    s.service.start();
    const request = await s.service.open(escalated({ mode: 'hold' }));
    const held = s.service.hold(request, undefined);
    await s.service.decide(request.id, { verdict: 'approve', reason: 'ok' }, approver('alice', s.now()));
    expect(await held).toMatchObject({ state: 'approved', request: { id: request.id } });
  });

  it('ends with the verdict given before the wait began', async () => {
    const s = await setup();
    const request = await s.service.open(escalated({ mode: 'hold' }));
    await s.service.decide(request.id, { verdict: 'deny', reason: 'no' }, approver('alice', s.now()));
    expect(await s.service.hold(request, undefined)).toMatchObject({ state: 'denied' });
  });

  it('ends with a verdict written by another process on the same store', async () => {
    const s = await setup();
    s.service.start();
    const request = await s.service.open(escalated({ mode: 'hold' }));
    const held = s.service.hold(request, undefined);
    const cli = await LowdbApprovalStore.open(s.stateDir);
    try {
      const now = s.now();
      await cli.decide(request.id, verdict('deny', now, 'bob'), now, new Date(now).toISOString());
    } finally {
      await cli.close();
    }
    expect(await held).toMatchObject({ state: 'denied', request: { verdict: { approver: { sub: 'bob' } } } });
    // The enforcement point records the verdict it did not see given, once.
    await waitFor(
      'the verdict to be recorded',
      async () => (await s.store.get(request.id))?.verdict_recorded,
    );
    expect(await s.events()).toEqual(['approval created', 'approval decided']);
  });

  it('ends expired once nobody decided in time, with an expired record', async () => {
    const s = await setup();
    const request = await s.service.open(escalated({ mode: 'hold', timeoutSeconds: 30 }));
    const held = s.service.hold(request, undefined);
    s.advance(30_000);
    await s.service.list();
    expect(await held).toMatchObject({ state: 'expired' });
    expect(await s.events()).toEqual(['approval created', 'approval expired']);
  });

  it('expires by itself at its expiry time', async () => {
    const s = await setup();
    s.service.start();
    const request = await s.service.open(escalated({ mode: 'hold', timeoutSeconds: 1 }));
    expect(await s.service.hold(request, undefined)).toMatchObject({ state: 'expired' });
    expect((await s.store.get(request.id))?.state).toBe('expired');
  });

  it('ends expired when another process sharing the store expired the request', async () => {
    const s = await setup();
    s.service.start();
    const request = await s.service.open(escalated({ mode: 'hold', timeoutSeconds: 1 }));
    const held = s.service.hold(request, undefined);
    const cli = await LowdbApprovalStore.open(s.stateDir);
    try {
      expect(await cli.expire(Date.parse(request.expires_at))).toHaveLength(1);
    } finally {
      await cli.close();
    }
    expect(await held).toMatchObject({ state: 'expired' });
  });

  it('withdraws the request when the client cancels', async () => {
    const s = await setup();
    const request = await s.service.open(escalated({ mode: 'hold' }));
    const cancel = new AbortController();
    const held = s.service.hold(request, cancel.signal);
    cancel.abort();
    expect(await held).toMatchObject({ state: 'withdrawn' });
    expect((await s.store.get(request.id))?.state).toBe('withdrawn');
    expect(await s.events()).toEqual(['approval created', 'approval withdrawn']);
  });

  it('sends progress that increases with every notification', async () => {
    const s = await setup({ progress_seconds: 0.02 });
    const request = await s.service.open(escalated({ mode: 'hold' }));
    const ticks: number[] = [];
    const held = s.service.hold(request, undefined, (waited) => ticks.push(waited));
    await waitFor('five progress ticks', () => ticks.length >= 5);
    await s.service.decide(request.id, { verdict: 'deny', reason: 'no' }, approver('alice', s.now()));
    await held;
    const count = ticks.length;
    expect(ticks.every((t, i) => i === 0 || t > (ticks[i - 1] ?? 0))).toBe(true);
    expect(ticks.slice(0, 5)).toEqual([0.02, 0.04, 0.06, 0.08, 0.1]);
    // No progress after the verdict.
    await new Promise((resolve) => setImmediate(resolve));
    expect(ticks).toHaveLength(count);
  });

  it('answers a held call interrupted by a shutdown; its request stays decidable and leaves a grant', async () => {
    const s = await setup();
    const request = await s.service.open(escalated({ mode: 'hold' }));
    const held = s.service.hold(request, undefined);
    await s.service.interruptAll();
    expect(await held).toMatchObject({ state: 'interrupted' });
    expect(await s.store.get(request.id)).toMatchObject({ state: 'pending', interrupted: true });
    await s.service.decide(request.id, { verdict: 'approve', reason: 'ok' }, approver('alice', s.now()));
    const grant = await s.service.takeGrant(BINDING, 'decision-2');
    expect(grant?.id).toBe(request.id);
    await s.service.grantUsed(grant as ApprovalRequest, 'decision-2');
    expect(await s.events()).toEqual([
      'approval created',
      'approval interrupted',
      'approval decided',
      'approval grant_used',
    ]);
    const used = (await s.records()).find((r) => r.approval?.event === 'grant_used');
    expect(used?.approval).toMatchObject({ request: request.id, used_by: 'decision-2' });
  });
});

describe('using a grant', () => {
  it('records a verdict given by another process before the grant it opened is used', async () => {
    const s = await setup();
    const request = await s.service.open(escalated());
    const cli = await LowdbApprovalStore.open(s.stateDir);
    try {
      const now = s.now();
      await cli.decide(
        request.id,
        verdict('approve', now, 'olga'),
        now,
        new Date(now + 60_000).toISOString(),
      );
    } finally {
      await cli.close();
    }
    const grant = await s.service.takeGrant(BINDING, 'decision-2');
    expect(grant?.id).toBe(request.id);
    await s.service.grantUsed(grant!, 'decision-2');
    expect(await s.events()).toEqual(['approval created', 'approval decided', 'approval grant_used']);
    // Recorded once: the sweep finds nothing left to record.
    s.service.start();
    await waitFor('a sweep', async () => (await s.store.unrecordedVerdicts()).length === 0);
    expect(await s.events()).toEqual(['approval created', 'approval decided', 'approval grant_used']);
  });

  it('records a verdict once when the retry comes while the approval is being recorded', async () => {
    const s = await setup();
    s.service.start();
    const request = await s.service.open(escalated());
    const deciding = s.service.decide(
      request.id,
      { verdict: 'approve', reason: 'ok' },
      approver('alice', s.now()),
    );
    const grant = await waitFor('the grant', () => s.service.takeGrant(BINDING, 'decision-2'));
    await s.service.grantUsed(grant, 'decision-2');
    await deciding;
    expect(await s.events()).toEqual(['approval created', 'approval decided', 'approval grant_used']);
  });
});

describe('shutdown', () => {
  it('interrupts a call whose request was still being opened when the shutdown began', async () => {
    const s = await setup();
    const opening = s.service.open(escalated({ mode: 'hold' }));
    const stopping = s.service.interruptAll();
    const request = await opening;
    const outcome = await s.service.hold(request, undefined);
    await stopping;
    expect(outcome).toMatchObject({ state: 'interrupted', request: { id: request.id, interrupted: true } });
    expect(await s.events()).toEqual(['approval created', 'approval interrupted']);
  });

  it('interrupts at once a call held after the shutdown began', async () => {
    const s = await setup();
    await s.service.interruptAll();
    const request = await s.service.open(escalated({ mode: 'hold' }));
    expect(await s.service.hold(request, undefined)).toMatchObject({ state: 'interrupted' });
    expect(await s.store.get(request.id)).toMatchObject({ state: 'pending', interrupted: true });
  });

  it('interrupts a held call once, however often the shutdown asks', async () => {
    const s = await setup();
    const request = await s.service.open(escalated({ mode: 'hold' }));
    const held = s.service.hold(request, undefined);
    await Promise.all([s.service.interruptAll(), s.service.interruptAll()]);
    expect(await held).toMatchObject({ state: 'interrupted' });
    expect(await s.events()).toEqual(['approval created', 'approval interrupted']);
  });
});

describe('waivers', () => {
  const input = {
    agent: 'dev',
    tool: 'fs__move_file',
    until: '2h',
    reason: 'files are being reorganised this week',
    compensating: 'the moves are reviewed each evening',
  };

  it('creates a waiver for an approver who may approve critical requests with a step-up', async () => {
    const s = await setup();
    const result = await s.service.addWaiver(input, approver('alice', s.now()));
    expect(result).toMatchObject({
      ok: true,
      waiver: { agent: 'dev', tool: 'fs__move_file', by: { sub: 'alice' } },
    });
    const waiver = result.ok ? result.waiver : undefined;
    expect(Date.parse(waiver?.until ?? '') - Date.parse(waiver?.created_at ?? '')).toBe(2 * 3_600_000);
    const created = (await s.records()).find((r) => r.waiver?.event === 'created');
    expect(created?.waiver).toMatchObject({
      waiver: waiver?.id,
      reason: input.reason,
      compensating: input.compensating,
      by: { sub: 'alice', via: 'api' },
      until: waiver?.until,
    });
  });

  it('refuses a waiver longer than waivers.max_days, one in the past, and an unreadable until', async () => {
    const s = await setup({ waivers: { max_days: 7 } });
    const alice = approver('alice', s.now());
    expect(await s.service.addWaiver({ ...input, until: '8d' }, alice)).toEqual({
      ok: false,
      code: 'too_long',
      message: 'a waiver may last at most 7 days (waivers.max_days)',
    });
    expect(await s.service.addWaiver({ ...input, until: '7d' }, alice)).toMatchObject({ ok: true });
    const past = new Date(s.now() - 1000).toISOString();
    expect(await s.service.addWaiver({ ...input, until: past }, alice)).toEqual({
      ok: false,
      code: 'invalid',
      message: `until: ${past} is in the past`,
    });
    expect(await s.service.addWaiver({ ...input, until: 'next week' }, alice)).toMatchObject({
      ok: false,
      code: 'invalid',
    });
    expect(await s.service.addWaiver({ ...input, reason: ' ' }, alice)).toMatchObject({
      ok: false,
      code: 'invalid',
    });
  });

  it('refuses an args_match that is not allowed json-logic', async () => {
    const s = await setup();
    const result = await s.service.addWaiver(
      { ...input, args_match: { '==': [{ var: 'call.arguments.source' }, 'a.txt'] } },
      approver('alice', s.now()),
    );
    expect(result).toMatchObject({ ok: false, code: 'invalid' });
    expect(result.ok ? '' : result.message).toMatch(/^args_match: .*loose "=="/);
    expect(await s.service.listWaivers()).toEqual([]);
  });

  it('needs what a critical approval needs: the critical tier, and a step-up', async () => {
    const s = await setup();
    expect(
      await s.service.addWaiver(input, approver('alice', s.now(), { tiers: ['low', 'medium', 'high'] })),
    ).toEqual({
      ok: false,
      code: 'not_allowed',
      message: 'alice may not decide critical-tier requests, so may not create waivers',
    });
    const stale = await s.service.addWaiver(input, approver('alice', s.now(), {}, 3600));
    expect(stale).toMatchObject({ ok: false, code: 'step_up_required' });
    expect(stale.ok ? '' : stale.message).toMatch(
      /^a waiver needs what a critical approval needs: .*sign in again$/,
    );
    expect(await s.service.listWaivers()).toEqual([]);
    expect(await s.events()).toEqual([]);
  });

  it('covers calls by its agent (or any, with *) to tools its glob matches, where args_match holds', async () => {
    const s = await setup();
    const alice = approver('alice', s.now());
    const move = { source: '/data/in/a.txt', destination: '/data/out/a.txt' };
    await s.service.addWaiver({ ...input, agent: 'dev', tool: 'fs__*' }, alice);
    expect(await s.service.findWaiver('dev', 'fs__move_file', move)).toBeDefined();
    expect(await s.service.findWaiver('dev', 'memory__delete_entities', {})).toBeUndefined();
    expect(await s.service.findWaiver('other', 'fs__move_file', move)).toBeUndefined();
    expect(await s.service.findWaiver(undefined, 'fs__move_file', move)).toBeUndefined();

    await s.service.addWaiver(
      {
        ...input,
        agent: '*',
        tool: 'memory__delete_entities',
        args_match: { '<=': [{ var: 'call.arguments.entityNames.length' }, 10] },
      },
      alice,
    );
    const few = { entityNames: ['a', 'b'] };
    const many = { entityNames: Array.from({ length: 11 }, (_, i) => `e${i}`) };
    expect(await s.service.findWaiver('other', 'memory__delete_entities', few)).toBeDefined();
    expect(await s.service.findWaiver(undefined, 'memory__delete_entities', few)).toBeDefined();
    expect(await s.service.findWaiver('other', 'memory__delete_entities', many)).toBeUndefined();
  });

  it('stops applying once revoked, with a revoked record', async () => {
    const s = await setup();
    const alice = approver('alice', s.now());
    const created = await s.service.addWaiver(input, alice);
    const id = created.ok ? created.waiver.id : '';
    expect(await s.service.findWaiver('dev', 'fs__move_file', {})).toBeDefined();
    expect(await s.service.revokeWaiver(id, 'reorganisation done', approver('bob', s.now()))).toMatchObject({
      ok: true,
      waiver: { revoked: { reason: 'reorganisation done', by: { sub: 'bob' } } },
    });
    expect(await s.service.findWaiver('dev', 'fs__move_file', {})).toBeUndefined();
    expect(await s.service.revokeWaiver(id, 'again', alice)).toMatchObject({
      ok: false,
      code: 'unknown_waiver',
    });
    expect(await s.service.listWaivers({ active: true })).toEqual([]);
    expect(await s.events()).toEqual(['waiver created', 'waiver revoked']);
  });

  it('stops applying at its until, and its expiry is recorded once', async () => {
    const s = await setup();
    const created = await s.service.addWaiver({ ...input, until: '1h' }, approver('alice', s.now()));
    const waiver = created.ok ? created.waiver : undefined;
    const used = await s.service.findWaiver('dev', 'fs__move_file', {});
    expect(used?.id).toBe(waiver?.id);
    await s.service.waiverUsed(used!, 'decision-7', 'escalate');
    s.advance(3_600_000);
    expect(await s.service.findWaiver('dev', 'fs__move_file', {})).toBeUndefined();
    s.service.start();
    await waitFor('the waiver expiry record', async () => (await s.events()).includes('waiver expired'));
    expect(await s.events()).toEqual(['waiver created', 'waiver used', 'waiver expired']);
    const usedRecord = (await s.records()).find((r) => r.waiver?.event === 'used');
    expect(usedRecord?.waiver).toMatchObject({
      waiver: waiver?.id,
      decision_id: 'decision-7',
      waived_effect: 'escalate',
    });
  });
});

describe('approval evidence', () => {
  it('chains every approval and waiver record in a log that verifies', async () => {
    const s = await setup();
    const alice = approver('alice', s.now());
    const a = await s.service.open(escalated());
    await s.service.decide(a.id, { verdict: 'approve', reason: 'ok' }, alice);
    const grant = await s.service.takeGrant(BINDING, 'decision-9');
    await s.service.grantUsed(grant!, 'decision-9');
    const b = await s.service.open(escalated({ mode: 'hold' }));
    const cancel = new AbortController();
    const held = s.service.hold(b, cancel.signal);
    cancel.abort();
    await held;
    await s.service.addWaiver(input(), alice);
    expect(await s.events()).toEqual([
      'approval created',
      'approval decided',
      'approval grant_used',
      'approval created',
      'approval withdrawn',
      'waiver created',
    ]);
    const log = running.at(-1)?.log;
    await log?.checkpoint();
    expect(await verifyLogDir(s.evidenceDir, await readJwks(s.publicJwks))).toMatchObject({
      ok: true,
      records: 6,
    });
  });

  function input() {
    return { agent: 'dev', tool: 'fs__move_file', until: '1d', reason: 'r', compensating: 'c' };
  }
});
