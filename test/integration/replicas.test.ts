import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { JSONWebKeySet } from 'jose';
import { pepToken } from '../../src/control/evidence-stream.js';
import { readEvidence, readEvidenceLines } from '../../src/evidence/jsonl-store.js';
import { generatedKeyPaths } from '../../src/pep/open-evidence.js';
import { waitFor } from '../helpers/approvals.js';
import { APPROVER_ISSUER, approverKeys, type ApproverKeys } from '../helpers/approver-tokens.js';
import { CLI, REFERENCE_SERVERS, writeFixture, type Fixture } from '../helpers/fixture.js';
import { callTool, textOf } from '../helpers/gateway-harness.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { freshStreamName, NATS_SERVER, natsReachable, streamAdmin, subjectCounts } from '../helpers/nats.js';
import { REDIS, redisReachable } from '../helpers/redis.js';
import { dropSchemas, freshSchema, POSTGRES_URL, postgresReachable } from '../helpers/postgres.js';

const exec = promisify(execFile);
const what = 'the three-replica tests (Redis counters, PostgreSQL approvals, NATS evidence)';
// Each service is asked, so that a machine without them is told of every one missing.
const reachable = [await redisReachable(what), await postgresReachable(what), await natsReachable(what)];
const available = reachable.every(Boolean);

/** One replica: its config, and the process running it (replaced when it is restarted). */
interface Replica {
  name: string;
  fx: Fixture;
  process: GatewayProcess;
}

/** The agent's calls to the capped tool, allowed per minute across every replica. */
const RATE_CAP = 30;

describe.skipIf(!available)('three gateway replicas on shared Redis, PostgreSQL and NATS', () => {
  const work = path.join(tmpdir(), `mcpgov-replicas-${randomUUID()}`);
  const stream = freshStreamName();
  const streamUrl = `nats://${NATS_SERVER}?stream=${stream}`;
  const replicas: Replica[] = [];
  let keys: ApproverKeys;

  const moveFrom = (folder: string) => ({
    and: [
      { '===': [{ var: 'call.name' }, 'fs__move_file'] },
      { path_within: [{ var: 'call.arguments.source' }, { var: `paths.${folder}` }] },
    ],
  });

  beforeAll(async () => {
    for (const folder of ['held', 'returned', 'out'])
      await mkdir(path.join(work, folder), { recursive: true });
    keys = await approverKeys();
    const schema = await freshSchema();
    const state = {
      counters: `redis://${REDIS.host}:${REDIS.port}?prefix=mcpgov-test:${randomUUID()}:`,
      approvals: `${POSTGRES_URL}?schema=${schema}`,
      evidence_stream: streamUrl,
    };
    for (const name of ['a', 'b', 'c']) {
      const fx = await writeFixture({
        config: {
          mode: 'enforce',
          pep: { id: `replica-${name}` },
          identity: { default_agent: 'dev' },
          evidence: {
            dir: './evidence',
            fsync: 'batch',
            checkpoint: { every_records: 200, every_seconds: 1 },
          },
          paths: { held: path.join(work, 'held'), returned: path.join(work, 'returned') },
          servers: {
            fs: { command: 'node', args: [REFERENCE_SERVERS.filesystem, work] },
            everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] },
          },
          state,
          admin: { http: '127.0.0.1:0' },
          approvals: {
            mode: 'return',
            timeout: 600,
            progress_seconds: 0.2,
            jwks: keys.jwks,
            issuer: APPROVER_ISSUER,
            approvers: [{ sub: 'alice', teams: ['security'] }],
          },
        },
        tools: {
          tools: [
            {
              name: 'everything__get-sum',
              owner: 'platform',
              risk_tier: 'low',
              caps: { rate_per_minute: RATE_CAP },
            },
            { name: 'everything__echo', owner: 'platform', risk_tier: 'low' },
            { name: 'fs__move_file', owner: 'platform', risk_tier: 'high', scopes: ['fs.write'] },
            { name: 'fs__*', owner: 'platform', risk_tier: 'low', scopes: ['fs.read'] },
          ],
          groups: { all: ['everything__get-sum', 'everything__echo', 'fs__*'] },
        },
        agents: {
          agents: [{ id: 'dev', owner: 'research', tool_groups: ['all'], scopes: ['fs.read', 'fs.write'] }],
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
      replicas.push({ name, fx, process: await startGatewayProcess(fx.configFile) });
    }
    for (const r of replicas) await waitFor(`replica ${r.name}'s admin listener`, () => r.process.adminUrl());
  });

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.process.stop()));
    await dropSchemas();
    const admin = await streamAdmin().catch(() => undefined);
    await admin?.jsm.streams.delete(stream).catch(() => {});
    await admin?.close();
  });

  const clients: Client[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
  });

  async function client(r: Replica): Promise<Client> {
    const c = new Client({ name: 'test-agent', version: '0' });
    await c.connect(new StreamableHTTPClientTransport(new URL(r.process.url)));
    clients.push(c);
    return c;
  }

  /** One request to a replica's admin API as alice (an approver, freshly authenticated with MFA). */
  async function admin(
    r: Replica,
    method: string,
    route: string,
    body?: unknown,
  ): Promise<Record<string, unknown>> {
    const res = await fetch(`${r.process.adminUrl()}${route}`, {
      method,
      headers: { authorization: `Bearer ${await keys.sign()}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    expect(res.status, JSON.stringify(json)).toBe(200);
    return json;
  }

  function meta(result: CallToolResult): { answer?: string; reason?: string; request?: string } {
    return (result._meta?.['mcpgov/decision'] ?? {}) as Record<string, string>;
  }

  it('allows an agent capped at 30 calls a minute exactly 30, across all three replicas', async () => {
    const perReplica = await Promise.all(replicas.map((r) => client(r)));
    // 60 calls, 20 through each replica, all at once: round-robin, as a load balancer would send them.
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        callTool(perReplica[i % 3]!, 'everything__get-sum', { a: i, b: 1 }),
      ),
    );
    const allowed = results.filter((r) => !r.isError);
    expect(allowed).toHaveLength(RATE_CAP);
    for (const refused of results.filter((r) => r.isError)) expect(meta(refused).reason).toBe('rate_limited');

    // Each replica's own evidence agrees: 30 allowed decisions in all.
    let decided = 0;
    for (const r of replicas) {
      decided += (await readEvidence(r.fx.evidenceDir)).filter(
        (rec) =>
          rec.kind === 'decision' &&
          rec.request?.tool === 'everything__get-sum' &&
          rec.decision?.effect === 'allow',
      ).length;
    }
    expect(decided).toBe(RATE_CAP);
  });

  it('completes a call held on replica A once it is approved through replica B’s admin API', async () => {
    const [a, b] = replicas as [Replica, Replica];
    const source = path.join(work, 'held', 'a.txt');
    await writeFile(source, 'held on A');
    const destination = path.join(work, 'out', 'a.txt');
    const answer = callTool(await client(a), 'fs__move_file', { source, destination });

    const request = await waitFor('the held request, listed by replica B', async () => {
      const list = (await admin(b, 'GET', '/api/approvals?state=pending'))['requests'] as {
        id: string;
        mode: string;
        args: { source?: string };
        binding: { args_digest: string };
      }[];
      return list.find((r) => r.args.source === source);
    });
    expect(request.mode).toBe('hold');
    expect(existsSync(source)).toBe(true);
    await admin(b, 'POST', `/api/approvals/${request.id}/approve`, {
      reason: 'moving it is expected',
      args_digest: request.binding.args_digest,
    });
    const result = await answer;
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(textOf(result)).toMatch(/Successfully moved/);
    expect(existsSync(destination)).toBe(true);
  });

  it('lets exactly one of two replicas racing for a return-mode grant use it', async () => {
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    const source = path.join(work, 'returned', 'b.txt');
    await writeFile(source, 'returned');
    const args = { source, destination: path.join(work, 'out', 'b.txt') };
    const [clientA, clientB] = [await client(a), await client(b)];
    const first = await callTool(clientA, 'fs__move_file', args);
    expect(meta(first)).toMatchObject({ answer: 'held', reason: 'approval_pending' });
    const id = meta(first).request ?? '';
    const shown = (await admin(c, 'GET', `/api/approvals/${id}`))['request'] as {
      binding: { args_digest: string };
    };
    await admin(c, 'POST', `/api/approvals/${id}/approve`, {
      reason: 'ok to move',
      args_digest: shown.binding.args_digest,
    });

    const results = await Promise.all([
      callTool(clientA, 'fs__move_file', args),
      callTool(clientB, 'fs__move_file', args),
    ]);
    const performed = results.filter((r) => !r.isError);
    expect(performed).toHaveLength(1);
    expect(textOf(performed[0]!)).toMatch(/Successfully moved/);
    const refused = results.find((r) => r.isError)!;
    expect(meta(refused).reason).toBe('approval_pending');
    expect(meta(refused).request).not.toBe(id);
    expect(existsSync(args.destination)).toBe(true);
  });

  it('after kill -9 of a replica under 16 callers and its restart, the stream holds every record once; pull and verify pass', async () => {
    const stopAt = { done: false };
    const succeeded = new Map<string, number>(replicas.map((r) => [r.name, 0]));
    const failed = new Map<string, number>(replicas.map((r) => [r.name, 0]));
    // 16 callers, each bound to one replica (round-robin), each calling until told to stop; a caller
    // whose replica is gone keeps trying, with a new session once it is back.
    const callers = Array.from({ length: 16 }, async (_, i) => {
      const r = replicas[i % 3]!;
      let c: Client | undefined;
      for (let n = 0; !stopAt.done; n++) {
        try {
          c ??= await client(r);
          const result = await callTool(c, 'everything__echo', { message: `caller ${i} call ${n}` });
          expect(result.isError, textOf(result)).toBeFalsy();
          succeeded.set(r.name, succeeded.get(r.name)! + 1);
        } catch (err) {
          if ((err as Error).name === 'AssertionError') throw err;
          failed.set(r.name, failed.get(r.name)! + 1);
          await c?.close().catch(() => {});
          c = undefined;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    });

    const a = replicas[0]!;
    await waitFor('calls through every replica', () => [...succeeded.values()].every((n) => n >= 20), 60_000);
    a.process.child.kill('SIGKILL');
    await a.process.exited;
    const beforeRestart = succeeded.get('a')!;
    await waitFor('callers of the killed replica failing', () => failed.get('a')! > 0, 60_000);
    a.process = await startGatewayProcess(a.fx.configFile);
    await waitFor(
      'calls through the restarted replica',
      () => succeeded.get('a')! >= beforeRestart + 20,
      60_000,
    );
    stopAt.done = true;
    await Promise.all(callers);
    // An orderly stop of all three: each sends its last records and final checkpoint to the stream.
    await Promise.all(replicas.map((r) => r.process.stop()));

    const admin = await streamAdmin();
    try {
      const counts = await subjectCounts(admin.jsm, stream);
      for (const r of replicas) {
        const local = await readEvidenceLines(r.fx.evidenceDir);
        expect(counts[`${stream}.${pepToken(`replica-${r.name}`)}.records`], `replica ${r.name}`).toBe(
          local.length,
        );
      }
    } finally {
      await admin.close();
    }

    const out = await mkdtemp(path.join(tmpdir(), 'mcpgov-pull-'));
    const pulled = await exec(process.execPath, [
      CLI,
      'evidence',
      'pull',
      '--stream',
      streamUrl,
      '--out',
      out,
    ]);
    const jwks: JSONWebKeySet = { keys: [] };
    for (const r of replicas) {
      const local = await readEvidenceLines(r.fx.evidenceDir);
      // Rebuilt byte for byte: every record exactly once, in order.
      const rebuilt = path.join(out, 'peps', pepToken(`replica-${r.name}`));
      expect(await readEvidenceLines(rebuilt), `replica ${r.name}`).toEqual(local);
      expect(pulled.stdout).toContain(`pulled replica-${r.name}: ${local.length} records`);
      const own = JSON.parse(
        await readFile(generatedKeyPaths(r.fx.evidenceDir).publicJwks, 'utf8'),
      ) as JSONWebKeySet;
      jwks.keys.push(...own.keys);
      // Every call a client saw succeed has its decision record there.
      const allowed = (await readEvidence(rebuilt)).filter(
        (rec) =>
          rec.kind === 'decision' &&
          rec.request?.tool === 'everything__echo' &&
          rec.decision?.effect === 'allow',
      );
      expect(allowed.length).toBeGreaterThanOrEqual(succeeded.get(r.name)!);
    }
    const keysFile = path.join(out, 'pinned.jwks.json');
    await writeFile(keysFile, JSON.stringify(jwks));
    const verified = await exec(process.execPath, [CLI, 'evidence', 'verify', out, '--jwks', keysFile]);
    for (const r of replicas) {
      expect(verified.stdout).toContain(`ok: ${path.join(out, 'peps', pepToken(`replica-${r.name}`))}`);
    }
  });
});
