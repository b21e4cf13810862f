import { describe, expect, it } from 'vitest';
import { globMatch } from '../../../src/registry/glob.js';

/** The meaning of a glob, as a regular expression: fine for the short names of this test. */
function reference(pattern: string, name: string): boolean {
  let source = '';
  for (const ch of pattern) {
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else source += ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's').test(name);
}

/** Every string over `alphabet` up to `max` characters long. */
function* strings(alphabet: string[], max: number): Generator<string> {
  let level = [''];
  yield '';
  for (let n = 1; n <= max; n++) {
    level = level.flatMap((s) => alphabet.map((c) => s + c));
    yield* level;
  }
}

describe('glob matching', () => {
  it('agrees with the regular expression it stands for on every short pattern and name', () => {
    const names = [...strings(['a', 'b', '.'], 5)];
    let disagreements = 0;
    for (const pattern of strings(['a', '.', '*', '?'], 4)) {
      for (const name of names) if (globMatch(pattern, name) !== reference(pattern, name)) disagreements++;
    }
    expect(disagreements).toBe(0);
  });

  it('matches tool names as the registry writes them', () => {
    expect(globMatch('fs__read_*', 'fs__read_text_file')).toBe(true);
    expect(globMatch('fs__read_*', 'fs__write_file')).toBe(false);
    expect(globMatch('memory__*_entities', 'memory__create_entities')).toBe(true);
    expect(globMatch('everything__*', 'everything__echo')).toBe(true);
    expect(globMatch('fs__write_file', 'fs__write_file')).toBe(true);
  });

  it('reads a 1 MB value against many stars once (a regular expression would take hours)', () => {
    const value = 'a'.repeat(1_000_000);
    expect(globMatch('*a*a*a*a*b', value)).toBe(false);
    expect(globMatch('*a*a*a*a*a', value)).toBe(true);
  });
});
