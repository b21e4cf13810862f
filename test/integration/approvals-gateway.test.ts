import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, cp, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { CallToolResultSchema, type CallToolResult, type Progress } from '@modelcontextprotocol/sdk/types.js';
import type { ApprovalRequest } from '../../src/approvals/types.js';
import { loadConfig } from '../../src/config/load-config.js';
import { readEvidence } from '../../src/evidence/jsonl-store.js';
import type { EvidenceRecord } from '../../src/evidence/types.js';
import { silentLogger } from '../../src/util/log.js';
import { startGateway, type Gateway } from '../../mcp-gateway/gateway.js';
import { approver, waitFor } from '../helpers/approvals.js';
import { CLI, REFERENCE_SERVERS, REPO, writeFixture, type Fixture } from '../helpers/fixture.js';
import { textOf } from '../helpers/gateway-harness.js';

const run = promisify(execFile);

/** The folders moves start from: which one decides how a move's escalation reaches a person. */
const FOLDERS = ['held', 'slow', 'returned', 'critical', 'locked', 'out'] as const;
type Folder = (typeof FOLDERS)[number];

/**
 * The gateway over the real filesystem server in a temp folder. Every `fs__move_file` escalates in
 * enforce mode; the folder a file is moved out of picks the approval settings (rules' `approval:`):
 * `held/` holds the call, `slow/` holds it for a second at most, `returned/` answers at once,
 * `critical/` answers at once at the critical tier. Writes into `locked/` are denied. The agent `dev`
 * is owned by the team `research`.
 */
async function fixture(): Promise<{ fx: Fixture; work: string }> {
  const work = await mkdtemp(path.join(tmpdir(), 'mcpgov-approvals-fs-'));
  for (const folder of FOLDERS) await mkdir(path.join(work, folder));
  const moveFrom = (folder: Folder) => ({
    and: [
      { '===': [{ var: 'call.name' }, 'fs__move_file'] },
      { path_within: [{ var: 'call.arguments.source' }, { var: `paths.${folder}` }] },
    ],
  });
  const fx = await writeFixture({
    config: {
      mode: 'enforce',
      identity: { default_agent: 'dev' },
      paths: Object.fromEntries(FOLDERS.map((f) => [f, path.join(work, f)])),
      servers: { fs: { command: 'node', args: [REFERENCE_SERVERS.filesystem, work] } },
      approvals: { mode: 'return', timeout: 600, grant_seconds: 900, progress_seconds: 0.2 },
    },
    tools: {
      tools: [
        { name: 'fs__move_file', owner: 'platform', risk_tier: 'high', scopes: ['fs.write'] },
        { name: 'fs__write_file', owner: 'platform', risk_tier: 'high', scopes: ['fs.write'] },
        { name: 'fs__*', owner: 'platform', risk_tier: 'low', scopes: ['fs.read'] },
      ],
      groups: { fs: ['fs__*'] },
    },
    agents: {
      agents: [{ id: 'dev', owner: 'research', tool_groups: ['fs'], scopes: ['fs.read', 'fs.write'] }],
    },
    rules: [
      {
        id: 'move-held',
        description: 'a move out of held/ waits for a person',
        when: moveFrom('held'),
        effect: 'escalate',
        reason: 'move_needs_approval',
        approval: { mode: 'hold' },
      },
      {
        id: 'move-slow',
        description: 'a move out of slow/ waits a second for a person',
        when: moveFrom('slow'),
        effect: 'escalate',
        reason: 'move_needs_approval',
        approval: { mode: 'hold', timeout: 1 },
      },
      {
        id: 'move-returned',
        description: 'a move out of returned/ is approved, then retried',
        when: moveFrom('returned'),
        effect: 'escalate',
        reason: 'move_needs_approval',
        approval: { mode: 'return' },
      },
      {
        id: 'move-critical',
        description: 'a move out of critical/ needs a critical-tier approval',
        when: moveFrom('critical'),
        effect: 'escalate',
        reason: 'move_needs_approval',
        approval: { mode: 'return', tier: 'critical' },
      },
      {
        id: 'no-writes-in-locked',
        description: 'nothing is written into locked/',
        when: {
          and: [
            { '===': [{ var: 'call.name' }, 'fs__write_file'] },
            { path_within: [{ var: 'call.arguments.path' }, { var: 'paths.locked' }] },
          ],
        },
        effect: 'deny',
        reason: 'write_locked',
      },
    ],
  });
  return { fx, work };
}

/** A gateway on the fixture, on any free loopback port, with an offset clock a test can move. */
class Running {
  offset = 0;
  readonly clients: Client[] = [];
  private constructor(
    readonly gateway: Gateway,
    readonly fx: Fixture,
  ) {}

  static async start(fx: Fixture, offset = 0): Promise<Running> {
    const holder: { r?: Running } = {};
    const gateway = await startGateway({
      config: await loadConfig(fx.configFile),
      http: '127.0.0.1:0',
      log: silentLogger,
      clock: () => Date.now() + (holder.r?.offset ?? offset),
    });
    holder.r = new Running(gateway, fx);
    holder.r.offset = offset;
    return holder.r;
  }

  now(): number {
    return Date.now() + this.offset;
  }

  async client(): Promise<Client> {
    const client = new Client({ name: 'test-agent', version: '0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(this.gateway.httpUrl ?? '')));
    this.clients.push(client);
    return client;
  }

  async records(): Promise<EvidenceRecord[]> {
    await this.gateway.evidence.flush();
    return readEvidence(this.fx.evidenceDir);
  }

  /** The pending request opened for a move out of `source`, once there is one. */
  pendingFor(source: string, except: string[] = []): Promise<ApprovalRequest> {
    return waitFor(`a pending request for ${source}`, async () =>
      (await this.gateway.approvals.list({ state: 'pending' })).find(
        (r) => (r.args as { source?: string }).source === source && !except.includes(r.id),
      ),
    );
  }

  private closing?: Promise<void>;

  /** Closes the clients and the gateway (once, however often it is called). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all(this.clients.map((c) => c.close().catch(() => {})));
      await this.gateway.close();
    })();
    return this.closing;
  }
}

/** Calls a tool and returns the raw result (no output-schema validation), with request options. */
function call(
  client: Client,
  name: string,
  args: Record<string, unknown>,
  options?: RequestOptions,
): Promise<CallToolResult> {
  return client.request(
    { method: 'tools/call', params: { name, arguments: args } },
    CallToolResultSchema,
    options,
  );
}

/** What the enforcement point said about its own answer (`_meta["mcpgov/decision"]`). */
function decisionMeta(result: CallToolResult): {
  id?: string;
  answer?: string;
  reason?: string;
  request?: string;
} {
  return (result._meta?.['mcpgov/decision'] ?? {}) as Record<string, string>;
}

/** A file with `content` in `folder`; returns its path and where a move would put it. */
async function file(
  work: string,
  folder: Folder,
  name: string,
): Promise<{ source: string; destination: string }> {
  const source = path.join(work, folder, name);
  await writeFile(source, `contents of ${name}`);
  return { source, destination: path.join(work, 'out', name) };
}

/** Action records (forwarded calls) of `fs__move_file`. */
function moves(records: EvidenceRecord[]): EvidenceRecord[] {
  return records.filter((r) => r.kind === 'action' && r.action?.tool === 'fs__move_file');
}

describe('approvals through the gateway and the real filesystem server', () => {
  let gw: Running;
  let work: string;
  let client: Client;
  const alice = () => approver('alice', gw.now(), { teams: ['platform-approvers'] });

  beforeAll(async () => {
    const f = await fixture();
    work = f.work;
    gw = await Running.start(f.fx);
    client = await gw.client();
  });
  afterAll(() => gw?.close());

  describe('hold mode', () => {
    it('performs a held move once, the moment it is approved, with progress while it waits', async () => {
      const move = await file(work, 'held', 'a.txt');
      const progress: Progress[] = [];
      const answer = call(client, 'fs__move_file', move, { onprogress: (p) => progress.push(p) });
      const request = await gw.pendingFor(move.source);
      expect(request).toMatchObject({
        mode: 'hold',
        tier: 'high',
        owner: 'platform',
        agent_owner: 'research',
        binding: { agent: 'dev', tool: 'fs__move_file' },
        reasons: ['move_needs_approval'],
        server: 'fs',
      });
      await waitFor('two progress notifications', () => progress.length >= 2);
      expect(existsSync(move.source)).toBe(true);

      const decided = await gw.gateway.approvals.decide(
        request.id,
        { verdict: 'approve', reason: 'tidying up', args_digest: request.binding.args_digest },
        alice(),
      );
      expect(decided.ok).toBe(true);
      const result = await answer;
      expect(result.isError).toBeFalsy();
      expect(textOf(result)).toMatch(/Successfully moved/);
      expect(existsSync(move.source)).toBe(false);
      expect(existsSync(move.destination)).toBe(true);

      expect(progress.every((p, i) => i === 0 || p.progress > (progress[i - 1]?.progress ?? 0))).toBe(true);
      expect(progress[0]).toMatchObject({
        progress: 0.2,
        message: `waiting 0.2 s for approval of request ${request.id}`,
      });

      const records = await gw.records();
      const [moved] = moves(records).filter((r) => r.action?.decision_id === request.decision_id);
      expect(moves(records).filter((r) => r.action?.decision_id === request.decision_id)).toHaveLength(1);
      expect(moved?.action).toMatchObject({ forwarded: true, is_error: false });
      const events = records.filter((r) => r.approval?.request === request.id).map((r) => r.approval?.event);
      expect(events).toEqual(['created', 'decided', 'grant_used']);
      expect(
        records.find((r) => r.approval?.event === 'grant_used' && r.approval.request === request.id)
          ?.approval,
      ).toMatchObject({ used_by: request.decision_id });
      // The grant was this held call's: nothing is left for a retry.
      expect((await gw.gateway.approvals.get(request.id))?.grant?.used_by).toBe(request.decision_id);
    });

    it("answers a denied held call with the approver's reason, and moves nothing", async () => {
      const move = await file(work, 'held', 'b.txt');
      const answer = call(client, 'fs__move_file', move);
      const request = await gw.pendingFor(move.source);
      await gw.gateway.approvals.decide(
        request.id,
        { verdict: 'deny', reason: 'not during the audit' },
        alice(),
      );
      const result = await answer;
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(
        new RegExp(
          `^Denied by policy: request ${request.id} was denied by alice: not during the audit \\(reason: approval_denied, `,
        ),
      );
      expect(decisionMeta(result)).toMatchObject({
        reason: 'approval_denied',
        request: request.id,
        id: request.decision_id,
      });
      expect(existsSync(move.source)).toBe(true);
      expect(existsSync(move.destination)).toBe(false);
      expect(moves(await gw.records()).filter((r) => r.action?.decision_id === request.decision_id)).toEqual(
        [],
      );
    });

    it('answers approval_timeout when nobody decides in time, and moves nothing', async () => {
      const move = await file(work, 'slow', 'c.txt');
      const result = await call(client, 'fs__move_file', move);
      expect(result.isError).toBe(true);
      expect(decisionMeta(result).reason).toBe('approval_timeout');
      expect(textOf(result)).toMatch(/nobody decided request .* before it expired/);
      const id = decisionMeta(result).request ?? '';
      expect((await gw.gateway.approvals.get(id))?.state).toBe('expired');
      expect(existsSync(move.source)).toBe(true);
      const refused = await gw.gateway.approvals.decide(id, { verdict: 'approve', reason: 'late' }, alice());
      expect(refused).toMatchObject({ ok: false, code: 'expired' });
      const events = (await gw.records())
        .filter((r) => r.approval?.request === id)
        .map((r) => r.approval?.event);
      expect(events).toEqual(['created', 'expired']);
    });

    it('withdraws the request when the client cancels the held call', async () => {
      const move = await file(work, 'held', 'd.txt');
      const cancel = new AbortController();
      const answer = call(client, 'fs__move_file', move, { signal: cancel.signal });
      const request = await gw.pendingFor(move.source);
      cancel.abort('the user gave up');
      await expect(answer).rejects.toThrow();
      // The withdrawal's record follows its state change.
      await waitFor('the withdrawal record', async () =>
        (await gw.records()).some(
          (r) => r.approval?.request === request.id && r.approval.event === 'withdrawn',
        ),
      );
      expect((await gw.gateway.approvals.get(request.id))?.state).toBe('withdrawn');
      const refused = await gw.gateway.approvals.decide(
        request.id,
        { verdict: 'approve', reason: 'ok' },
        alice(),
      );
      expect(refused).toMatchObject({ ok: false, code: 'not_pending' });
      const events = (await gw.records())
        .filter((r) => r.approval?.request === request.id)
        .map((r) => r.approval?.event);
      expect(events).toEqual(['created', 'withdrawn']);
      expect(existsSync(move.source)).toBe(true);
    });
  });

  describe('return mode', () => {
    it('answers approval_pending at once; once approved the same call moves once, and only that call', async () => {
      const move = await file(work, 'returned', 'e.txt');
      const first = await call(client, 'fs__move_file', move);
      expect(first.isError).toBe(true);
      const id = decisionMeta(first).request ?? '';
      expect(decisionMeta(first)).toMatchObject({ answer: 'held', reason: 'approval_pending' });
      expect(textOf(first)).toContain(`ask a person to approve request ${id}, then retry the same call`);
      const request = await gw.gateway.approvals.get(id);
      expect(request).toMatchObject({
        state: 'pending',
        mode: 'return',
        decision_id: decisionMeta(first).id,
      });

      const approved = await gw.gateway.approvals.decide(
        id,
        { verdict: 'approve', reason: 'ok to move', args_digest: request?.binding.args_digest },
        alice(),
      );
      expect(approved).toMatchObject({ ok: true, request: { state: 'approved' } });

      // Other arguments are another call: the grant is not theirs.
      const other = await call(client, 'fs__move_file', {
        ...move,
        destination: path.join(work, 'out', 'e2.txt'),
      });
      expect(decisionMeta(other).reason).toBe('approval_pending');
      expect(decisionMeta(other).request).not.toBe(id);
      expect((await gw.gateway.approvals.get(id))?.grant?.used_at).toBeUndefined();
      expect(existsSync(move.source)).toBe(true);

      const retry = await call(client, 'fs__move_file', move);
      expect(retry.isError).toBeFalsy();
      expect(existsSync(move.destination)).toBe(true);
      expect(existsSync(move.source)).toBe(false);

      // The grant was used once: the next identical call is pending again, under a new request.
      const again = await call(client, 'fs__move_file', move);
      expect(decisionMeta(again).reason).toBe('approval_pending');
      expect(decisionMeta(again).request).not.toBe(id);

      const records = await gw.records();
      const decisions = records.filter((r) => r.kind === 'decision' && r.request?.tool === 'fs__move_file');
      const granted = decisions.find((r) => r.decision?.approval?.request === id);
      expect(granted?.decision).toMatchObject({
        effect: 'allow',
        reasons: ['approval_granted', 'move_needs_approval'],
        approval: { request: id, grant_used: true },
      });
      expect(
        moves(records).filter((r) => r.action?.args_digest === request?.binding.args_digest),
      ).toHaveLength(1);
      const events = records.filter((r) => r.approval?.request === id).map((r) => r.approval?.event);
      expect(events).toEqual(['created', 'decided', 'grant_used']);
      expect(
        records.find((r) => r.approval?.request === id && r.approval.event === 'grant_used')?.approval
          ?.used_by,
      ).toBe(granted?.decision?.id);
    });
  });

  describe('who may approve', () => {
    it('refuses a critical approval without step-up, with a stale auth_time, or by the agent owner; nothing runs', async () => {
      const move = await file(work, 'critical', 'f.txt');
      const pending = await call(client, 'fs__move_file', move);
      const id = decisionMeta(pending).request ?? '';
      expect((await gw.gateway.approvals.get(id))?.tier).toBe('critical');
      const decide = (principal: ReturnType<typeof approver>) =>
        gw.gateway.approvals.decide(id, { verdict: 'approve', reason: 'fine' }, principal);

      const noStepUp = await decide(approver('alice', gw.now(), { approver: { amr: ['pwd'] } }));
      expect(noStepUp).toEqual({
        ok: false,
        code: 'step_up_required',
        message:
          'critical-tier approvals need a step-up authentication: the token carries none of amr mfa, amr hwk',
      });
      const stale = await decide(approver('alice', gw.now(), {}, 3600));
      expect(stale).toMatchObject({ ok: false, code: 'step_up_required' });
      expect(stale.ok ? '' : stale.message).toMatch(
        /within the last 300 s; this token's auth_time is \d+ s old: sign in again$/,
      );
      const noAuthTime = await decide(approver('alice', gw.now(), { approver: { auth_time: undefined } }));
      expect(noAuthTime.ok ? '' : noAuthTime.message).toMatch(/the token has no auth_time$/);
      const owner = await decide(approver('rita', gw.now(), { teams: ['research'] }));
      expect(owner).toEqual({
        ok: false,
        code: 'not_allowed',
        message:
          'separation of duties: rita belongs to research, which owns agent dev; another approver must decide',
      });

      expect((await gw.gateway.approvals.get(id))?.state).toBe('pending');
      const retry = await call(client, 'fs__move_file', move);
      expect(decisionMeta(retry).reason).toBe('approval_pending');
      expect(existsSync(move.source)).toBe(true);
      const records = await gw.records();
      expect(records.filter((r) => r.approval?.request === id).map((r) => r.approval?.event)).toEqual([
        'created',
      ]);
      const digest = (await gw.gateway.approvals.get(id))?.binding.args_digest;
      expect(moves(records).filter((r) => r.action?.args_digest === digest)).toEqual([]);

      // A stepped-up approver outside the agent's team may approve it.
      expect((await decide(alice())).ok).toBe(true);
      expect((await call(client, 'fs__move_file', move)).isError).toBeFalsy();
      expect(existsSync(move.destination)).toBe(true);
    });
  });

  describe('waivers', () => {
    it('lets matching denied and escalated calls through until the waiver expires, and names it', async () => {
      const locked = path.join(work, 'locked', 'notes.txt');
      const denied = await call(client, 'fs__write_file', { path: locked, content: 'v1' });
      expect(decisionMeta(denied).reason).toBe('write_locked');
      expect(existsSync(locked)).toBe(false);

      const writeWaiver = await gw.gateway.approvals.addWaiver(
        {
          agent: 'dev',
          tool: 'fs__write_*',
          args_match: { starts_with: [{ var: 'call.arguments.path' }, path.join(work, 'locked')] },
          until: '1h',
          reason: 'the notes are migrated into locked/ today',
          compensating: 'the migration is reviewed tomorrow',
        },
        alice(),
      );
      expect(writeWaiver.ok).toBe(true);
      const waiverId = writeWaiver.ok ? writeWaiver.waiver.id : '';
      const move = await file(work, 'returned', 'g.txt');
      const moveWaiver = await gw.gateway.approvals.addWaiver(
        {
          agent: 'dev',
          tool: 'fs__move_file',
          args_match: { '===': [{ var: 'call.arguments.source' }, move.source] },
          until: '30m',
          reason: 'g.txt moves without asking',
          compensating: 'none needed',
        },
        alice(),
      );
      const moveWaiverId = moveWaiver.ok ? moveWaiver.waiver.id : '';

      const written = await call(client, 'fs__write_file', { path: locked, content: 'v2' });
      expect(written.isError).toBeFalsy();
      expect(existsSync(locked)).toBe(true);
      // The waiver covers only what args_match says.
      const elsewhere = await call(client, 'fs__write_file', {
        path: path.join(work, 'held', 'x.txt'),
        content: 'x',
      });
      expect(elsewhere.isError).toBeFalsy();
      const moved = await call(client, 'fs__move_file', move);
      expect(moved.isError).toBeFalsy();
      expect(existsSync(move.destination)).toBe(true);
      const notCovered = await file(work, 'returned', 'h.txt');
      expect(decisionMeta(await call(client, 'fs__move_file', notCovered)).reason).toBe('approval_pending');

      let records = await gw.records();
      const waived = records.filter((r) => r.kind === 'decision' && r.decision?.waiver !== undefined);
      expect(
        waived.map((r) => [r.request?.tool, r.decision?.effect, r.decision?.reasons, r.decision?.waiver]),
      ).toEqual([
        ['fs__write_file', 'allow', ['waived', 'write_locked'], { id: waiverId, waived_effect: 'deny' }],
        [
          'fs__move_file',
          'allow',
          ['waived', 'move_needs_approval'],
          { id: moveWaiverId, waived_effect: 'escalate' },
        ],
      ]);
      const used = records.filter((r) => r.waiver?.event === 'used');
      expect(used.map((r) => [r.waiver?.waiver, r.waiver?.decision_id, r.waiver?.waived_effect])).toEqual([
        [waiverId, waived[0]?.decision?.id, 'deny'],
        [moveWaiverId, waived[1]?.decision?.id, 'escalate'],
      ]);

      // Thirty-one minutes on, the move's waiver has expired; an hour on, the write's.
      gw.offset += 31 * 60_000;
      const move2 = await file(work, 'returned', 'g.txt');
      expect(decisionMeta(await call(client, 'fs__move_file', move2)).reason).toBe('approval_pending');
      expect((await call(client, 'fs__write_file', { path: locked, content: 'v3' })).isError).toBeFalsy();
      gw.offset += 30 * 60_000;
      const after = await call(client, 'fs__write_file', { path: locked, content: 'v4' });
      expect(decisionMeta(after).reason).toBe('write_locked');
      expect(await gw.gateway.approvals.listWaivers({ active: true })).toEqual([]);

      await waitFor('both waiver expiry records', async () =>
        (await gw.records()).filter((r) => r.waiver?.event === 'expired').length === 2 ? true : undefined,
      );
      records = await gw.records();
      expect(
        records
          .filter((r) => r.waiver?.event === 'expired')
          .map((r) => r.waiver?.waiver)
          .sort(),
      ).toEqual([waiverId, moveWaiverId].sort());
    });
  });

  describe('evidence', () => {
    it('verifies with mcpgov evidence verify, and holds the approval and waiver records', async () => {
      await gw.close();
      const jwks = path.join(await mkdtemp(path.join(tmpdir(), 'mcpgov-keys-')), 'pinned.jwks.json');
      await cp(path.join(gw.fx.evidenceDir, 'keys/signing-key.jwks.json'), jwks);
      const { stdout } = await run(
        process.execPath,
        [CLI, 'evidence', 'verify', gw.fx.evidenceDir, '--jwks', jwks],
        {
          cwd: REPO,
        },
      );
      expect(stdout).toMatch(/^ok: .*the last covers every record/);
      const records = await readEvidence(gw.fx.evidenceDir);
      const approvalEvents = new Set(records.map((r) => r.approval?.event).filter(Boolean));
      expect([...approvalEvents].sort()).toEqual([
        'created',
        'decided',
        'expired',
        'grant_used',
        'withdrawn',
      ]);
      const waiverEvents = new Set(records.map((r) => r.waiver?.event).filter(Boolean));
      expect([...waiverEvents].sort()).toEqual(['created', 'expired', 'used']);
      expect(records.filter((r) => r.approval || r.waiver).every((r) => r.chain === 'approvals')).toBe(true);
    });
  });
});

describe('approvals across a gateway restart', () => {
  let fx: Fixture;
  let work: string;
  let gw: Running | undefined;

  beforeAll(async () => {
    ({ fx, work } = await fixture());
  });
  afterAll(() => gw?.close());

  it('answers a held call approval_interrupted at shutdown; after restart it is decided and works once', async () => {
    gw = await Running.start(fx);
    const client = await gw.client();
    const move = await file(work, 'held', 'r.txt');
    const answer = call(client, 'fs__move_file', move);
    const request = await gw.pendingFor(move.source);
    const closing = gw.gateway.close();
    const result = await answer;
    await closing;
    expect(decisionMeta(result)).toMatchObject({
      answer: 'held',
      reason: 'approval_interrupted',
      request: request.id,
    });
    expect(textOf(result)).toContain(
      `request ${request.id} stays open: once it is approved, retry the same call`,
    );
    expect(existsSync(move.source)).toBe(true);
    await Promise.all(gw.clients.map((c) => c.close().catch(() => {})));

    gw = await Running.start(fx);
    expect(await gw.gateway.approvals.get(request.id)).toMatchObject({ state: 'pending', interrupted: true });
    const decided = await gw.gateway.approvals.decide(
      request.id,
      { verdict: 'approve', reason: 'after the restart' },
      approver('alice', gw.now()),
    );
    expect(decided.ok).toBe(true);
    const client2 = await gw.client();
    const retry = await call(client2, 'fs__move_file', move);
    expect(retry.isError).toBeFalsy();
    expect(existsSync(move.destination)).toBe(true);
    const records = await gw.records();
    expect(records.filter((r) => r.approval?.request === request.id).map((r) => r.approval?.event)).toEqual([
      'created',
      'interrupted',
      'decided',
      'grant_used',
    ]);

    // Once: the same call again is held under a new request.
    await writeFile(move.source, 'a second r.txt');
    const again = call(client2, 'fs__move_file', move);
    const next = await gw.pendingFor(move.source, [request.id]);
    await gw.gateway.approvals.decide(
      next.id,
      { verdict: 'deny', reason: 'once is enough' },
      approver('alice', gw.now()),
    );
    expect(decisionMeta(await again)).toMatchObject({ reason: 'approval_denied', request: next.id });
    expect(existsSync(move.source)).toBe(true);
  });

  it('does not apply a grant under another policy bundle', async () => {
    gw ??= await Running.start(fx);
    const move = await file(work, 'returned', 's.txt');
    const pending = await call(await gw.client(), 'fs__move_file', move);
    const id = decisionMeta(pending).request ?? '';
    const before = (await gw.gateway.approvals.get(id))?.binding.bundle_digest;
    expect(before).toBe(gw.gateway.enforcer.policy.bundle.digest);
    expect(
      (
        await gw.gateway.approvals.decide(
          id,
          { verdict: 'approve', reason: 'ok' },
          approver('alice', gw.now()),
        )
      ).ok,
    ).toBe(true);
    await gw.close();

    // A new rule makes another bundle; the approval was given under the old one.
    await appendFile(
      path.join(fx.dir, 'policies/rules.yaml'),
      [
        '  - id: no-writes-in-out',
        '    description: nothing is written into out/ directly',
        '    when: { and: [{ "===": [{ var: call.name }, fs__write_file] }, { path_within: [{ var: call.arguments.path }, { var: paths.out }] }] }',
        '    effect: deny',
        '    reason: write_out',
        '',
      ].join('\n'),
    );
    gw = await Running.start(fx);
    expect(gw.gateway.enforcer.policy.bundle.digest).not.toBe(before);
    const retry = await call(await gw.client(), 'fs__move_file', move);
    expect(decisionMeta(retry).reason).toBe('approval_pending');
    expect(decisionMeta(retry).request).not.toBe(id);
    expect(existsSync(move.source)).toBe(true);
    expect((await gw.gateway.approvals.get(id))?.grant?.used_at).toBeUndefined();
  });
});
