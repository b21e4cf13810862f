import { mkdir, mkdtemp, realpath, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { RealPathError, realFolder, realPath, realTargets } from '../../../src/util/real-path.js';

describe('real paths for path rules', () => {
  let t: string;
  let inside: string;
  let outside: string;

  beforeAll(async () => {
    t = await realpath(await mkdtemp(path.join(tmpdir(), 'mcpgov-real-')));
    inside = path.join(t, 'inside');
    outside = path.join(t, 'outside');
    await mkdir(inside);
    await mkdir(outside);
    await writeFile(path.join(outside, 'target.txt'), 'x');
    await symlink(outside, path.join(inside, 'link-out'));
    await symlink('../outside', path.join(inside, 'relative-link'));
    await symlink(path.join(outside, 'target.txt'), path.join(inside, 'file-link'));
    await symlink(path.join(outside, 'not-yet.txt'), path.join(inside, 'dangling'));
    await symlink(path.join(inside, 'loop-b'), path.join(inside, 'loop-a'));
    await symlink(path.join(inside, 'loop-a'), path.join(inside, 'loop-b'));
    // A chain one link longer than the kernel follows.
    for (let i = 0; i < 41; i++)
      await symlink(path.join(inside, `chain-${i + 1}`), path.join(inside, `chain-${i}`));
    await mkdir(path.join(inside, 'chain-41'));
  });

  it('resolves . and .. where the walk is, and returns a path without links as it is', () => {
    expect(realPath(`${inside}/./link-out/..`)).toBe(t);
    expect(realPath(inside)).toBe(inside);
  });

  it('appends the part that does not exist yet after normalizing it', () => {
    expect(realPath(`${inside}/new/a/../b.txt`)).toBe(path.join(inside, 'new', 'b.txt'));
  });

  it('follows links again where a .. steps back out of the missing part', () => {
    expect(realPath(`${inside}/new/../link-out/x.txt`)).toBe(path.join(outside, 'x.txt'));
  });

  it('follows folder links, relative links, file links and dangling links to where they point', () => {
    expect(realPath(path.join(inside, 'link-out', 'x.txt'))).toBe(path.join(outside, 'x.txt'));
    expect(realPath(path.join(inside, 'relative-link', 'new', 'x'))).toBe(path.join(outside, 'new', 'x'));
    expect(realPath(path.join(inside, 'file-link'))).toBe(path.join(outside, 'target.txt'));
    expect(realPath(path.join(inside, 'dangling'))).toBe(path.join(outside, 'not-yet.txt'));
  });

  it('applies .. after a link the way the kernel does', () => {
    // The kernel: link-out is outside, its parent is t. Lexically: inside/x.
    expect(realPath(`${inside}/link-out/../x`)).toBe(path.join(t, 'x'));
    expect(realTargets(`${inside}/link-out/../x`)).toEqual([path.join(inside, 'x'), path.join(t, 'x')]);
  });

  it('fails closed on a link loop and on more links than the kernel follows', () => {
    expect(() => realPath(path.join(inside, 'loop-a', 'x'))).toThrow(RealPathError);
    expect(() => realPath(path.join(inside, 'chain-0'))).toThrow(/more than 40 symlinks/);
    expect(realPath(path.join(inside, 'chain-1'))).toBe(path.join(inside, 'chain-41'));
    expect(realTargets(path.join(inside, 'loop-a'))).toBeUndefined();
  });

  it('fails closed on a lookup that fails for another reason than a missing name', () => {
    // ENAMETOOLONG here; EACCES takes the same path (root bypasses permissions, so it is not staged).
    expect(() => realPath(path.join(inside, 'x'.repeat(300)))).toThrow(RealPathError);
    expect(realTargets(path.join(inside, 'x'.repeat(300), 'y'))).toBeUndefined();
  });

  it('resolves a relative path against the first root that contains it, else the first root', () => {
    const a = path.join(t, 'a');
    const b = path.join(t, 'b');
    expect(realTargets('x.txt', [t])).toEqual([path.join(t, 'x.txt')]);
    expect(realTargets('inside/link-out/y', [t])).toEqual([path.join(outside, 'y')]);
    expect(realTargets('../b/y', [a, b])).toEqual([path.join(b, 'y')]);
    expect(realTargets('../../c', [a, b])).toEqual([path.join(path.dirname(t), 'c')]);
  });

  it('gives a relative path no meaning without roots, and refuses ~, NUL and non-strings', () => {
    expect(realTargets('x.txt')).toBeUndefined();
    expect(realTargets('x.txt', ['relative/root'])).toBeUndefined();
    expect(realTargets('~/x', [t])).toBeUndefined();
    expect(realTargets(`${t}/a\u0000b`)).toBeUndefined();
    expect(realTargets(42, [t])).toBeUndefined();
    expect(realTargets('', [t])).toBeUndefined();
  });

  it('follows a name to its one Unicode-equivalent entry, as server-filesystem opens it', async () => {
    await symlink(outside, path.join(inside, 'caf\u00e9'));
    expect(realPath(path.join(inside, 'cafe\u0301', 'x.txt'))).toBe(path.join(outside, 'x.txt'));
  });

  it('refuses a name with several Unicode-equivalent entries', async () => {
    await mkdir(path.join(inside, '\u00c5'));
    await mkdir(path.join(inside, 'A\u030a'));
    expect(() => realPath(path.join(inside, '\u212b', 'x'))).toThrow(/several entries/);
  });

  it('gives folders their real path, and none to a relative one', () => {
    expect(realFolder(path.join(inside, 'link-out'))).toBe(outside);
    expect(realFolder('inside')).toBeUndefined();
  });
});
