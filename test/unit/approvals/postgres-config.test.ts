import { describe, expect, it } from 'vitest';
import { describeApprovalStore } from '../../../src/approvals/open-store.js';
import { ApprovalSchemaError, quoteSchema } from '../../../src/approvals/postgres-migrations.js';
import { parseStoreUrl } from '../../../src/approvals/postgres-store.js';
import { ConfigSchema } from '../../../src/config/schema.js';

describe('state.approvals', () => {
  it('takes a postgres:// URL, and nothing else', () => {
    expect(ConfigSchema.parse({ state: { approvals: 'postgres://u@db:5432/mcpgov' } }).state).toEqual({
      approvals: 'postgres://u@db:5432/mcpgov',
    });
    expect(ConfigSchema.safeParse({ state: { approvals: 'postgresql://db/x' } }).success).toBe(true);
    const wrong = ConfigSchema.safeParse({ state: { approvals: 'redis://db:6379' } });
    expect(wrong.success).toBe(false);
    expect(wrong.error?.issues[0]?.message).toBe('must be a postgres:// URL');
    expect(ConfigSchema.safeParse({ state: { approval: 'postgres://db/x' } }).success).toBe(false);
  });

  it('reads the schema off the URL (default mcpgov) and gives the driver the rest', () => {
    expect(parseStoreUrl('postgres://u@db:5432/app?schema=gw_eu&sslmode=require')).toEqual({
      url: 'postgres://u@db:5432/app?sslmode=require',
      schema: 'gw_eu',
    });
    expect(parseStoreUrl('postgres://u@db/app').schema).toBe('mcpgov');
  });

  it('refuses a schema name that is not a plain identifier', () => {
    expect(quoteSchema('mcpgov_2')).toBe('"mcpgov_2"');
    for (const bad of ['Mcpgov', 'a"b', 'x; DROP TABLE y', '', '1abc'])
      expect(() => quoteSchema(bad)).toThrow(ApprovalSchemaError);
  });

  it('names the store in messages without its password', () => {
    expect(describeApprovalStore({ dir: '/s', approvals: 'postgres://u:secret@db/app' })).toBe(
      'the approval store at postgres://u:***@db/app',
    );
    expect(describeApprovalStore({ dir: '/s' })).toBe('the approval store in /s');
  });
});
