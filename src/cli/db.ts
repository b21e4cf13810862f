import { parseArgs } from 'node:util';
import pg from 'pg';
import { checkSchema, migrate, SCHEMA_VERSION } from '../approvals/postgres-migrations.js';
import { parseStoreUrl, poolConfig } from '../approvals/postgres-store.js';
import { loadConfig } from '../config/load-config.js';
import { EXIT, UsageError, out } from './io.js';

export const dbHelp = `Usage: mcpgov db <migrate|check> [--config FILE] [--url URL]

The PostgreSQL schema of approvals and waivers (state.approvals in the config):
  migrate   bring the schema up to this version (${SCHEMA_VERSION}); running it again changes nothing.
            Run it once per deploy, before the gateways start: a gateway refuses a schema that is
            behind (or ahead of) its own version.
  check     exit 0 when the schema is at this version, 1 (saying why) when not

Options:
  --config FILE   config file (default: ./mcpgov.yaml)
  --url URL       postgres://... in place of the config's state.approvals (?schema=NAME: default mcpgov)
  -h, --help      show this help`;

/** `mcpgov db migrate` and `mcpgov db check`. */
export async function dbCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { config: { type: 'string', default: 'mcpgov.yaml' }, url: { type: 'string' } },
  });
  const [sub, ...extra] = positionals;
  if ((sub !== 'migrate' && sub !== 'check') || extra.length > 0)
    throw new UsageError('expected: db migrate or db check');
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
      out(JSON.stringify({ schema: target.schema, version: SCHEMA_VERSION, ok: true }));
    } else {
      const result = await migrate(pool, target.schema);
      out(JSON.stringify({ schema: target.schema, ...result }));
    }
    return EXIT.ok;
  } finally {
    await pool.end();
  }
}
