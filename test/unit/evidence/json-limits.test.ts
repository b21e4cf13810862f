import { describe, expect, it } from 'vitest';
import { canonicalJson, digest, sha256Hex } from '../../../src/evidence/hash.js';
import { checkJson, digestAnyDepth } from '../../../src/evidence/json-limits.js';
import { prng, randomJson, testSeed } from '../../helpers/prng.js';

const nested = (depth: number): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? { a: value } : [value];
  return value;
};
const wide = { maxBytes: Number.MAX_SAFE_INTEGER, maxDepth: Number.MAX_SAFE_INTEGER };

describe('JSON limits', () => {
  const seed = testSeed(9);

  it(`measures exactly the bytes of the RFC 8785 form (seed ${seed})`, () => {
    const rng = prng(seed);
    for (let i = 0; i < 500; i++) {
      const value = randomJson(rng, 5);
      const check = checkJson(value, wide);
      expect(check, `seed ${seed}, value ${i}`).toEqual({
        kind: 'ok',
        bytes: Buffer.byteLength(canonicalJson(value)),
      });
    }
  });

  it('accepts data exactly at the limits and refuses one byte or one level more', () => {
    const value = { message: 'hello', list: [1, [2, [3]]] };
    const bytes = Buffer.byteLength(canonicalJson(value));
    expect(checkJson(value, { maxBytes: bytes, maxDepth: 4 })).toEqual({ kind: 'ok', bytes });
    expect(checkJson(value, { maxBytes: bytes - 1, maxDepth: 4 })).toEqual({ kind: 'too_large' });
    expect(checkJson(value, { maxBytes: bytes, maxDepth: 3 })).toEqual({ kind: 'too_deep' });
  });

  it('refuses data nested far deeper than the stack allows, without overflowing it', () => {
    const value = JSON.parse(`${'{"a":'.repeat(200_000)}1${'}'.repeat(200_000)}`) as unknown;
    expect(checkJson(value, { maxBytes: 1 << 30, maxDepth: 64 })).toEqual({ kind: 'too_deep' });
  });

  it('refuses a lone surrogate in a value or a member name, and accepts a surrogate pair', () => {
    const limits = { maxBytes: 1000, maxDepth: 8 };
    expect(checkJson(JSON.parse('{"a":["\\ud800"]}'), limits)).toEqual({ kind: 'malformed' });
    expect(checkJson(JSON.parse('{"\\udc00":1}'), limits)).toEqual({ kind: 'malformed' });
    expect(checkJson({ a: '😀' }, limits)).toEqual({ kind: 'ok', bytes: 12 });
  });

  it(`digests at any depth exactly as the evidence writer does (seed ${seed})`, () => {
    const rng = prng(seed + 1);
    for (let i = 0; i < 500; i++) {
      const value = randomJson(rng, 5);
      const canonical = canonicalJson(value);
      expect(digestAnyDepth(value), `seed ${seed + 1}, value ${i}`).toEqual({
        digest: digest(value),
        bytes: Buffer.byteLength(canonical),
      });
    }
    // Big enough to be hashed in several pieces.
    const big = { text: 'x'.repeat(200_000), list: Array.from({ length: 5000 }, (_, i) => ({ i })) };
    expect(digestAnyDepth(big).digest).toBe(digest(big));
  });

  it('digests data too deep for the recursive writer, and a lone surrogate as JSON.stringify writes it', () => {
    const deep = nested(100_000);
    expect(() => digest(deep)).toThrow(/too deeply/);
    const result = digestAnyDepth(deep);
    expect(result.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    // 50,000 `{"a":…}` (6 bytes each), 50,000 `[…]` (2 bytes each) around `1`.
    expect(result.bytes).toBe(50_000 * 6 + 50_000 * 2 + 1);
    expect(digestAnyDepth(nested(400))).toEqual({ digest: digest(nested(400)), bytes: (400 / 2) * 8 + 1 });
    expect(digestAnyDepth(nested(100_001)).digest).not.toBe(result.digest);
    const lone = JSON.parse('{"b":"\\ud800","a":1}') as unknown;
    expect(digestAnyDepth(lone).digest).toBe(`sha256:${sha256Hex('{"a":1,"b":"\\ud800"}')}`);
  });
});
