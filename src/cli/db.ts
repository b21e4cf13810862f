import pg from 'pg';
import { checkSchema, migrate, SCHEMA_VERSION } from '../approvals/postgres-migrations.js';
import { parseStoreUrl, poolConfig } from '../approvals/postgres-store.js';
import { loadConfig } from '../config/load-config.js';
import { EXIT, UsageError, out } from './io.js';

/** Options of `mcpgov db migrate|check` (commands/operate.ts). */
export interface DbOptions {
  config: string;
  url?: string;
  json?: boolean;
}

/** `mcpgov db migrate` and `mcpgov db check`. */
export async function dbCommand(sub: 'migrate' | 'check', values: DbOptions): Promise<number> {
  const url = values.url ?? (await loadConfig(values.config)).state.approvals;
  if (url === undefined)
    throw new UsageError(
      `${values.config} sets no state.approvals: approvals are embedded (nothing to migrate)`,
    );
  const target = parseStoreUrl(url);
  const pool = new pg.Pool(poolConfig(target.url));
  pool.on('error', () => {});
  try {
    if (sub === 'check') {
      await checkSchema(pool, target.schema);
      if (values.json) out(JSON.stringify({ schema: target.schema, version: SCHEMA_VERSION, ok: true }));
      else out(`ok: schema ${target.schema} is at version ${SCHEMA_VERSION}`);
    } else {
      const result = await migrate(pool, target.schema);
      if (values.json) out(JSON.stringify({ schema: target.schema, ...result }));
      else
        out(
          result.applied.length === 0
            ? `schema ${target.schema} is at version ${result.to}: nothing to do`
            : `schema ${target.schema}: version ${result.from} -> ${result.to} (applied ${result.applied.join(', ')})`,
        );
    }
    return EXIT.ok;
  } finally {
    await pool.end();
  }
}
