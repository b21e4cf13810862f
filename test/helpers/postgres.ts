import pg from 'pg';
import { migrate } from '../../src/approvals/postgres-migrations.js';
import { PostgresApprovalStore } from '../../src/approvals/postgres-store.js';

/** The PostgreSQL the project's machines start (trust auth); `MCPGOV_TEST_POSTGRES` names another. */
export const POSTGRES_URL = process.env.MCPGOV_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Whether PostgreSQL answers. When it does not, the tests that need it are skipped with a message
 * naming the service; with `MCPGOV_REQUIRE_SERVICES=1` (CI on a machine that runs it) that is an error.
 */
export async function postgresReachable(what: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch (err) {
    const message = `PostgreSQL at ${POSTGRES_URL} is unreachable (${(err as Error).message}): not running ${what}`;
    if (process.env.MCPGOV_REQUIRE_SERVICES === '1') throw new Error(message, { cause: err });
    console.warn(`SKIPPED: ${message}`);
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Schemas made by this test file, one per test, dropped by `dropSchemas`. */
const made = new Set<string>();
let admin: pg.Pool | undefined;

function adminPool(): pg.Pool {
  admin ??= new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
  return admin;
}

/** A schema of its own (random name) for one test, migrated unless `migrated` is false. */
export async function freshSchema(migrated = true): Promise<string> {
  const schema = `mcpgov_test_${Math.random().toString(36).slice(2, 12)}`;
  made.add(schema);
  if (migrated) await migrate(adminPool(), schema);
  return schema;
}

/** Opens a store on `schema` (its connections named after the schema, so a test finds its own). */
export function openPostgresStore(schema: string): Promise<PostgresApprovalStore> {
  return PostgresApprovalStore.open({ url: POSTGRES_URL, schema, applicationName: schema });
}

/** Runs SQL as the test's administrator (to damage or inspect a schema). */
export async function adminQuery(sql: string): Promise<pg.QueryResult> {
  return adminPool().query(sql);
}

/** Drops every schema this file made, and closes the administrator's pool. */
export async function dropSchemas(): Promise<void> {
  if (!admin) return;
  for (const schema of made) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  made.clear();
  await admin.end();
  admin = undefined;
}
