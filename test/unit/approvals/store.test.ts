import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  APPROVALS_FILE,
  ApprovalStoreCorruptError,
  LowdbApprovalStore,
} from '../../../src/approvals/lowdb-store.js';
import type { ApprovalStore } from '../../../src/approvals/store.js';
import type { ApprovalRequest, Waiver } from '../../../src/approvals/types.js';
import { BINDING, pendingRequest, sha, verdict, waitFor } from '../../helpers/approvals.js';
import { dropSchemas, freshSchema, openPostgresStore, postgresReachable } from '../../helpers/postgres.js';

const HOUR = 3_600_000;
const opened: ApprovalStore[] = [];

async function folder(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'mcpgov-approvals-'));
}

async function openStore(dir?: string): Promise<LowdbApprovalStore> {
  return track(await LowdbApprovalStore.open(dir ?? (await folder())));
}

function waiver(fields: Partial<Waiver> = {}, now = Date.now()): Waiver {
  return {
    id: `w-${Math.random().toString(16).slice(2)}`,
    agent: 'dev',
    tool: 'fs__move_file',
    created_at: new Date(now).toISOString(),
    until: new Date(now + HOUR).toISOString(),
    reason: 'migration week',
    compensating: 'daily review of moved files',
    by: { sub: 'alice', via: 'api' },
    ...fields,
  };
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

afterAll(dropSchemas);

/** A store implementation under test: a fresh store, and two stores on the same state. */
interface Backend {
  name: string;
  /** What two processes share. */
  shared: string;
  open(): Promise<ApprovalStore>;
  pair(): Promise<[ApprovalStore, ApprovalStore]>;
}

const LOWDB: Backend = {
  name: 'lowdb',
  shared: 'one folder',
  open: () => openStore(),
  pair: async () => {
    const dir = await folder();
    return [await openStore(dir), await openStore(dir)];
  },
};

const POSTGRES: Backend = {
  name: 'postgres',
  shared: 'one database',
  open: async () => track(await openPostgresStore(await freshSchema())),
  pair: async () => {
    const schema = await freshSchema();
    return [track(await openPostgresStore(schema)), track(await openPostgresStore(schema))];
  },
};

function track<T extends ApprovalStore>(store: T): T {
  opened.push(store);
  return store;
}

/**
 * The store contract, run against each store: the embedded one, and PostgreSQL's when it answers
 * (each test on a schema of its own).
 */
function storeContract(backend: Backend): void {
  describe(`approval store (${backend.name}): requests`, () => {
    it('keeps a created request, and lists requests newest first, by state and up to a limit', async () => {
      const store = await backend.open();
      const now = Date.now();
      const older = pendingRequest({}, now - 2000);
      const newer = pendingRequest({}, now - 1000);
      const decided = pendingRequest({}, now);
      await store.create(older);
      await store.create(newer);
      await store.create(decided);
      await store.decide(decided.id, verdict('deny', now), now, new Date(now + HOUR).toISOString());

      expect(await store.get(older.id)).toEqual(older);
      expect(await store.get('no-such-request')).toBeUndefined();
      expect((await store.list()).map((r) => r.id)).toEqual([decided.id, newer.id, older.id]);
      expect((await store.list({ state: 'pending' })).map((r) => r.id)).toEqual([newer.id, older.id]);
      expect((await store.list({ state: 'denied' })).map((r) => r.id)).toEqual([decided.id]);
      expect((await store.list({ limit: 1 })).map((r) => r.id)).toEqual([decided.id]);
    });

    it('decides a request once: a second verdict is refused as not_pending and changes nothing', async () => {
      const store = await backend.open();
      const now = Date.now();
      const request = pendingRequest({}, now);
      await store.create(request);
      const grantUntil = new Date(now + HOUR).toISOString();

      const first = await store.decide(request.id, verdict('approve', now, 'alice'), now, grantUntil);
      expect(first).toMatchObject({
        ok: true,
        request: { state: 'approved', verdict: { verdict: 'approve' }, grant: { expires_at: grantUntil } },
      });
      const second = await store.decide(request.id, verdict('deny', now, 'bob'), now, grantUntil);
      expect(second).toMatchObject({ ok: false, code: 'not_pending' });
      expect(second.ok ? '' : second.message).toMatch(/already approved/);
      expect(await store.get(request.id)).toMatchObject({
        state: 'approved',
        verdict: { approver: { sub: 'alice' } },
      });
    });

    it('refuses a verdict on an unknown request', async () => {
      const store = await backend.open();
      const now = Date.now();
      expect(
        await store.decide('nope', verdict('approve', now), now, new Date(now).toISOString()),
      ).toMatchObject({ ok: false, code: 'unknown_request' });
    });

    it('refuses a verdict on an expired request, and leaves its expiry to be recorded by expire()', async () => {
      const store = await backend.open();
      const now = Date.now();
      const request = pendingRequest({}, now - 2000, 1000);
      await store.create(request);
      const result = await store.decide(
        request.id,
        verdict('approve', now),
        now,
        new Date(now + HOUR).toISOString(),
      );
      expect(result).toMatchObject({ ok: false, code: 'expired' });
      expect(await store.get(request.id)).not.toHaveProperty('verdict');
      // The expiry is a transition of its own (with its evidence record), not a side effect of the refusal.
      expect((await store.expire(now)).map((r) => r.id)).toEqual([request.id]);
      expect(await store.get(request.id)).toMatchObject({ state: 'expired' });
      expect(await store.expire(now)).toEqual([]);
    });

    it('expires only pending requests past their expiry', async () => {
      const store = await backend.open();
      const now = Date.now();
      const due = pendingRequest({}, now - 5000, 1000);
      const notYet = pendingRequest({}, now, 60_000);
      const decidedLate = pendingRequest({}, now - 5000, 10_000);
      for (const r of [due, notYet, decidedLate]) await store.create(r);
      await store.decide(
        decidedLate.id,
        verdict('deny', now - 4000),
        now - 4000,
        new Date(now).toISOString(),
      );

      expect((await store.expire(now)).map((r) => r.id)).toEqual([due.id]);
      expect((await store.get(notYet.id))?.state).toBe('pending');
      expect((await store.get(decidedLate.id))?.state).toBe('denied');
    });

    it('withdraws a pending request, and nothing else', async () => {
      const store = await backend.open();
      const now = Date.now();
      const request = pendingRequest({}, now);
      const decided = pendingRequest({}, now);
      await store.create(request);
      await store.create(decided);
      await store.decide(decided.id, verdict('approve', now), now, new Date(now + HOUR).toISOString());

      expect(await store.withdraw(request.id, now)).toMatchObject({ id: request.id, state: 'withdrawn' });
      expect(await store.withdraw(request.id, now)).toBeUndefined();
      expect(await store.withdraw(decided.id, now)).toBeUndefined();
      expect((await store.get(decided.id))?.state).toBe('approved');
      const late = await store.decide(request.id, verdict('approve', now), now, new Date(now).toISOString());
      expect(late).toMatchObject({ ok: false, code: 'not_pending' });
    });

    it('marks an interrupted request, which stays pending and decidable', async () => {
      const store = await backend.open();
      const now = Date.now();
      const request = pendingRequest({ mode: 'hold' }, now);
      await store.create(request);
      await store.interrupt(request.id);
      expect(await store.get(request.id)).toMatchObject({ state: 'pending', interrupted: true });
      const decided = await store.decide(
        request.id,
        verdict('approve', now),
        now,
        new Date(now + HOUR).toISOString(),
      );
      expect(decided).toMatchObject({ ok: true, request: { state: 'approved', grant: {} } });
    });

    it('lists decided requests whose verdict is not recorded yet, until they are marked recorded', async () => {
      const store = await backend.open();
      const now = Date.now();
      const request = pendingRequest({}, now);
      await store.create(request);
      expect(await store.unrecordedVerdicts()).toEqual([]);
      await store.decide(request.id, verdict('deny', now), now, new Date(now).toISOString());
      expect((await store.unrecordedVerdicts()).map((r) => r.id)).toEqual([request.id]);
      await store.markVerdictRecorded(request.id);
      expect(await store.unrecordedVerdicts()).toEqual([]);
    });
  });

  describe(`approval store (${backend.name}): grants`, () => {
    async function approved(store: ApprovalStore, now: number, grantMs = HOUR): Promise<ApprovalRequest> {
      const request = pendingRequest({}, now);
      await store.create(request);
      await store.decide(request.id, verdict('approve', now), now, new Date(now + grantMs).toISOString());
      return request;
    }

    it('lets an approved request be used once, by the decision that used it', async () => {
      const store = await backend.open();
      const now = Date.now();
      const request = await approved(store, now);
      const used = await store.useGrant({ ...BINDING }, 'decision-1', now);
      expect(used).toMatchObject({ id: request.id, grant: { used_by: 'decision-1' } });
      expect(used?.grant?.used_at).toBe(new Date(now).toISOString());
      expect(await store.useGrant({ ...BINDING }, 'decision-2', now)).toBeUndefined();
      expect((await store.get(request.id))?.grant?.used_by).toBe('decision-1');
    });

    it('matches only the exact call: other arguments, another bundle, agent or tool do not use it', async () => {
      const store = await backend.open();
      const now = Date.now();
      await approved(store, now);
      for (const other of [
        { ...BINDING, args_digest: sha('c') },
        { ...BINDING, bundle_digest: sha('c') },
        { ...BINDING, agent: 'someone-else' },
        { ...BINDING, agent: null },
        { ...BINDING, tool: 'fs__write_file' },
      ]) {
        expect(await store.useGrant(other, 'decision-x', now)).toBeUndefined();
      }
      // Still there for the call it was given for.
      expect(await store.useGrant(BINDING, 'decision-1', now)).toBeDefined();
    });

    it('leaves no grant for a denied request', async () => {
      const store = await backend.open();
      const now = Date.now();
      const request = pendingRequest({}, now);
      await store.create(request);
      await store.decide(request.id, verdict('deny', now), now, new Date(now + HOUR).toISOString());
      expect(await store.useGrant(BINDING, 'decision-1', now)).toBeUndefined();
    });

    it('does not use a grant past its expiry', async () => {
      const store = await backend.open();
      const now = Date.now();
      await approved(store, now, 1000);
      expect(await store.useGrant(BINDING, 'decision-1', now + 1000)).toBeUndefined();
      expect(await store.useGrant(BINDING, 'decision-1', now + 999)).toBeDefined();
    });

    it("uses only the named request's grant when a held call asks for its own", async () => {
      const store = await backend.open();
      const now = Date.now();
      const older = await approved(store, now);
      const own = await approved(store, now);
      expect(await store.useGrant(BINDING, 'decision-held', now, own.id)).toMatchObject({ id: own.id });
      expect(await store.useGrant(BINDING, 'decision-again', now, own.id)).toBeUndefined();
      expect(await store.useGrant(BINDING, 'decision-x', now, 'no-such-request')).toBeUndefined();
      expect((await store.get(older.id))?.grant?.used_at).toBeUndefined();
    });

    it('gives each of two approvals of the same call one use', async () => {
      const store = await backend.open();
      const now = Date.now();
      await approved(store, now);
      await approved(store, now);
      const uses = await Promise.all([1, 2, 3].map((i) => store.useGrant(BINDING, `decision-${i}`, now)));
      expect(uses.filter(Boolean)).toHaveLength(2);
      expect(new Set(uses.filter(Boolean).map((r) => r?.id)).size).toBe(2);
    });
  });

  describe(`approval store (${backend.name}): waivers`, () => {
    it('lists active waivers: not revoked and not past their until', async () => {
      const store = await backend.open();
      const now = Date.now();
      const active = waiver({}, now);
      const expired = waiver({ until: new Date(now - 1).toISOString() }, now - HOUR);
      const revoked = waiver({}, now);
      for (const w of [active, expired, revoked]) await store.addWaiver(w);
      const revocation = {
        at: new Date(now).toISOString(),
        reason: 'done early',
        by: { sub: 'bob', via: 'cli' as const },
      };
      expect(await store.revokeWaiver(revoked.id, revocation)).toMatchObject({
        id: revoked.id,
        revoked: revocation,
      });
      expect(await store.revokeWaiver(revoked.id, revocation)).toBeUndefined();
      expect(await store.revokeWaiver('no-such-waiver', revocation)).toBeUndefined();

      expect((await store.listWaivers({ active: true, now })).map((w) => w.id)).toEqual([active.id]);
      expect((await store.listWaivers()).map((w) => w.id)).toEqual([revoked.id, expired.id, active.id]);
      // Once `now` passes its until, the active one is not active either.
      expect(await store.listWaivers({ active: true, now: Date.parse(active.until) })).toEqual([]);
    });

    it('reports each expired waiver once, and never a revoked one', async () => {
      const store = await backend.open();
      const now = Date.now();
      const expiring = waiver({ until: new Date(now + 1000).toISOString() }, now);
      const revoked = waiver({ until: new Date(now + 1000).toISOString() }, now);
      await store.addWaiver(expiring);
      await store.addWaiver(revoked);
      await store.revokeWaiver(revoked.id, {
        at: new Date(now).toISOString(),
        reason: 'r',
        by: { sub: 'b', via: 'api' },
      });
      expect(await store.expireWaivers(now)).toEqual([]);
      expect((await store.expireWaivers(now + 1000)).map((w) => w.id)).toEqual([expiring.id]);
      expect(await store.expireWaivers(now + 2000)).toEqual([]);
    });
  });

  describe(`approval store (${backend.name}): ${backend.shared}, two processes`, () => {
    it('tells one store of a verdict the other wrote', async () => {
      const [gateway, cli] = await backend.pair();
      const now = Date.now();
      const request = pendingRequest({ mode: 'hold' }, now);
      await gateway.create(request);
      const seen: ApprovalRequest[] = [];
      gateway.onVerdict((r) => seen.push(r));

      expect(await cli.get(request.id)).toEqual(request);
      expect(
        await cli.decide(request.id, verdict('approve', now), now, new Date(now + HOUR).toISOString()),
      ).toMatchObject({
        ok: true,
      });
      const told = await waitFor('the gateway store to see the verdict', () => seen[0]);
      expect(told).toMatchObject({ id: request.id, state: 'approved' });
      // Told once, however often the folder changes afterwards.
      await gateway.create(pendingRequest({}, now));
      await waitFor(
        'the gateway store to read the file again',
        async () => (await gateway.list()).length === 2,
      );
      expect(seen).toHaveLength(1);
    });

    it('lets exactly one of concurrent verdicts from both stores win', async () => {
      const [a, b] = await backend.pair();
      const now = Date.now();
      const request = pendingRequest({}, now);
      await a.create(request);
      const until = new Date(now + HOUR).toISOString();
      const results = await Promise.all(
        [a, b, a, b, a, b].map((store, i) =>
          store.decide(request.id, verdict(i % 2 ? 'deny' : 'approve', now, `approver-${i}`), now, until),
        ),
      );
      const winners = results.filter((r) => r.ok);
      expect(winners).toHaveLength(1);
      expect(results.filter((r) => !r.ok && r.code === 'not_pending')).toHaveLength(5);
      const stored = await b.get(request.id);
      expect(stored?.verdict).toEqual(winners[0]?.ok && winners[0].request.verdict);
    });

    it('uses a grant once when both stores race for it', async () => {
      const [a, b] = await backend.pair();
      const now = Date.now();
      const request = pendingRequest({}, now);
      await a.create(request);
      await a.decide(request.id, verdict('approve', now), now, new Date(now + HOUR).toISOString());
      const uses = await Promise.all(
        [a, b, a, b].map((store, i) => store.useGrant(BINDING, `decision-${i}`, now)),
      );
      expect(uses.filter(Boolean)).toHaveLength(1);
    });
  });
}

storeContract(LOWDB);
if (await postgresReachable('the PostgreSQL approval store contract')) storeContract(POSTGRES);

describe('approval store (lowdb): a reopen', () => {
  it('keeps requests and waivers across a reopen', async () => {
    const dir = await folder();
    const first = await LowdbApprovalStore.open(dir);
    const now = Date.now();
    const request = pendingRequest({}, now);
    const w = waiver({}, now);
    await first.create(request);
    await first.addWaiver(w);
    await first.close();
    const second = await openStore(dir);
    expect(await second.get(request.id)).toEqual(request);
    expect(await second.listWaivers()).toEqual([w]);
  });
});

describe('approval store: a damaged file', () => {
  it('refuses to open a file that is not JSON, and leaves it as it is', async () => {
    const dir = await folder();
    const file = path.join(dir, APPROVALS_FILE);
    await writeFile(file, '{"requests": [');
    await expect(LowdbApprovalStore.open(dir)).rejects.toBeInstanceOf(ApprovalStoreCorruptError);
    expect(await readFile(file, 'utf8')).toBe('{"requests": [');
  });

  it('refuses a file of another shape, and a transition on a file damaged after opening', async () => {
    const dir = await folder();
    const file = path.join(dir, APPROVALS_FILE);
    await writeFile(file, JSON.stringify({ requests: [{ id: 1 }], waivers: [] }));
    await expect(LowdbApprovalStore.open(dir)).rejects.toThrow(/is not an approvals store/);

    const other = await folder();
    const store = await openStore(other);
    await store.create(pendingRequest());
    const damaged = path.join(other, APPROVALS_FILE);
    await writeFile(damaged, 'not json');
    await expect(store.create(pendingRequest())).rejects.toBeInstanceOf(ApprovalStoreCorruptError);
    await expect(store.list()).rejects.toBeInstanceOf(ApprovalStoreCorruptError);
    expect(await readFile(damaged, 'utf8')).toBe('not json');
    // The failed transition released the lock: once the file is repaired, the store works again.
    await writeFile(damaged, JSON.stringify({ requests: [], waivers: [] }));
    await store.create(pendingRequest());
    expect(await store.list()).toHaveLength(1);
  });
});

describe('approval store: a lock left behind', () => {
  const lockFile = (dir: string) => path.join(dir, 'approvals.lock');

  it('takes over the lock of a process that is gone', async () => {
    const dir = await folder();
    const store = await openStore(dir);
    const gone = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid;
    await writeFile(lockFile(dir), JSON.stringify({ pid: gone, host: hostname(), at: Date.now() }));
    await store.create(pendingRequest());
    expect(await store.list()).toHaveLength(1);
    expect(existsSync(lockFile(dir))).toBe(false);
  });

  it('takes over an empty lock file once it is old: its writer died between creating and writing it', async () => {
    const dir = await folder();
    const store = await openStore(dir);
    await writeFile(lockFile(dir), '');
    const longAgo = new Date(Date.now() - 60_000);
    await utimes(lockFile(dir), longAgo, longAgo);
    await store.create(pendingRequest());
    expect(await store.list()).toHaveLength(1);
  });
});
