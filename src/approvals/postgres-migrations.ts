import type { Pool, PoolClient } from 'pg';

/** One versioned change to the approvals schema; `sql` is given the quoted schema name. */
interface Migration {
  version: number;
  name: string;
  sql: (schema: string) => string;
}

/**
 * The approvals schema, version by version. A shipped migration is never edited: a change is a new
 * version. The binding columns are copies of the request's JSON kept for the grant lookup's index;
 * the JSON is what `get` returns.
 */
const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'approval requests and waivers',
    sql: (s) => `
      CREATE TABLE ${s}.approval_requests (
        seq bigserial UNIQUE,
        id text PRIMARY KEY,
        state text NOT NULL,
        agent text,
        tool text NOT NULL,
        args_digest text NOT NULL,
        bundle_digest text NOT NULL,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        decided_at timestamptz,
        grant_expires_at timestamptz,
        grant_used_at timestamptz,
        verdict_recorded boolean NOT NULL DEFAULT false,
        request jsonb NOT NULL
      );
      CREATE INDEX approval_requests_open_grants ON ${s}.approval_requests
        (tool, args_digest, bundle_digest) WHERE state = 'approved' AND grant_used_at IS NULL;
      CREATE INDEX approval_requests_pending ON ${s}.approval_requests (expires_at) WHERE state = 'pending';
      CREATE INDEX approval_requests_unrecorded ON ${s}.approval_requests (seq)
        WHERE decided_at IS NOT NULL AND NOT verdict_recorded;
      CREATE INDEX approval_requests_created ON ${s}.approval_requests (created_at DESC, seq);
      CREATE TABLE ${s}.waivers (
        seq bigserial UNIQUE,
        id text PRIMARY KEY,
        until timestamptz NOT NULL,
        revoked boolean NOT NULL DEFAULT false,
        expiry_recorded boolean NOT NULL DEFAULT false,
        waiver jsonb NOT NULL
      );
    `,
  },
];

/** The schema version this build reads and writes. */
export const SCHEMA_VERSION = MIGRATIONS.at(-1)?.version ?? 0;

/** The default schema; a deployment (or a test) may name another. */
export const DEFAULT_SCHEMA = 'mcpgov';

/** The database's schema is not the one this build expects: the PEP refuses to start. */
export class ApprovalSchemaError extends Error {
  override name = 'ApprovalSchemaError';
}

/** A schema name quoted as an SQL identifier (names are plain identifiers; anything else is refused). */
export function quoteSchema(schema: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new ApprovalSchemaError(`approvals schema name "${schema}" is not a lower-case SQL identifier`);
  }
  return `"${schema}"`;
}

/** What `migrate` did: the version before and after, and the versions it applied. */
export interface MigrateResult {
  from: number;
  to: number;
  applied: number[];
}

/**
 * Brings `schema` up to this build's version, each missing migration in one transaction with its
 * `schema_migrations` row. An advisory lock makes concurrent runs (two replicas starting a deploy
 * job) take turns; running it again changes nothing. A database newer than this build is refused.
 */
export async function migrate(pool: Pool, schema = DEFAULT_SCHEMA): Promise<MigrateResult> {
  const s = quoteSchema(schema);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`mcpgov_migrate:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (
         version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const from = await currentVersion(client, s);
    if (from > SCHEMA_VERSION) throw newerError(schema, from);
    const applied: number[] = [];
    for (const m of MIGRATIONS.filter((m) => m.version > from)) {
      await client.query(m.sql(s));
      await client.query(`INSERT INTO ${s}.schema_migrations (version, name) VALUES ($1, $2)`, [
        m.version,
        m.name,
      ]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
    return { from, to: SCHEMA_VERSION, applied };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/** Refuses (ApprovalSchemaError, saying what to do) a schema that is missing, behind or ahead. */
export async function checkSchema(pool: Pool, schema = DEFAULT_SCHEMA): Promise<void> {
  const s = quoteSchema(schema);
  const client = await pool.connect();
  try {
    const table = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [
      `${s}.schema_migrations`,
    ]);
    const version = table.rows[0]?.t ? await currentVersion(client, s) : 0;
    if (version > SCHEMA_VERSION) throw newerError(schema, version);
    if (version < SCHEMA_VERSION) {
      throw new ApprovalSchemaError(
        `approvals schema "${schema}" is at version ${version}, this build needs ${SCHEMA_VERSION}: ` +
          'run `mcpgov db migrate --config FILE` first',
      );
    }
  } finally {
    client.release();
  }
}

async function currentVersion(client: PoolClient, s: string): Promise<number> {
  const res = await client.query<{ v: number | null }>(
    `SELECT max(version) AS v FROM ${s}.schema_migrations`,
  );
  return res.rows[0]?.v ?? 0;
}

function newerError(schema: string, version: number): ApprovalSchemaError {
  return new ApprovalSchemaError(
    `approvals schema "${schema}" is at version ${version}, newer than this build's ${SCHEMA_VERSION}: ` +
      'run a newer mcpgov (a schema is never migrated down)',
  );
}
