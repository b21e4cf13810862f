import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/yaml-file.js';
import { pinsDiffer, planPins } from '../../../src/registry/pin-file.js';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const C = `sha256:${'c'.repeat(64)}`;
const servers = new Set(['fs']);

const REGISTRY = `tools:
  - name: fs__write_file
    owner: p # who
    risk_tier: high
    outcome:
      description: reports the path
      check: { var: result }
  - { name: fs__move_file, owner: p, risk_tier: high }
  - name: fs__read_file
    owner: p
    risk_tier: low
    definition_digest: "${A}" # pinned last week
  - name: fs__*
    owner: p
    risk_tier: low
    scopes: [fs.read]
    caps: { rate_per_minute: 5 }
groups:
  all: [fs__*]
`;

describe('pinning a tool registry in place', () => {
  it('adds pins after the last line of block and flow entries, replaces a stale one, and keeps every other byte', () => {
    const plan = planPins(
      'tools.yaml',
      REGISTRY,
      [
        { name: 'fs__write_file', digest: B },
        { name: 'fs__move_file', digest: C },
        { name: 'fs__read_file', digest: B },
      ],
      { add: false, servers },
    );
    expect(plan.text).toBe(
      REGISTRY.replace(
        '      check: { var: result }\n',
        `      check: { var: result }\n    definition_digest: ${B}\n`,
      )
        .replace('risk_tier: high }', `risk_tier: high, definition_digest: ${C} }`)
        .replace(`"${A}"`, B),
    );
    expect(plan.changes).toEqual([
      { kind: 'pin', tool: 'fs__write_file', digest: B },
      { kind: 'pin', tool: 'fs__move_file', digest: C },
      { kind: 'pin', tool: 'fs__read_file', digest: B, previous: A },
    ]);
    expect(pinsDiffer(plan.changes)).toBe(true);
  });

  it('leaves a matching pin alone, and reports tools only a glob covers', () => {
    const plan = planPins(
      'tools.yaml',
      REGISTRY,
      [
        { name: 'fs__read_file', digest: A },
        { name: 'fs__list', digest: B },
      ],
      { add: false, servers },
    );
    expect(plan.text).toBe(REGISTRY);
    expect(plan.changes).toEqual([
      { kind: 'unchanged', tool: 'fs__read_file', digest: A },
      { kind: 'not_exact', tool: 'fs__list', digest: B, entry: 'fs__*' },
    ]);
    expect(pinsDiffer(plan.changes)).toBe(false);
  });

  it('with add, copies the glob entry the tool falls under, just before it, in the order the tools came', () => {
    const plan = planPins(
      'tools.yaml',
      REGISTRY,
      [
        { name: 'fs__list', digest: B },
        { name: 'fs__stat', digest: C },
      ],
      { add: true, servers },
    );
    const copy = (name: string, digest: string) =>
      `  - name: ${name}\n    owner: p\n    risk_tier: low\n    scopes: [fs.read]\n    caps:\n      rate_per_minute: 5\n    definition_digest: ${digest}\n`;
    expect(plan.text).toBe(
      REGISTRY.replace('  - name: fs__*\n', `${copy('fs__list', B)}${copy('fs__stat', C)}  - name: fs__*\n`),
    );
    expect(plan.changes.map((c) => c.kind)).toEqual(['add', 'add', 'missing']);
  });

  it('reports a pinned tool its server no longer offers, only for the servers that were listed', () => {
    const live = [{ name: 'fs__write_file', digest: B }];
    expect(planPins('tools.yaml', REGISTRY, live, { add: false, servers }).changes).toContainEqual({
      kind: 'missing',
      tool: 'fs__read_file',
      pinned: A,
    });
    const other = planPins('tools.yaml', REGISTRY, [], { add: false, servers: new Set(['docs']) });
    expect(other.changes).toEqual([]);
  });

  it('refuses a registry it cannot edit in place, and never returns one that would not load', () => {
    expect(() =>
      planPins('tools.yaml', 'tools: [{ name: x, owner: p, risk_tier: low }]\n', [], { add: false, servers }),
    ).toThrow(/block list/);
    const invalid = 'tools:\n  - name: fs__x\n    owner: p\n    risk_tier: low\n    typo: 1\n';
    expect(() =>
      planPins('tools.yaml', invalid, [{ name: 'fs__x', digest: A }], { add: false, servers }),
    ).toThrow(ConfigError);
  });
});
