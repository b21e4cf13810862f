import canonicalize from 'canonicalize';
import { describe, expect, it } from 'vitest';
import { sealRecord } from '../../../src/evidence/canonical-record.js';
import { canonicalJson, digest, recordHash } from '../../../src/evidence/hash.js';

/** Deterministic pseudo-random JSON values, to compare the fast serializer with the reference one. */
function* randomValues(seed: number, count: number): Generator<unknown> {
  let x = seed;
  const next = () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const strings = ['', 'a', 'é', '€', '\u{1F600}', '\n\t"\\', 'z', 'A', '10', '9', '\u0000', 'ü', 'ab', 'aa'];
  const numbers = [
    0,
    -0,
    1,
    -1,
    1.5,
    1e21,
    1e-7,
    123456789012345680000,
    Number.MAX_SAFE_INTEGER,
    5e-324,
    0.1 + 0.2,
  ];
  const value = (depth: number): unknown => {
    const r = next();
    if (depth > 3 || r < 0.3) return strings[Math.floor(next() * strings.length)];
    if (r < 0.45) return numbers[Math.floor(next() * numbers.length)];
    if (r < 0.5) return next() < 0.5;
    if (r < 0.55) return null;
    if (r < 0.75) return Array.from({ length: Math.floor(next() * 4) }, () => value(depth + 1));
    const obj: Record<string, unknown> = {};
    for (let i = Math.floor(next() * 5); i > 0; i--)
      obj[strings[Math.floor(next() * strings.length)]!] = value(depth + 1);
    return obj;
  };
  for (let i = 0; i < count; i++) yield value(0);
}

describe('canonical JSON (RFC 8785)', () => {
  it('matches the canonicalize package byte for byte on 2000 generated values', () => {
    for (const v of randomValues(42, 2000)) expect(canonicalJson(v)).toBe(canonicalize(v));
  });

  it('sorts members by UTF-16 code units and ignores insertion order', () => {
    expect(canonicalJson({ b: 1, a: [true, null], '10': 0, '9': 0, é: 1, z: 2 })).toBe(
      '{"10":0,"9":0,"a":[true,null],"b":1,"z":2,"é":1}',
    );
    expect(digest({ x: 1, y: 2 })).toBe(digest({ y: 2, x: 1 }));
  });

  it('takes the native serializer only where it writes the same bytes', () => {
    // In canonical order throughout: one JSON.stringify.
    expect(canonicalJson({ a: { b: [1, 'x'] }, c: null })).toBe('{"a":{"b":[1,"x"]},"c":null}');
    // In order at the top, out of order below, integer-like keys (which V8 lists first), toJSON.
    const mixed = {
      a: { z: 1, y: 2 },
      b: { '10': 0, '9': 1 },
      c: new Date(0),
      d: [undefined, { b: 1, a: 2 }],
    };
    expect(canonicalJson(mixed)).toBe(canonicalize(mixed));
    // Faults below an in-order top still throw rather than pass through JSON.stringify.
    expect(() => canonicalJson({ a: { b: Number.NaN } })).toThrow();
    expect(() => canonicalJson({ a: ['\uDC00'] })).toThrow(/lone surrogate/);
    expect(() => canonicalJson({ '\uD800': 1 })).toThrow(/lone surrogate/);
  });

  it('refuses values JSON cannot carry faithfully', () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow();
    expect(() => canonicalJson(Infinity)).toThrow();
    expect(() => canonicalJson('\uD800')).toThrow(/lone surrogate/);
    expect(canonicalJson('\uD83D\uDE00')).toBe('"\u{1F600}"');
  });
});

describe('record hashing', () => {
  it('hashes a record without its hash member', () => {
    const record = { seq: 1, prev: null, kind: 'decision' };
    const hash = recordHash(record);
    expect(recordHash({ ...record, hash })).toBe(hash);
  });

  it('seals a record into a line that parses back to the record and recomputes', () => {
    const record = { v: 'x', seq: 3, prev: 'sha256:00', nested: { b: 1, a: 'é' } };
    const { hash, line } = sealRecord(record);
    expect(line.endsWith('\n')).toBe(true);
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(parsed).toEqual({ ...record, hash });
    expect(recordHash(parsed)).toBe(hash);
  });
});
