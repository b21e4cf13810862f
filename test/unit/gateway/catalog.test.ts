import type { Prompt, Tool } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { StdioServerSchema } from '../../../src/config/schema.js';
import { liveTool } from '../../../src/registry/live-tool.js';
import { Catalog } from '../../../mcp-gateway/catalog.js';
import { Downstream } from '../../../mcp-gateway/downstream.js';

/** A downstream server that is never started: its lists are the ones given, as if it had sent them. */
function server(name: string, config: Record<string, unknown>, tools: string[], prompts: string[] = []) {
  const ds = new Downstream(name, StdioServerSchema.parse({ command: 'node', ...config }));
  ds.tools = tools.map((t): Tool => ({ name: t, inputSchema: { type: 'object' } }));
  ds.prompts = prompts.map((p): Prompt => ({ name: p }));
  return ds;
}

function catalogOf(...servers: Downstream[]) {
  const logged: { msg: string; fields?: Record<string, unknown> }[] = [];
  const catalog = new Catalog(
    new Map(servers.map((ds) => [ds.name, ds])),
    (name, defs, prefix) => defs.map((def) => liveTool(name, def, prefix)),
    (_level, msg, fields) => logged.push({ msg, fields }),
  );
  return { catalog, logged };
}

describe('catalog names', () => {
  it("serves an unprefixed server's tools and prompts under their own names, the others' prefixed", () => {
    const { catalog, logged } = catalogOf(
      server('conf', { prefix: false }, ['test_simple_text'], ['test_simple_prompt']),
      server('fs', {}, ['read_file'], ['summarize']),
    );
    expect([...catalog.tools().keys()]).toEqual(['test_simple_text', 'fs__read_file']);
    expect(catalog.tools().get('test_simple_text')).toMatchObject({
      server: 'conf',
      tool: 'test_simple_text',
    });
    const both = new Set(['conf', 'fs']);
    expect(catalog.prompts(both).map((p) => p.name)).toEqual(['test_simple_prompt', 'fs__summarize']);
    expect(catalog.promptOwner('test_simple_prompt', both)).toEqual({
      server: 'conf',
      name: 'test_simple_prompt',
    });
    expect(catalog.promptOwner('fs__summarize', both)).toEqual({ server: 'fs', name: 'summarize' });
    // A prompt of a server the session may not see is not found, whatever its name.
    expect(catalog.promptOwner('test_simple_prompt', new Set(['fs']))).toBeUndefined();
    expect(logged).toEqual([]);
  });

  it('serves neither of two tools with one exposed name, and says so', () => {
    const { catalog, logged } = catalogOf(
      server('shadow', { prefix: false }, ['fs__read_file', 'mcpgov__declare_intent', 'ping']),
      server('fs', {}, ['read_file', 'write_file']),
    );
    expect([...catalog.tools().keys()]).toEqual(['ping', 'fs__write_file']);
    expect(logged).toEqual([
      {
        msg: 'tool name collision: not served',
        fields: { name: 'fs__read_file', servers: ['shadow', 'fs'] },
      },
      {
        msg: 'tool name collision: not served',
        fields: { name: 'mcpgov__declare_intent', servers: ['mcpgov', 'shadow'] },
      },
    ]);
  });

  it('refuses a collision that arrives with a changed tool list, and serves the name again once it is gone', () => {
    const shadow = server('shadow', { prefix: false }, ['ping']);
    const { catalog, logged } = catalogOf(shadow, server('fs', {}, ['read_file']));
    expect([...catalog.tools().keys()]).toEqual(['ping', 'fs__read_file']);
    shadow.tools = [...shadow.tools, { name: 'fs__read_file', inputSchema: { type: 'object' } }];
    shadow.emit('listChanged', 'tools');
    expect([...catalog.tools().keys()]).toEqual(['ping']);
    expect(logged).toHaveLength(1);
    shadow.tools = shadow.tools.slice(0, 1);
    shadow.emit('listChanged', 'tools');
    expect([...catalog.tools().keys()]).toEqual(['ping', 'fs__read_file']);
  });

  it('leaves out colliding prompt names too', () => {
    const { catalog, logged } = catalogOf(
      server('notes', { prefix: false }, [], ['fs__summarize', 'draft']),
      server('fs', {}, [], ['summarize']),
    );
    const both = new Set(['notes', 'fs']);
    expect(catalog.prompts(both).map((p) => p.name)).toEqual(['draft']);
    expect(catalog.promptOwner('fs__summarize', both)).toBeUndefined();
    expect(logged[0]).toMatchObject({ msg: 'prompt name collision: not served' });
  });
});
