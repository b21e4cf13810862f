import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import {
  ApprovalSchemaError,
  checkSchema,
  migrate,
  SCHEMA_VERSION,
} from '../../src/approvals/postgres-migrations.js';
import { PostgresApprovalStore } from '../../src/approvals/postgres-store.js';
import type { ApprovalRequest } from '../../src/approvals/types.js';
import { dbCommand } from '../../src/cli/db.js';
import { loadConfig } from '../../src/config/load-config.js';
import { silentLogger } from '../../src/util/log.js';
import { startGateway, type Gateway } from '../../mcp-gateway/gateway.js';
import { approver, BINDING, pendingRequest, verdict, waitFor } from '../helpers/approvals.js';
import { REFERENCE_SERVERS, writeFixture } from '../helpers/fixture.js';
import { textOf } from '../helpers/gateway-harness.js';
import {
  adminQuery,
  dropSchemas,
  freshSchema,
  openPostgresStore,
  POSTGRES_URL,
  postgresReachable,
} from '../helpers/postgres.js';

const HOUR = 3_600_000;
const reachable = await postgresReachable('the PostgreSQL approvals tests (store across replicas, gateways)');
const opened: { close(): Promise<void> }[] = [];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});
afterAll(dropSchemas);

async function store(schema: string): Promise<PostgresApprovalStore> {
  const s = await openPostgresStore(schema);
  opened.push(s);
  return s;
}

describe.runIf(reachable)('PostgreSQL approval store: migrations', () => {
  it('migrates a new schema to this version, and a second run changes nothing', async () => {
    const schema = await freshSchema(false);
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
    try {
      expect(await migrate(pool, schema)).toEqual({ from: 0, to: SCHEMA_VERSION, applied: [1] });
      expect(await migrate(pool, schema)).toEqual({ from: SCHEMA_VERSION, to: SCHEMA_VERSION, applied: [] });
      await checkSchema(pool, schema);
      // Concurrent runs (replicas of one deploy) take turns: one applies, the others find it done.
      const other = await freshSchema(false);
      const runs = await Promise.all([1, 2, 3].map(() => migrate(pool, other)));
      expect(runs.map((r) => r.applied.length).sort()).toEqual([0, 0, 1]);
    } finally {
      await pool.end();
    }
  });

  it('refuses to open an unmigrated schema, or one newer than this build, saying what to do', async () => {
    const bare = await freshSchema(false);
    await expect(openPostgresStore(bare)).rejects.toThrow(ApprovalSchemaError);
    await expect(openPostgresStore(bare)).rejects.toThrow(
      /at version 0, this build needs 1: run `mcpgov db migrate/,
    );

    const newer = await freshSchema();
    await adminQuery(
      `INSERT INTO "${newer}".schema_migrations (version, name) VALUES (${SCHEMA_VERSION + 1}, 'future')`,
    );
    await expect(openPostgresStore(newer)).rejects.toThrow(/newer than this build's 1/);
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
    try {
      await expect(migrate(pool, newer)).rejects.toThrow(/never migrated down/);
    } finally {
      await pool.end();
    }
  });

  it('migrates through `mcpgov db migrate --url`, and `db check` then passes', async () => {
    const schema = await freshSchema(false);
    const url = `${POSTGRES_URL}?schema=${schema}`;
    const opts = { config: 'mcpgov.yaml', url };
    await expect(dbCommand('check', opts)).rejects.toThrow(/run `mcpgov db migrate/);
    expect(await dbCommand('migrate', opts)).toBe(0);
    expect(await dbCommand('migrate', opts)).toBe(0);
    expect(await dbCommand('check', opts)).toBe(0);
  });

  it('fails at once, not hanging, when nothing answers at the address', async () => {
    // A port nothing listens on: the connection is refused (the connect timeout bounds the other case).
    const closed = await new Promise<number>((resolve) => {
      const srv = net.createServer();
      srv.listen(0, '127.0.0.1', () => {
        const port = (srv.address() as { port: number }).port;
        srv.close(() => resolve(port));
      });
    });
    await expect(
      PostgresApprovalStore.open({ url: `postgres://postgres@127.0.0.1:${closed}/test` }),
    ).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe.runIf(reachable)('PostgreSQL approval store: two replicas', () => {
  it('tells the replica holding a call of a verdict given through the other (NOTIFY), once', async () => {
    const schema = await freshSchema();
    const [a, b] = [await store(schema), await store(schema)];
    const seenA: ApprovalRequest[] = [];
    const seenB: ApprovalRequest[] = [];
    a.onVerdict((r) => seenA.push(r));
    b.onVerdict((r) => seenB.push(r));
    const now = Date.now();
    const request = pendingRequest({ mode: 'hold' }, now);
    await a.create(request);
    expect(
      await b.decide(request.id, verdict('approve', now), now, new Date(now + HOUR).toISOString()),
    ).toMatchObject({
      ok: true,
    });
    const told = await waitFor('replica A to hear of the verdict', () => seenA[0]);
    expect(told).toMatchObject({ id: request.id, state: 'approved' });
    // B told its listeners when it decided, and not again when its own NOTIFY came back: a second
    // verdict's NOTIFY, heard by both, shows the first one has been delivered.
    const second = pendingRequest({}, now);
    await a.create(second);
    await a.decide(second.id, verdict('deny', now), now, new Date(now).toISOString());
    await waitFor('replica B to hear of the second verdict', () => seenB.length >= 2);
    await waitFor('replica A to have told the second verdict', () => seenA.length >= 2);
    expect(seenB.map((r) => r.id)).toEqual([request.id, second.id]);
    expect(seenA.map((r) => r.id)).toEqual([request.id, second.id]);
  });

  it('hears verdicts again after its listening connection is cut', async () => {
    const schema = await freshSchema();
    const [a, b] = [await store(schema), await store(schema)];
    const seen: ApprovalRequest[] = [];
    a.onVerdict((r) => seen.push(r));
    const listening = async () =>
      (
        await adminQuery(
          `SELECT pid FROM pg_stat_activity WHERE application_name = '${schema}' AND query = 'LISTEN mcpgov_approvals'`,
        )
      ).rows as { pid: number }[];
    const before = (await listening()).map((r) => r.pid);
    await adminQuery(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid IN (${before.join(',')})`,
    );
    // Both stores listen again (each on a new connection).
    await waitFor('both stores to listen again', async () => {
      const now = (await listening()).map((r) => r.pid);
      return now.filter((pid) => !before.includes(pid)).length >= 2;
    });
    const now = Date.now();
    const request = pendingRequest({ mode: 'hold' }, now);
    await a.create(request);
    await b.decide(request.id, verdict('approve', now), now, new Date(now + HOUR).toISOString());
    expect(await waitFor('replica A to hear of the verdict', () => seen[0])).toMatchObject({
      id: request.id,
    });
  });

  it('hears a verdict given while its listening connection was down, once', async () => {
    const schema = await freshSchema();
    const [a, b] = [await store(schema), await store(schema)];
    const seen: ApprovalRequest[] = [];
    a.onVerdict((r) => seen.push(r));
    const now = Date.now();
    const request = pendingRequest({ mode: 'hold' }, now);
    await a.create(request);
    // Cut A's listening connection, and decide through B before A can listen again: A hears of it by
    // looking up what was decided while it was away (or by the NOTIFY, when it was quicker).
    await adminQuery(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE application_name = '${schema}' AND query = 'LISTEN mcpgov_approvals'`,
    );
    await b.decide(request.id, verdict('approve', now), now, new Date(now + HOUR).toISOString());
    expect(await waitFor('replica A to hear of the verdict', () => seen[0])).toMatchObject({
      id: request.id,
    });
    // Once: a later verdict, heard after it, is the only other one told.
    const later = pendingRequest({}, now);
    await a.create(later);
    await b.decide(later.id, verdict('deny', now), now, new Date(now).toISOString());
    await waitFor('replica A to hear of the later verdict', () => seen.length >= 2);
    expect(seen.map((r) => r.id)).toEqual([request.id, later.id]);
  });

  it('uses a grant exactly once when many callers on both replicas race for it', async () => {
    const schema = await freshSchema();
    const [a, b] = [await store(schema), await store(schema)];
    const now = Date.now();
    for (let round = 0; round < 5; round++) {
      const request = pendingRequest({}, now);
      await a.create(request);
      await b.decide(request.id, verdict('approve', now), now, new Date(now + HOUR).toISOString());
      const uses = await Promise.all(
        Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).useGrant(BINDING, `decision-${round}-${i}`, now)),
      );
      const used = uses.filter((u): u is ApprovalRequest => u !== undefined);
      expect(used.map((u) => u.id)).toEqual([request.id]);
      expect((await a.get(request.id))?.grant?.used_by).toBe(used[0]?.grant?.used_by);
    }
  });
});

/**
 * Two gateways (replicas) over the real filesystem server in one folder, each with its own evidence
 * folder, sharing approvals in one PostgreSQL schema. A move out of held/ waits for a person; a move
 * out of returned/ answers approval_pending and is retried once approved.
 */
async function replicas(
  url = POSTGRES_URL,
  migrated = true,
): Promise<{ a: Replica; b: Replica; work: string }> {
  const schema = await freshSchema(migrated);
  const work = await mkdtemp(path.join(tmpdir(), 'mcpgov-pg-fs-'));
  for (const folder of ['held', 'returned', 'out']) await mkdir(path.join(work, folder));
  const moveFrom = (folder: string) => ({
    and: [
      { '===': [{ var: 'call.name' }, 'fs__move_file'] },
      { path_within: [{ var: 'call.arguments.source' }, { var: `paths.${folder}` }] },
    ],
  });
  const spec = {
    config: {
      mode: 'enforce',
      identity: { default_agent: 'dev' },
      paths: { held: path.join(work, 'held'), returned: path.join(work, 'returned') },
      servers: { fs: { command: 'node', args: [REFERENCE_SERVERS.filesystem, work] } },
      approvals: { mode: 'return', timeout: 600, grant_seconds: 900, progress_seconds: 0.2 },
      state: { approvals: `${url}?schema=${schema}` },
    },
    tools: {
      tools: [
        { name: 'fs__move_file', owner: 'platform', risk_tier: 'high', scopes: ['fs.write'] },
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
        id: 'move-returned',
        description: 'a move out of returned/ is approved, then retried',
        when: moveFrom('returned'),
        effect: 'escalate',
        reason: 'move_needs_approval',
        approval: { mode: 'return' },
      },
    ],
  };
  const a = await Replica.start(await writeFixture(spec));
  const b = await Replica.start(await writeFixture(spec));
  return { a, b, work };
}

/** One gateway replica on a free loopback port, and its clients. */
class Replica {
  private readonly clients: Client[] = [];
  private constructor(readonly gateway: Gateway) {}

  static async start(fx: { configFile: string }): Promise<Replica> {
    const gateway = await startGateway({
      config: await loadConfig(fx.configFile),
      http: '127.0.0.1:0',
      log: silentLogger,
    });
    const replica = new Replica(gateway);
    opened.push(replica);
    return replica;
  }

  async client(): Promise<Client> {
    const client = new Client({ name: 'test-agent', version: '0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(this.gateway.httpUrl ?? '')));
    this.clients.push(client);
    return client;
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close().catch(() => {})));
    await this.gateway.close();
  }
}

function move(client: Client, args: { source: string; destination: string }): Promise<CallToolResult> {
  return client.request(
    { method: 'tools/call', params: { name: 'fs__move_file', arguments: args } },
    CallToolResultSchema,
  );
}

function decisionMeta(result: CallToolResult): { answer?: string; reason?: string; request?: string } {
  return (result._meta?.['mcpgov/decision'] ?? {}) as Record<string, string>;
}

async function file(
  work: string,
  folder: string,
  name: string,
): Promise<{ source: string; destination: string }> {
  const source = path.join(work, folder, name);
  await writeFile(source, `contents of ${name}`);
  return { source, destination: path.join(work, 'out', name) };
}

describe.runIf(reachable)('two gateway replicas sharing approvals in PostgreSQL', () => {
  const alice = () => approver('alice', Date.now(), { teams: ['platform-approvers'] });

  it('completes a call held on replica A once it is approved through replica B', async () => {
    const { a, b, work } = await replicas();
    const args = await file(work, 'held', 'a.txt');
    const answer = move(await a.client(), args);
    const request = await waitFor('the held request, seen through replica B', async () =>
      (await b.gateway.approvals.list({ state: 'pending' })).find(
        (r) => (r.args as { source?: string }).source === args.source,
      ),
    );
    expect(request).toMatchObject({ mode: 'hold', binding: { tool: 'fs__move_file' } });
    expect(existsSync(args.source)).toBe(true);

    const decided = await b.gateway.approvals.decide(
      request.id,
      { verdict: 'approve', reason: 'tidying up', args_digest: request.binding.args_digest },
      alice(),
    );
    expect(decided.ok).toBe(true);
    const result = await answer;
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toMatch(/Successfully moved/);
    expect(existsSync(args.destination)).toBe(true);
    // The held call used its own grant, through replica A.
    expect((await b.gateway.approvals.get(request.id))?.grant?.used_by).toBe(request.decision_id);
  });

  it('lets exactly one of two replicas racing for a return-mode grant use it', async () => {
    const { a, b, work } = await replicas();
    const [clientA, clientB] = [await a.client(), await b.client()];
    const args = await file(work, 'returned', 'b.txt');
    const first = await move(clientA, args);
    expect(decisionMeta(first)).toMatchObject({ answer: 'held', reason: 'approval_pending' });
    const id = decisionMeta(first).request ?? '';
    const request = await b.gateway.approvals.get(id);
    const approved = await b.gateway.approvals.decide(
      id,
      { verdict: 'approve', reason: 'ok to move', args_digest: request?.binding.args_digest },
      alice(),
    );
    expect(approved).toMatchObject({ ok: true });

    const results = await Promise.all([move(clientA, args), move(clientB, args)]);
    const performed = results.filter((r) => !r.isError);
    expect(performed).toHaveLength(1);
    expect(textOf(performed[0] as CallToolResult)).toMatch(/Successfully moved/);
    const refused = results.find((r) => r.isError) as CallToolResult;
    expect(decisionMeta(refused).reason).toBe('approval_pending');
    expect(decisionMeta(refused).request).not.toBe(id);
    expect(existsSync(args.destination)).toBe(true);
    expect((await a.gateway.approvals.get(id))?.grant?.used_at).toBeDefined();
  });
});

/**
 * A TCP relay to PostgreSQL that a test can cut (every connection dropped, new ones refused) and
 * restore on the same port: the database going away, without stopping the one other tests share.
 */
class Relay {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private port = 0;

  static async start(): Promise<Relay> {
    const relay = new Relay();
    relay.port = await relay.listen(0);
    return relay;
  }

  get url(): string {
    const target = new URL(POSTGRES_URL);
    target.host = `127.0.0.1:${this.port}`;
    return target.toString();
  }

  /** Drops every connection and stops accepting new ones. */
  async cut(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }

  /** Accepts connections again, on the same port. */
  async restore(): Promise<void> {
    await this.listen(this.port);
  }

  private listen(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = net.createServer((socket) => this.relay(socket));
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
      this.server = server;
    });
  }

  private relay(socket: net.Socket): void {
    const target = new URL(POSTGRES_URL);
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [socket, upstream]) {
      this.sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        this.sockets.delete(s);
        socket.destroy();
        upstream.destroy();
      });
    }
    socket.pipe(upstream).pipe(socket);
  }
}

describe.runIf(reachable)('a gateway whose PostgreSQL goes away', () => {
  it('refuses to start on a schema that was not migrated, saying to run mcpgov db migrate', async () => {
    await expect(replicas(POSTGRES_URL, false)).rejects.toThrow(
      /approvals schema "mcpgov_test_\w+" is at version 0, this build needs 1: run `mcpgov db migrate/,
    );
  });

  it('refuses escalations with approval_unavailable while it is down, and opens them again once it is back', async () => {
    const relay = await Relay.start();
    opened.push({ close: () => relay.cut() });
    const { a, work } = await replicas(relay.url);
    const client = await a.client();
    const args = await file(work, 'returned', 'c.txt');

    await relay.cut();
    const refused = await move(client, args);
    expect(refused.isError).toBe(true);
    expect(decisionMeta(refused)).toMatchObject({ reason: 'approval_unavailable' });
    expect(textOf(refused)).toMatch(/approval request could not be stored/);
    expect(existsSync(args.source)).toBe(true);

    await relay.restore();
    const pending = await move(client, args);
    expect(decisionMeta(pending)).toMatchObject({ answer: 'held', reason: 'approval_pending' });
  });
});
