import pg from 'pg';
import { isActive } from './lowdb-store.js';
import { checkSchema, DEFAULT_SCHEMA, quoteSchema } from './postgres-migrations.js';
import type { ApprovalStore } from './store.js';
import {
  ApprovalRequestSchema,
  WaiverSchema,
  type ApprovalRequest,
  type CallBinding,
  type DecideResult,
  type RequestState,
  type Verdict,
  type Waiver,
} from './types.js';

/** The NOTIFY channel a verdict is announced on; the payload is the request's id. */
export const VERDICT_CHANNEL = 'mcpgov_approvals';
/** A connection not made in this long is an error (the enforcer then refuses the escalation). */
const CONNECT_TIMEOUT_MS = 5_000;
/** No statement runs longer than this: a stuck database answers errors, it does not hold calls. */
const STATEMENT_TIMEOUT_MS = 5_000;
/** The listening connection, when lost, is made again after this long (doubling up to the cap). */
const RELISTEN_MIN_MS = 200;
const RELISTEN_MAX_MS = 5_000;
/** How many told verdicts are remembered (a NOTIFY arrives within moments of its verdict). */
const TOLD_KEPT = 10_000;
/** Verdicts this long before a lost connection are looked up again on its return (clocks differ). */
const CATCH_UP_MARGIN_MS = 60_000;

/** Where the store connects: a `postgres://` URL, and the schema its tables live in. */
export interface PostgresStoreOptions {
  url: string;
  /** Default: the URL's `schema` query parameter, else `mcpgov`. */
  schema?: string;
  /** What the server shows of these connections (`pg_stat_activity.application_name`); default `mcpgov`. */
  applicationName?: string;
}

/** Splits the `schema` query parameter (ours, not the driver's) off a `postgres://` URL. */
export function parseStoreUrl(url: string): { url: string; schema: string } {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get('schema') ?? DEFAULT_SCHEMA;
  parsed.searchParams.delete('schema');
  return { url: parsed.toString(), schema };
}

/** The connection pool's settings: bounded waits everywhere, so nothing hangs on a dead server. */
export function poolConfig(url: string, applicationName = 'mcpgov'): pg.PoolConfig {
  return {
    connectionString: url,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    query_timeout: STATEMENT_TIMEOUT_MS + 1_000,
    idleTimeoutMillis: 30_000,
    max: 10,
    application_name: applicationName,
  };
}

/**
 * The approval store for replicated deployments: requests and waivers in PostgreSQL. Every
 * transition is one conditional statement (`UPDATE ... WHERE state = 'pending' ... RETURNING`), so a
 * request is decided once and a grant used once whichever replica asks. A verdict is announced with
 * NOTIFY in the deciding statement; each store listens on a connection of its own (made again when
 * lost) and tells its listeners, so the replica holding the call releases it.
 */
export class PostgresApprovalStore implements ApprovalStore {
  private readonly listeners = new Set<(request: ApprovalRequest) => void>();
  /** The verdicts this store told its listeners (the latest TOLD_KEPT), so none is told twice. */
  private readonly told = new Set<string>();
  /** When the listening connection was lost (epoch ms): verdicts since then are looked up on its return. */
  private lostAt?: number;
  private listener?: pg.Client;
  private relisten?: NodeJS.Timeout;
  private relistenMs = RELISTEN_MIN_MS;
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly config: pg.PoolConfig,
    private readonly s: string,
  ) {}

  /**
   * Connects and checks the schema: one that is missing, behind or newer than this build is refused
   * (`ApprovalSchemaError` saying to run `mcpgov db migrate`).
   */
  static async open(opts: PostgresStoreOptions): Promise<PostgresApprovalStore> {
    const parsed = parseStoreUrl(opts.url);
    const schema = opts.schema ?? parsed.schema;
    const config = poolConfig(parsed.url, opts.applicationName);
    const pool = new pg.Pool(config);
    // An idle connection's error (a server restart) must not crash the process; the next query retries.
    pool.on('error', () => {});
    try {
      await checkSchema(pool, schema);
    } catch (err) {
      await pool.end().catch(() => {});
      throw err;
    }
    const store = new PostgresApprovalStore(pool, config, quoteSchema(schema));
    // Listening from the start, so a verdict given anywhere after open() is never missed here.
    await store.listen();
    return store;
  }

  async create(request: ApprovalRequest): Promise<void> {
    const b = request.binding;
    await this.pool.query(
      `INSERT INTO ${this.s}.approval_requests
         (id, state, agent, tool, args_digest, bundle_digest, created_at, expires_at, request)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        request.id,
        request.state,
        b.agent,
        b.tool,
        b.args_digest,
        b.bundle_digest,
        request.created_at,
        request.expires_at,
        JSON.stringify(request),
      ],
    );
  }

  async get(id: string): Promise<ApprovalRequest | undefined> {
    const res = await this.pool.query<{ request: unknown }>(
      `SELECT request FROM ${this.s}.approval_requests WHERE id = $1`,
      [id],
    );
    return res.rows[0] && ApprovalRequestSchema.parse(res.rows[0].request);
  }

  async list(filter: { state?: RequestState; limit?: number } = {}): Promise<ApprovalRequest[]> {
    const res = await this.pool.query<{ request: unknown }>(
      `SELECT request FROM ${this.s}.approval_requests
        WHERE ($1::text IS NULL OR state = $1) ORDER BY created_at DESC, seq LIMIT $2`,
      [filter.state ?? null, filter.limit ?? null],
    );
    return res.rows.map((r) => ApprovalRequestSchema.parse(r.request));
  }

  async decide(
    id: string,
    verdict: Verdict,
    now: number,
    grantExpiresAt: string,
    usedBy?: string,
  ): Promise<DecideResult> {
    const approved = verdict.verdict === 'approve';
    const state = approved ? 'approved' : 'denied';
    const grant = !approved
      ? undefined
      : usedBy === undefined
        ? { expires_at: grantExpiresAt }
        : { expires_at: grantExpiresAt, used_at: new Date(now).toISOString(), used_by: usedBy };
    const patch = grant ? { state, verdict, grant } : { state, verdict };
    // One statement: the conditional update, and the NOTIFY that is sent when (and only if) it commits.
    const res = await this.pool.query<{ request: unknown }>(
      `WITH decided AS (
         UPDATE ${this.s}.approval_requests
            SET state = $2, request = request || $3::jsonb, decided_at = now(),
                grant_expires_at = $4, grant_used_at = $5
          WHERE id = $1 AND state = 'pending' AND expires_at > $6
          RETURNING id, request)
       SELECT request, pg_notify($7, id) FROM decided`,
      [
        id,
        state,
        JSON.stringify(patch),
        grant ? grantExpiresAt : null,
        grant?.used_at ?? null,
        new Date(now).toISOString(),
        VERDICT_CHANNEL,
      ],
    );
    const row = res.rows[0];
    if (row) {
      const request = ApprovalRequestSchema.parse(row.request);
      this.tell(request);
      return { ok: true, request };
    }
    // Nothing changed: say why (an expiry is left to expire(), whose caller records it).
    const current = await this.get(id);
    if (!current) return { ok: false, code: 'unknown_request', message: `no approval request ${id}` };
    if (current.state === 'expired' || current.state === 'pending')
      return { ok: false, code: 'expired', message: `request ${id} expired at ${current.expires_at}` };
    return { ok: false, code: 'not_pending', message: `request ${id} is already ${current.state}` };
  }

  async useGrant(
    binding: CallBinding,
    decisionId: string,
    now: number,
    requestId?: string,
  ): Promise<ApprovalRequest | undefined> {
    const at = new Date(now).toISOString();
    const params = [
      at,
      decisionId,
      binding.agent,
      binding.tool,
      binding.args_digest,
      binding.bundle_digest,
      requestId ?? null,
      at,
    ];
    // A grant another replica is using right now is skipped: that one gets it, this call looks further.
    const first = await this.pool.query<{ request: unknown }>(
      this.useGrantSql('FOR UPDATE SKIP LOCKED'),
      params,
    );
    if (first.rows[0]) return ApprovalRequestSchema.parse(first.rows[0].request);
    // None free: wait once for locked ones, which may be held by something other than a use (a
    // verdict being marked recorded); one that another use took no longer matches and is passed over.
    const second = await this.pool.query<{ request: unknown }>(this.useGrantSql('FOR UPDATE'), params);
    return second.rows[0] && ApprovalRequestSchema.parse(second.rows[0].request);
  }

  /** Uses the first matching unused grant, locking its row: one statement, so used once whoever races. */
  private useGrantSql(lock: string): string {
    return `UPDATE ${this.s}.approval_requests
          SET grant_used_at = $1,
              request = jsonb_set(request, '{grant}',
                request->'grant' || jsonb_build_object('used_at', $8::text, 'used_by', $2::text))
        WHERE id = (
          SELECT id FROM ${this.s}.approval_requests
           WHERE state = 'approved' AND grant_used_at IS NULL AND grant_expires_at > $1
             AND agent IS NOT DISTINCT FROM $3 AND tool = $4 AND args_digest = $5 AND bundle_digest = $6
             AND ($7::text IS NULL OR id = $7)
           ORDER BY seq LIMIT 1
           ${lock})
          AND grant_used_at IS NULL
        RETURNING request`;
  }

  async expire(now: number): Promise<ApprovalRequest[]> {
    const res = await this.pool.query<{ request: unknown }>(
      `UPDATE ${this.s}.approval_requests
          SET state = 'expired', request = jsonb_set(request, '{state}', '"expired"')
        WHERE state = 'pending' AND expires_at <= $1
        RETURNING request`,
      [new Date(now).toISOString()],
    );
    return res.rows.map((r) => ApprovalRequestSchema.parse(r.request));
  }

  async withdraw(id: string, _now: number): Promise<ApprovalRequest | undefined> {
    const res = await this.pool.query<{ request: unknown }>(
      `UPDATE ${this.s}.approval_requests
          SET state = 'withdrawn', request = jsonb_set(request, '{state}', '"withdrawn"')
        WHERE id = $1 AND state = 'pending'
        RETURNING request`,
      [id],
    );
    return res.rows[0] && ApprovalRequestSchema.parse(res.rows[0].request);
  }

  async interrupt(id: string): Promise<void> {
    await this.pool.query(
      `UPDATE ${this.s}.approval_requests SET request = request || '{"interrupted": true}' WHERE id = $1`,
      [id],
    );
  }

  async markVerdictRecorded(id: string): Promise<void> {
    await this.pool.query(
      `UPDATE ${this.s}.approval_requests
          SET verdict_recorded = true, request = request || '{"verdict_recorded": true}'
        WHERE id = $1`,
      [id],
    );
  }

  async unrecordedVerdicts(): Promise<ApprovalRequest[]> {
    const res = await this.pool.query<{ request: unknown }>(
      `SELECT request FROM ${this.s}.approval_requests
        WHERE decided_at IS NOT NULL AND NOT verdict_recorded ORDER BY seq`,
    );
    return res.rows.map((r) => ApprovalRequestSchema.parse(r.request));
  }

  async addWaiver(waiver: Waiver): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.s}.waivers (id, until, revoked, expiry_recorded, waiver) VALUES ($1, $2, $3, $4, $5)`,
      [
        waiver.id,
        waiver.until,
        waiver.revoked !== undefined,
        waiver.expiry_recorded === true,
        JSON.stringify(waiver),
      ],
    );
  }

  async listWaivers(filter: { active?: boolean; now?: number } = {}): Promise<Waiver[]> {
    const now = filter.now ?? Date.now();
    const res = await this.pool.query<{ waiver: unknown }>(
      `SELECT waiver FROM ${this.s}.waivers
        WHERE NOT $1 OR (NOT revoked AND until > $2) ORDER BY seq DESC`,
      [filter.active === true, new Date(now).toISOString()],
    );
    // The same rule as the embedded store's, applied again in case of a clock's sub-millisecond edge.
    const all = res.rows.map((r) => WaiverSchema.parse(r.waiver));
    return filter.active ? all.filter((w) => isActive(w, now)) : all;
  }

  async revokeWaiver(id: string, revoked: NonNullable<Waiver['revoked']>): Promise<Waiver | undefined> {
    const res = await this.pool.query<{ waiver: unknown }>(
      `UPDATE ${this.s}.waivers
          SET revoked = true, waiver = waiver || jsonb_build_object('revoked', $2::jsonb)
        WHERE id = $1 AND NOT revoked
        RETURNING waiver`,
      [id, JSON.stringify(revoked)],
    );
    return res.rows[0] && WaiverSchema.parse(res.rows[0].waiver);
  }

  async expireWaivers(now: number): Promise<Waiver[]> {
    const res = await this.pool.query<{ waiver: unknown }>(
      `UPDATE ${this.s}.waivers
          SET expiry_recorded = true, waiver = waiver || '{"expiry_recorded": true}'
        WHERE NOT revoked AND NOT expiry_recorded AND until <= $1
        RETURNING waiver`,
      [new Date(now).toISOString()],
    );
    return res.rows.map((r) => WaiverSchema.parse(r.waiver));
  }

  onVerdict(listener: (request: ApprovalRequest) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.relisten);
    this.relisten = undefined;
    const client = this.listener;
    this.listener = undefined;
    await client?.end().catch(() => {});
    await this.pool.end();
  }

  /** Tells the listeners of a verdict, unless they were told of it already. */
  private tell(request: ApprovalRequest): void {
    if (this.told.has(request.id)) return;
    this.told.add(request.id);
    if (this.told.size > TOLD_KEPT) this.told.delete(this.told.values().next().value as string);
    this.emit(request);
  }

  private emit(request: ApprovalRequest): void {
    for (const listener of this.listeners) {
      try {
        listener(request);
      } catch {
        // a listener's fault is its own
      }
    }
  }

  /** Opens the listening connection; when it fails or is lost, tries again (backing off). */
  private async listen(): Promise<void> {
    this.relisten = undefined;
    if (this.closed) return;
    const client = new pg.Client({ ...this.config, statement_timeout: undefined });
    const lost = () => {
      if (this.listener === client) this.listener = undefined;
      this.lostAt ??= Date.now();
      client.removeAllListeners('notification');
      void client.end().catch(() => {});
      if (this.closed || this.relisten) return;
      this.relisten = setTimeout(() => void this.listen(), this.relistenMs);
      this.relisten.unref();
      this.relistenMs = Math.min(this.relistenMs * 2, RELISTEN_MAX_MS);
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (n) => {
      if (n.channel === VERDICT_CHANNEL && n.payload) void this.notified(n.payload).catch(() => {});
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${VERDICT_CHANNEL}`);
    } catch {
      lost();
      return;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    this.listener = client;
    this.relistenMs = RELISTEN_MIN_MS;
    // Verdicts announced while nobody here listened: looked up, told unless they were already.
    if (this.lostAt !== undefined) {
      const since = this.lostAt - CATCH_UP_MARGIN_MS;
      this.lostAt = undefined;
      await this.catchUp(since).catch(() => {
        this.lostAt ??= since + CATCH_UP_MARGIN_MS; // tried again on the next return
      });
    }
  }

  /** A verdict announced by any store sharing the database: told once, when it is in this schema. */
  private async notified(id: string): Promise<void> {
    if (this.told.has(id) || this.listeners.size === 0) return;
    const request = await this.get(id);
    if (request && (request.state === 'approved' || request.state === 'denied')) this.tell(request);
  }

  private async catchUp(since: number): Promise<void> {
    const res = await this.pool.query<{ request: unknown }>(
      `SELECT request FROM ${this.s}.approval_requests
        WHERE decided_at >= $1 AND state IN ('approved', 'denied') ORDER BY seq`,
      [new Date(since).toISOString()],
    );
    if (this.listeners.size === 0) return;
    for (const row of res.rows) this.tell(ApprovalRequestSchema.parse(row.request));
  }
}
