import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  canonicalRecordJson,
  compileWriter,
  sealRecord,
  type Writer,
} from '../../../src/evidence/canonical-record.js';
import { canonicalJsonAt } from '../../../src/evidence/hash.js';
import { EVIDENCE_VERSION, EvidenceRecordSchema, type EvidenceRecord } from '../../../src/evidence/types.js';

/** A seeded generator (Park-Miller), so a failure names a case that can be run again. */
function random(seed: number) {
  let x = seed;
  const next = () => (x = (x * 48271) % 2147483647) / 2147483647;
  return {
    next,
    chance: (p: number) => next() < p,
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
  };
}
type Random = ReturnType<typeof random>;

/** Pieces of strings: escapes, non-ASCII in one and two UTF-16 units, and what records hold. */
const PIECES = [
  '',
  'a',
  'Z',
  'é',
  '€',
  'ü',
  '\u{1F600}',
  '\uFFFF',
  '\n\t"\\',
  '\u0000',
  '\u001f',
  '\u007f',
  '\u2028',
  '</script>',
  'sha256:0123456789abcdef',
  '2026-01-01T00:00:00.000Z',
  'everything__echo',
];
/** Numbers whose shortest round-trip forms differ from the obvious (RFC 8785 §3.2.2.3, Appendix B). */
const NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.1,
  0.1 + 0.2,
  12.5,
  4.35,
  1e21,
  -1e21,
  1e20,
  1e-7,
  1e-6,
  123456789012345680000,
  Number.MAX_SAFE_INTEGER,
  2 ** 53 + 2,
  5e-324,
  1.7976931348623157e308,
  333333333.3333333,
];
/** Member names whose UTF-16 order differs from code-point order or from V8's insertion order. */
const KEYS = ['a', 'b', 'A', 'aa', 'ab', '', '10', '9', 'é', '€', '\u{1F600}', '\uFFFF', '\uFB33', 'hash'];

function string(r: Random): string {
  let s = '';
  for (let n = Math.floor(r.next() * 4); n > 0; n--) s += r.pick(PIECES);
  return s;
}

/** Any JSON-like value, as free-form members (`args`) hold; now and then a Date (toJSON) or a class instance. */
function anyValue(r: Random, depth: number): unknown {
  const roll = r.next();
  if (depth > 3 || roll < 0.3) return string(r);
  if (roll < 0.45) return r.pick(NUMBERS);
  if (roll < 0.5) return r.chance(0.5);
  if (roll < 0.55) return null;
  if (roll < 0.57) return new Date(Math.floor(r.next() * 2 ** 40));
  if (roll < 0.75) return Array.from({ length: Math.floor(r.next() * 4) }, () => anyValue(r, depth + 1));
  const object: Record<string, unknown> = r.chance(0.2)
    ? (Object.create(null) as Record<string, unknown>)
    : {};
  for (let n = Math.floor(r.next() * 5); n > 0; n--) object[r.pick(KEYS)] = anyValue(r, depth + 1);
  // An own `__proto__` member, as JSON.parse makes one.
  if (r.chance(0.05)) Object.defineProperty(object, '__proto__', { value: 1, enumerable: true });
  return object;
}

class Holder {
  constructor(readonly id: string) {}
}

/**
 * A value shaped like `schema`, mostly: optional members left out, members in shuffled order, and
 * with small odds what the writer must not trust the schema about: an unknown member, a member set
 * to undefined, a null prototype, a class instance, a value of another type.
 */
function shaped(schema: z.ZodType, r: Random, depth: number): unknown {
  if (r.chance(0.02)) return anyValue(r, depth);
  if (schema instanceof z.ZodOptional) return shaped(schema.unwrap() as z.ZodType, r, depth);
  if (schema instanceof z.ZodNullable)
    return r.chance(0.2) ? null : shaped(schema.unwrap() as z.ZodType, r, depth);
  if (schema instanceof z.ZodObject) {
    const shape = schema.shape as Record<string, z.ZodType>;
    const keys = Object.keys(shape);
    // In the schema's order, in canonical order (as the gateway's record builders write them), or shuffled.
    const order = r.next();
    if (order < 0.3) keys.sort();
    else if (order < 0.6) keys.sort(() => r.next() - 0.5);
    const object: Record<string, unknown> = r.chance(0.1)
      ? (Object.create(null) as Record<string, unknown>)
      : {};
    for (const key of keys) {
      // An optional member is left out, set to undefined (as `x: y?.z` does), or given a value.
      if (!(shape[key] instanceof z.ZodOptional) || r.chance(0.5))
        object[key] = shaped(shape[key]!, r, depth + 1);
      else if (r.chance(0.4)) object[key] = undefined;
    }
    if (r.chance(0.04)) object[r.pick(KEYS)] = anyValue(r, depth + 1);
    if (r.chance(0.04)) object[r.pick(Object.keys(shape))] = undefined;
    if (r.chance(0.02)) return Object.assign(new Holder('x'), object);
    return object;
  }
  if (schema instanceof z.ZodArray) {
    return Array.from({ length: Math.floor(r.next() * 4) }, () =>
      shaped(schema.element as z.ZodType, r, depth + 1),
    );
  }
  if (schema instanceof z.ZodEnum) return r.pick(schema.options as string[]);
  if (schema instanceof z.ZodLiteral) return schema.value;
  if (schema instanceof z.ZodString) return string(r);
  if (schema instanceof z.ZodNumber) return r.pick(NUMBERS);
  if (schema instanceof z.ZodBoolean) return r.chance(0.5);
  return anyValue(r, depth + 1);
}

/** The output of a serializer, or the fact that it threw. */
function outcome(serialize: () => string | undefined): { text?: string; threw?: true } {
  try {
    return { text: serialize() };
  } catch {
    return { threw: true };
  }
}

describe('canonical JSON of evidence records', () => {
  it('matches the canonicalize package byte for byte on 5000 generated records of every kind', () => {
    const r = random(20260101);
    for (let i = 0; i < 5000; i++) {
      const record = shaped(EvidenceRecordSchema, r, 0);
      expect(
        outcome(() => canonicalRecordJson(record)),
        `record ${i}`,
      ).toEqual(outcome(() => canonicalize(record)));
    }
  });

  it('throws where RFC 8785 has no form, as canonicalize does', () => {
    const base = {
      v: EVIDENCE_VERSION,
      id: 'x',
      kind: 'decision',
      chain: 'c',
      time: 't',
      seq: 0,
      prev: null,
    };
    for (const record of [
      { ...base, id: 'lone \uD800 surrogate' },
      { ...base, pep: { id: 'p', kind: 'gateway', version: '\uDC00' } },
      { ...base, seq: Number.NaN },
      { ...base, decision: { eval_us: Number.POSITIVE_INFINITY } },
      { ...base, request: { args: { '\uD800': 1 } } },
    ]) {
      expect(() => canonicalize(record)).toThrow();
      expect(() => canonicalRecordJson(record)).toThrow();
    }
  });

  it('writes the objects the schema describes itself, leaving only numbers, literals and args to the generic serializer', () => {
    const handedOver: unknown[] = [];
    const counting: Writer = (value, depth) => {
      handedOver.push(value);
      return canonicalJsonAt(value, depth);
    };
    const write = compileWriter(EvidenceRecordSchema, counting);
    const args = { message: 'hi', n: [1, 2] };
    // Optional members set to undefined, as the gateway's record builders leave them.
    const record = {
      v: EVIDENCE_VERSION,
      id: 'r1',
      kind: 'decision',
      chain: 's',
      time: '2026-01-01T00:00:00.000Z',
      pep: { id: 'p', kind: 'gateway', version: '0' },
      subject: { verified: false, agent: 'a' },
      request: {
        method: 'tools/call',
        tool: 'everything__echo',
        args_digest: `sha256:${'a'.repeat(64)}`,
        args,
        definition_digest: undefined,
        masked: [],
        session: { id: 's', call_count: 0, intent_digest: undefined },
        tool_hints: undefined,
      },
      decision: {
        id: 'd',
        effect: 'allow',
        mode: 'enforce',
        enforced: true,
        reasons: [],
        rules: [],
        stages: [{ stage: 'agent', kind: 'pass', code: undefined }],
        semantic: undefined,
        bundle: { name: 'b', revision: 'r', digest: `sha256:${'c'.repeat(64)}` },
        eval_us: 1.5,
      },
      seq: 0,
      prev: null,
    };
    expect(write(record, 0)).toBe(canonicalize(record));
    const objects = handedOver.filter((v) => typeof v === 'object' && v !== null);
    expect(objects).toEqual([args]);
  });
});

describe('sealing a record', () => {
  it('hashes the canonical form and stores it with hash as its last member', () => {
    const r = random(7);
    for (let i = 0; i < 500; i++) {
      const record = shaped(EvidenceRecordSchema, r, 0) as Partial<EvidenceRecord>;
      if (typeof record !== 'object' || record === null || Array.isArray(record)) continue;
      delete record.hash;
      const reference = outcome(() => canonicalize(record));
      if (reference.threw) continue;
      const { hash, line } = sealRecord(record as Record<string, unknown>);
      expect(hash).toBe(`sha256:${createHash('sha256').update(reference.text!).digest('hex')}`);
      expect(line).toBe(
        reference.text === '{}'
          ? `{"hash":"${hash}"}\n`
          : `${reference.text!.slice(0, -1)},"hash":"${hash}"}\n`,
      );
    }
  });
});
