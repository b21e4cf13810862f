import jsonLogic from 'json-logic-js';
import { describe, expect, it } from 'vitest';
import { compileLogic, freezeInput } from '../../../src/policy/json-logic.js';

function run(expr: unknown, input: unknown = {}): unknown {
  const compiled = compileLogic(expr);
  if (!compiled.ok) throw new Error(JSON.stringify(compiled.problems));
  return compiled.logic.evaluate(freezeInput(input) as object);
}

function problems(expr: unknown): string[] {
  const compiled = compileLogic(expr);
  return compiled.ok ? [] : compiled.problems.map((p) => `${p.path}: ${p.message}`);
}

describe('hardened json-logic: compile-time checks', () => {
  it('rejects loose equality and points at it', () => {
    expect(problems({ and: [true, { '==': [1, 1] }] })).toEqual([
      'and[1].==: loose "==" is not allowed; use "===" (strict)',
    ]);
    expect(problems({ '!=': [1, 2] })[0]).toMatch(/use "!=="/);
  });

  it('rejects operators outside the allow-list, reporting all of them', () => {
    expect(problems({ or: [{ log: 1 }, { method: ['x', 'y'] }, { reduce: [[], {}, 0] }] })).toEqual([
      'or[0].log: operator "log" is not allowed',
      'or[1].method: operator "method" is not allowed',
      'or[2].reduce: operator "reduce" is not allowed',
    ]);
  });

  it('rejects computed and prototype-reaching var paths', () => {
    expect(problems({ var: { cat: ['a', 'b'] } })[0]).toMatch(/literal path/);
    expect(problems({ var: 'call.__proto__.x' })[0]).toMatch(/"__proto__" is not allowed/);
    expect(problems({ var: 'constructor' })[0]).toMatch(/"constructor" is not allowed/);
  });

  it('rejects object literals and nesting past the depth cap', () => {
    expect(problems({ a: 1, b: 2 })[0]).toMatch(/exactly one key/);
    let deep: unknown = true;
    for (let i = 0; i < 30; i++) deep = { '!': deep };
    expect(problems(deep)[0]).toMatch(/nesting deeper than 24/);
  });
});

describe('hardened json-logic: evaluation', () => {
  it('reads own properties only (the library alone would return Object for x.constructor)', () => {
    // The hardened var replaces the library's process-wide, so no json-logic use here walks prototypes.
    expect(jsonLogic.apply({ var: 'x.constructor' }, { x: {} })).toBeNull();
    expect(jsonLogic.apply({ var: 'x.toString' }, { x: [] })).toBeNull();
    expect(run({ var: ['x.length', 'none'] }, { x: 'abc' })).toBe('none');
    expect(run({ var: 'call.arguments.items.length' }, { call: { arguments: { items: [1, 2] } } })).toBe(2);
    expect(run({ var: ['missing.deep', 'fallback'] })).toBe('fallback');
  });

  it('compares strictly', () => {
    expect(run({ '===': [1, '1'] })).toBe(false);
    expect(run({ '===': [{ var: 'n' }, 1] }, { n: 1 })).toBe(true);
  });

  it('freezes the input so a rule cannot change what later rules see', () => {
    const input = freezeInput({ a: { b: [1] } }) as { a: { b: number[] } };
    expect(Object.isFrozen(input.a.b)).toBe(true);
    expect(Object.getPrototypeOf(input.a)).toBeNull();
  });

  it('checks path containment after resolving .., and relative paths only against server roots', () => {
    const within = (p: unknown, root: unknown, roots?: unknown) =>
      run({ path_within: roots === undefined ? [p, root] : [p, root, roots] });
    expect(within('/srv/demo/notes/a.txt', '/srv/demo')).toBe(true);
    expect(within('/srv/demo', '/srv/demo')).toBe(true);
    expect(within('notes/a.txt', '/srv/demo')).toBe(false);
    expect(within('notes/a.txt', '/srv/demo', ['/srv/demo'])).toBe(true);
    expect(within('notes/a.txt', '/srv/demo', '/srv/demo')).toBe(true);
    expect(within('notes/a.txt', '/srv/demo', ['/srv'])).toBe(false);
    expect(within('demo/notes/a.txt', '/srv/demo', ['/srv'])).toBe(true);
    expect(within('notes/a.txt', '/srv/demo', [42])).toBe(false);
    expect(within('/srv/demo/../etc/passwd', '/srv/demo')).toBe(false);
    expect(within('../demo-evil/x', '/srv/demo', ['/srv/demo'])).toBe(false);
    expect(within('/srv/demo-evil/x', '/srv/demo')).toBe(false);
    expect(within('~/x', '/srv/demo')).toBe(false);
    expect(within('/srv/demo/a\u0000b', '/srv/demo')).toBe(false);
    expect(within(42, '/srv/demo')).toBe(false);
    expect(within('/tmp/x', ['/srv/demo', '/tmp'])).toBe(true);
    expect(within('/srv/demo/x', 'relative/root')).toBe(false);
  });

  it('matches prefixes, suffixes and globs without regex injection', () => {
    expect(run({ starts_with: ['fs__write_file', 'fs__'] })).toBe(true);
    expect(run({ ends_with: ['report.csv', '.csv'] })).toBe(true);
    expect(run({ glob: ['fs__write_file', 'fs__*'] })).toBe(true);
    expect(run({ glob: ['fs__a', 'fs__?'] })).toBe(true);
    expect(run({ glob: ['fsXXwrite', 'fs.*'] })).toBe(false);
    expect(run({ glob: ['(a+)+', '(a+)+'] })).toBe(true);
  });

  it('throws on data errors, which callers turn into a deny', () => {
    expect(() => run({ missing_some: [1, { var: 'nothing' }] })).toThrow();
  });
});
