import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { CallToolResultSchema, type CallToolResult, type Progress } from '@modelcontextprotocol/sdk/types.js';
import { LowdbApprovalStore } from '../../src/approvals/lowdb-store.js';
import type { ApprovalRequest } from '../../src/approvals/types.js';
import { loadConfig } from '../../src/config/load-config.js';
import { readEvidence } from '../../src/evidence/jsonl-store.js';
import { readJwks } from '../../src/evidence/signer.js';
import type { EvidenceRecord } from '../../src/evidence/types.js';
import { verifyLogDir } from '../../src/evidence/verify.js';
import { LineStdioClientTransport } from '../../src/transport/stdio-client.js';
import { silentLogger } from '../../src/util/log.js';
import { startSidecar, type Sidecar } from '../../mcp-sidecar/sidecar.js';
import { approver, verdict, waitFor } from '../helpers/approvals.js';
import { CLI, REFERENCE_SERVERS, writeFixture, type Fixture } from '../helpers/fixture.js';
import { textOf } from '../helpers/gateway-harness.js';

/**
 * A sidecar around the real filesystem server (tool names unprefixed). Every `move_file` escalates in
 * enforce mode: out of `held/` the call is held for a person, out of `returned/` it is answered at
 * once and retried after approval.
 */
async function fixture(): Promise<{ fx: Fixture; work: string }> {
  const work = await mkdtemp(path.join(tmpdir(), 'mcpgov-approvals-sidecar-fs-'));
  for (const folder of ['held', 'returned', 'out']) await mkdir(path.join(work, folder));
  const moveFrom = (folder: string) => ({
    and: [
      { '===': [{ var: 'call.name' }, 'move_file'] },
      { path_within: [{ var: 'call.arguments.source' }, { var: `paths.${folder}` }] },
    ],
  });
  const fx = await writeFixture({
    config: {
      mode: 'enforce',
      identity: { default_agent: 'dev' },
      paths: { held: path.join(work, 'held'), returned: path.join(work, 'returned') },
      approvals: { mode: 'return', timeout: 600, progress_seconds: 0.2 },
    },
    tools: {
      tools: [
        { name: 'move_file', owner: 'platform', risk_tier: 'high', scopes: ['fs.write'] },
        { name: '*', owner: 'platform', risk_tier: 'low', scopes: ['fs.read'] },
      ],
      groups: { fs: ['*'] },
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
        id: 'move-returned',
        description: 'a move out of returned/ is approved, then retried',
        when: moveFrom('returned'),
        effect: 'escalate',
        reason: 'move_needs_approval',
        approval: { mode: 'return' },
      },
    ],
  });
  return { fx, work };
}

function call(
  client: Client,
  args: Record<string, unknown>,
  options?: RequestOptions,
): Promise<CallToolResult> {
  return client.request(
    { method: 'tools/call', params: { name: 'move_file', arguments: args } },
    CallToolResultSchema,
    options,
  );
}

function decisionMeta(result: CallToolResult): { id?: string; reason?: string; request?: string } {
  return (result._meta?.['mcpgov/decision'] ?? {}) as Record<string, string>;
}

async function file(work: string, folder: 'held' | 'returned', name: string) {
  const source = path.join(work, folder, name);
  await writeFile(source, `contents of ${name}`);
  return { source, destination: path.join(work, 'out', name) };
}

/** The pending request for a move out of `source`, once `list` shows one. */
function pendingFor(list: () => Promise<ApprovalRequest[]>, source: string): Promise<ApprovalRequest> {
  return waitFor(`a pending request for ${source}`, async () =>
    (await list()).find((r) => r.state === 'pending' && (r.args as { source?: string }).source === source),
  );
}

function eventsOf(records: EvidenceRecord[], request: string): (string | undefined)[] {
  return records.filter((r) => r.approval?.request === request).map((r) => r.approval?.event);
}

function movesOf(records: EvidenceRecord[], argsDigest: string): EvidenceRecord[] {
  return records.filter(
    (r) => r.kind === 'action' && r.action?.tool === 'move_file' && r.action.args_digest === argsDigest,
  );
}

async function verified(fx: Fixture) {
  const jwks = await readJwks(path.join(fx.evidenceDir, 'keys/signing-key.jwks.json'));
  return verifyLogDir(fx.evidenceDir, jwks);
}

describe('approvals through the in-process sidecar (govern)', () => {
  let sidecar: Sidecar;
  let client: Client;
  let work: string;
  let fx: Fixture;
  const alice = () => approver('alice', Date.now());
  const records = async () => {
    await sidecar.evidence.flush();
    return readEvidence(fx.evidenceDir);
  };

  beforeAll(async () => {
    ({ fx, work } = await fixture());
    sidecar = await startSidecar({ config: await loadConfig(fx.configFile), log: silentLogger });
    client = new Client({ name: 'agent', version: '0' });
    const transport = new LineStdioClientTransport({
      command: process.execPath,
      args: [REFERENCE_SERVERS.filesystem, work],
    });
    await client.connect(await sidecar.govern(transport, { server: 'fs' }));
  });
  afterAll(async () => {
    await client?.close();
    await sidecar?.close();
  });

  it('performs a held move once, the moment it is approved, with progress while it waits', async () => {
    const move = await file(work, 'held', 'a.txt');
    const progress: Progress[] = [];
    const answer = call(client, move, { onprogress: (p) => progress.push(p) });
    const request = await pendingFor(() => sidecar.approvals.list(), move.source);
    expect(request).toMatchObject({
      mode: 'hold',
      binding: { agent: 'dev', tool: 'move_file' },
      server: 'fs',
    });
    await waitFor('two progress notifications', () => progress.length >= 2);
    expect(
      (await sidecar.approvals.decide(request.id, { verdict: 'approve', reason: 'ok' }, alice())).ok,
    ).toBe(true);
    const result = await answer;
    expect(result.isError).toBeFalsy();
    expect(existsSync(move.destination)).toBe(true);
    expect(existsSync(move.source)).toBe(false);
    expect(progress.every((p, i) => i === 0 || p.progress > (progress[i - 1]?.progress ?? 0))).toBe(true);
    const r = await records();
    expect(movesOf(r, request.binding.args_digest)).toHaveLength(1);
    expect(eventsOf(r, request.id)).toEqual(['created', 'decided', 'grant_used']);
  });

  it("answers a denied held call with the approver's reason, and moves nothing", async () => {
    const move = await file(work, 'held', 'b.txt');
    const answer = call(client, move);
    const request = await pendingFor(() => sidecar.approvals.list(), move.source);
    await sidecar.approvals.decide(request.id, { verdict: 'deny', reason: 'not today' }, alice());
    const result = await answer;
    expect(decisionMeta(result)).toMatchObject({ reason: 'approval_denied', request: request.id });
    expect(textOf(result)).toContain(`request ${request.id} was denied by alice: not today`);
    expect(existsSync(move.source)).toBe(true);
    expect(movesOf(await records(), request.binding.args_digest)).toEqual([]);
  });

  it('withdraws the request when the client cancels the held call', async () => {
    const move = await file(work, 'held', 'c.txt');
    const cancel = new AbortController();
    const answer = call(client, move, { signal: cancel.signal });
    const request = await pendingFor(() => sidecar.approvals.list(), move.source);
    cancel.abort('gave up');
    await expect(answer).rejects.toThrow();
    // The withdrawal's record follows its state change.
    await waitFor('the withdrawal record', async () =>
      eventsOf(await records(), request.id).includes('withdrawn'),
    );
    expect((await sidecar.approvals.get(request.id))?.state).toBe('withdrawn');
    expect(eventsOf(await records(), request.id)).toEqual(['created', 'withdrawn']);
    expect(existsSync(move.source)).toBe(true);
  });

  it('answers approval_pending; once approved the same call moves once, other arguments and a second retry do not', async () => {
    const move = await file(work, 'returned', 'd.txt');
    const first = await call(client, move);
    const id = decisionMeta(first).request ?? '';
    expect(decisionMeta(first).reason).toBe('approval_pending');
    expect(textOf(first)).toContain(`ask a person to approve request ${id}, then retry the same call`);
    const request = await sidecar.approvals.get(id);
    expect(
      (
        await sidecar.approvals.decide(
          id,
          { verdict: 'approve', reason: 'ok', args_digest: request?.binding.args_digest },
          alice(),
        )
      ).ok,
    ).toBe(true);

    const other = await call(client, { ...move, destination: path.join(work, 'out', 'elsewhere.txt') });
    expect(decisionMeta(other).reason).toBe('approval_pending');
    expect(existsSync(move.source)).toBe(true);

    const retry = await call(client, move);
    expect(retry.isError).toBeFalsy();
    expect(existsSync(move.destination)).toBe(true);
    const again = await call(client, move);
    expect(decisionMeta(again).reason).toBe('approval_pending');
    expect(decisionMeta(again).request).not.toBe(id);

    const r = await records();
    expect(movesOf(r, request?.binding.args_digest ?? '')).toHaveLength(1);
    expect(eventsOf(r, id)).toEqual(['created', 'decided', 'grant_used']);
  });
});

describe('approvals through the stdio wrapper (mcpgov sidecar -- server-filesystem)', () => {
  let client: Client;
  let fx: Fixture;
  let work: string;
  /** The wrapper's approval store, opened by this process as a CLI deciding offline would open it. */
  let store: LowdbApprovalStore;

  /** A verdict written straight into the shared store, by another process than the wrapper. */
  async function decide(id: string, kind: 'approve' | 'deny', reason: string) {
    const now = Date.now();
    const result = await store.decide(
      id,
      { ...verdict(kind, now, 'olga'), reason, approver: { sub: 'olga', via: 'cli' } },
      now,
      new Date(now + 900_000).toISOString(),
    );
    expect(result.ok).toBe(true);
  }

  beforeAll(async () => {
    ({ fx, work } = await fixture());
    client = new Client({ name: 'test-agent', version: '0' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [
          CLI,
          'sidecar',
          '--config',
          fx.configFile,
          '--name',
          'fs',
          '--',
          'node',
          REFERENCE_SERVERS.filesystem,
          work,
        ],
        stderr: 'ignore',
      }),
    );
    store = await LowdbApprovalStore.open(path.join(fx.dir, 'state'));
  });
  afterAll(async () => {
    await client?.close();
    await store?.close();
  });

  it('releases a held move when another process approves it, and moves once', async () => {
    const move = await file(work, 'held', 'e.txt');
    const progress: Progress[] = [];
    const answer = call(client, move, { onprogress: (p) => progress.push(p) });
    const request = await pendingFor(() => store.list(), move.source);
    await waitFor('a progress notification', () => progress.length >= 1);
    await decide(request.id, 'approve', 'fine by me');
    const result = await answer;
    expect(result.isError).toBeFalsy();
    expect(existsSync(move.destination)).toBe(true);
    expect(existsSync(move.source)).toBe(false);
    expect(await store.get(request.id)).toMatchObject({ grant: { used_by: request.decision_id } });
    // The wrapper recorded the verdict it did not give, and tells the store so at its next sweep.
    await waitFor('the verdict marked recorded', async () => (await store.get(request.id))?.verdict_recorded);
  });

  it("answers a held move denied by another process with the approver's reason", async () => {
    const move = await file(work, 'held', 'f.txt');
    const answer = call(client, move);
    const request = await pendingFor(() => store.list(), move.source);
    await decide(request.id, 'deny', 'wrong folder');
    const result = await answer;
    expect(decisionMeta(result).reason).toBe('approval_denied');
    expect(textOf(result)).toContain('was denied by olga: wrong folder');
    expect(existsSync(move.source)).toBe(true);
  });

  it('moves a returned call once after approval; a second retry is pending again', async () => {
    const move = await file(work, 'returned', 'g.txt');
    const first = await call(client, move);
    const id = decisionMeta(first).request ?? '';
    expect(decisionMeta(first).reason).toBe('approval_pending');
    await decide(id, 'approve', 'go');
    const retry = await call(client, move);
    expect(retry.isError).toBeFalsy();
    expect(existsSync(move.destination)).toBe(true);
    const again = await call(client, move);
    expect(decisionMeta(again).reason).toBe('approval_pending');
    expect(decisionMeta(again).request).not.toBe(id);
  });

  it("keeps every approval event in the wrapper's own verifiable log", async () => {
    await client.close();
    await waitFor('the wrapper to seal its log', async () => (await verified(fx).catch(() => undefined))?.ok);
    const records = await readEvidence(fx.evidenceDir);
    const requests = [...new Set(records.flatMap((r) => (r.approval ? [r.approval.request] : [])))];
    const lives = requests.map((id) => eventsOf(records, id));
    expect(lives).toEqual([
      ['created', 'decided', 'grant_used'],
      ['created', 'decided'],
      ['created', 'decided', 'grant_used'],
      ['created'],
    ]);
    const decided = records.filter((r) => r.approval?.event === 'decided');
    expect(decided.map((r) => r.approval?.approver?.sub)).toEqual(['olga', 'olga', 'olga']);
    expect(records.filter((r) => r.approval).every((r) => r.pep.kind === 'sidecar')).toBe(true);
  });
});

describe('cancellation through the in-process sidecar', () => {
  let sidecar: Sidecar;
  let client: Client;
  let fx: Fixture;

  beforeAll(async () => {
    fx = await writeFixture({
      config: {
        mode: 'enforce',
        identity: { default_agent: 'dev' },
        // One call in flight per session: a call whose place is never freed blocks every later one.
        limits: { max_concurrent_calls_per_session: 1 },
      },
      tools: { tools: [{ name: '*', owner: 'platform', risk_tier: 'low' }], groups: { all: ['*'] } },
      agents: { agents: [{ id: 'dev', owner: 'research', tool_groups: ['all'] }] },
      rules: [
        {
          id: 'sums-wait',
          description: 'sums wait for a person',
          when: { '===': [{ var: 'call.name' }, 'get-sum'] },
          effect: 'escalate',
          reason: 'sum_needs_approval',
          approval: { mode: 'hold' },
        },
      ],
    });
    sidecar = await startSidecar({ config: await loadConfig(fx.configFile), log: silentLogger });
    client = new Client({ name: 'agent', version: '0' });
    const transport = new LineStdioClientTransport({
      command: process.execPath,
      args: [REFERENCE_SERVERS.everything, 'stdio'],
    });
    await client.connect(await sidecar.govern(transport, { server: 'everything' }));
  });
  afterAll(async () => {
    await client?.close();
    await sidecar?.close();
  });

  /**
   * Echoes once the session's one place for a call in flight is free again: a place never freed fails
   * here (the cancelled call's end frees it a moment after its request is withdrawn).
   */
  const echoWhenFree = (message: string) =>
    waitFor(
      'a free place for a call',
      async () => {
        try {
          return await client.request(
            { method: 'tools/call', params: { name: 'echo', arguments: { message } } },
            CallToolResultSchema,
          );
        } catch (err) {
          if (/too many calls in flight/.test((err as Error).message)) return undefined;
          throw err;
        }
      },
      10_000,
    );

  it('frees the place of a held call the client cancelled', async () => {
    const cancel = new AbortController();
    const held = client.request(
      { method: 'tools/call', params: { name: 'get-sum', arguments: { a: 1, b: 2 } } },
      CallToolResultSchema,
      { signal: cancel.signal },
    );
    const request = await waitFor('a pending request', async () => (await sidecar.approvals.list())[0]);
    cancel.abort();
    await expect(held).rejects.toThrow();
    await waitFor(
      'the request to be withdrawn',
      async () => (await sidecar.approvals.get(request.id))?.state === 'withdrawn',
    );
    expect(textOf(await echoWhenFree('after the held call'))).toContain('after the held call');
  });

  it('frees the place of a forwarded call the client cancelled, and records it', async () => {
    const cancel = new AbortController();
    const progress: Progress[] = [];
    const running = client.request(
      {
        method: 'tools/call',
        params: { name: 'trigger-long-running-operation', arguments: { duration: 60, steps: 60 } },
      },
      CallToolResultSchema,
      { signal: cancel.signal, onprogress: (p) => progress.push(p) },
    );
    // A progress notification from the server: the call is running downstream.
    await waitFor('the server to report progress', () => progress.length >= 1);
    cancel.abort();
    await expect(running).rejects.toThrow();
    expect(textOf(await echoWhenFree('after the cancelled call'))).toContain('after the cancelled call');
    await sidecar.evidence.flush();
    const action = (await readEvidence(fx.evidenceDir)).find(
      (r) => r.kind === 'action' && r.action?.tool === 'trigger-long-running-operation',
    );
    expect(action?.action).toMatchObject({
      forwarded: true,
      is_error: true,
      error: { message: 'the client cancelled the call' },
    });
  });
});
