import { mkdir, mkdtemp, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { REFERENCE_SERVERS } from '../helpers/fixture.js';
import { callTool, runGateway, textOf, type RunningGateway } from '../helpers/gateway-harness.js';

const WRITES = ['fs__write_file', 'fs__edit_file', 'fs__create_directory'];
const TARGET_TEXT = 'outside, must not change\n';

/** Every entry under `dir`, relative to it, symlinks listed but not followed. */
async function tree(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = path.join(prefix, entry.name);
    out.push(rel);
    if (entry.isDirectory()) out.push(...(await tree(dir, rel)));
  }
  return out.sort();
}

/**
 * Path rules against the real filesystem server whose root is WIDER than the policy's folder: the
 * server may write anywhere under T, the policy only under T/inside. Every write that would land
 * outside T/inside (by `..`, by a relative path the server resolves against T, or through a symlink
 * inside T/inside) is denied, and afterwards nothing new exists outside T/inside.
 */
describe('path rules compare real paths against the server root', () => {
  let gw: RunningGateway;
  let client: Client;
  let root: string;
  let inside: string;
  let outside: string;

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'mcpgov-root-'));
    inside = path.join(root, 'inside');
    outside = path.join(root, 'outside');
    await mkdir(inside);
    await mkdir(outside);
    await writeFile(path.join(outside, 'target.txt'), TARGET_TEXT);
    await symlink(outside, path.join(inside, 'link-out'));
    await symlink(path.join(outside, 'target.txt'), path.join(inside, 'file-link'));
    const within = (arg: string) => ({
      '!': {
        path_within: [{ var: `call.arguments.${arg}` }, { var: 'paths.inside' }, { var: 'server.roots' }],
      },
    });
    gw = await runGateway({
      config: {
        mode: 'enforce',
        identity: { default_agent: 'dev' },
        paths: { inside },
        servers: { fs: { command: 'node', args: [REFERENCE_SERVERS.filesystem, root], roots: [root] } },
      },
      tools: {
        tools: [
          ...[...WRITES, 'fs__move_file'].map((name) => ({ name, owner: 'p', risk_tier: 'high' })),
          { name: 'fs__*', owner: 'p', risk_tier: 'low' },
        ],
        groups: { fs: ['fs__*'] },
      },
      agents: { agents: [{ id: 'dev', owner: 'p', tool_groups: ['fs'] }] },
      rules: [
        {
          id: 'writes-inside',
          description: 'writes stay inside the policy folder',
          when: { and: [{ in: [{ var: 'call.name' }, WRITES] }, within('path')] },
          effect: 'deny',
          reason: 'write_outside_demo',
        },
        {
          id: 'moves-inside',
          description: 'moves stay inside the policy folder',
          when: {
            and: [
              { '===': [{ var: 'call.name' }, 'fs__move_file'] },
              { or: [within('source'), within('destination')] },
            ],
          },
          effect: 'deny',
          reason: 'write_outside_demo',
        },
      ],
    });
    client = await gw.client();
  });
  afterAll(async () => gw?.close());

  it('lets writes inside the policy folder through, relative ones resolved against the server root', async () => {
    const relative = await callTool(client, 'fs__write_file', { path: 'inside/rel.txt', content: 'r' });
    expect(relative.isError).toBeFalsy();
    const absolute = await callTool(client, 'fs__write_file', {
      path: path.join(inside, 'abs.txt'),
      content: 'a',
    });
    expect(absolute.isError).toBeFalsy();
    expect(await readFile(path.join(inside, 'rel.txt'), 'utf8')).toBe('r');
    expect(await readFile(path.join(inside, 'abs.txt'), 'utf8')).toBe('a');
  });

  it.each([
    ['a relative path that climbs out with ..', 'fs__write_file', { path: 'inside/../x1.txt', content: 'x' }],
    ['a bare file name (the server puts it in its root)', 'fs__write_file', { path: 'x.txt', content: 'x' }],
    ['a write through a folder symlink', 'fs__write_file', { path: 'inside/link-out/x.txt', content: 'x' }],
    ['a write onto a file symlink', 'fs__write_file', { path: 'inside/file-link', content: 'overwritten' }],
    ['an edit through a file symlink', 'fs__edit_file', { path: 'inside/file-link', edits: [] }],
    ['a folder created through a symlink', 'fs__create_directory', { path: 'inside/link-out/newdir' }],
    [
      'a move whose destination goes through a symlink',
      'fs__move_file',
      { source: 'inside/rel.txt', destination: 'inside/link-out/moved.txt' },
    ],
  ])('denies %s', async (_note, tool, args) => {
    const result = await callTool(client, tool, args);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^Denied by policy: .*\(reason: write_outside_demo/);
  });

  it('denies the same symlink writes given as absolute paths', async () => {
    for (const [tool, args] of [
      ['fs__write_file', { path: path.join(inside, 'link-out', 'abs.txt'), content: 'x' }],
      ['fs__write_file', { path: path.join(inside, 'file-link'), content: 'overwritten' }],
      ['fs__create_directory', { path: path.join(inside, 'link-out', 'absdir') }],
    ] as const) {
      const result = await callTool(client, tool, args);
      expect(textOf(result)).toMatch(/reason: write_outside_demo/);
    }
  });

  it('leaves nothing new outside the policy folder', async () => {
    const all = await tree(root);
    expect(all.filter((p) => !p.startsWith(`inside${path.sep}`) && p !== 'inside')).toEqual([
      'outside',
      path.join('outside', 'target.txt'),
    ]);
    expect(await readFile(path.join(outside, 'target.txt'), 'utf8')).toBe(TARGET_TEXT);
    expect(await tree(inside)).toEqual(['abs.txt', 'file-link', 'link-out', 'rel.txt']);
  });

  it('records every denial with its rule in evidence', async () => {
    const denied = (await gw.evidence()).filter(
      (r) => r.kind === 'decision' && r.decision?.effect === 'deny',
    );
    expect(denied).toHaveLength(10);
    for (const d of denied) expect(d.decision?.reasons[0]).toBe('write_outside_demo');
  });
});
