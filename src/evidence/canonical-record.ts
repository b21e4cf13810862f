import { z } from 'zod';
import { canonicalJsonAt, serializeString, sha256Hex } from './hash.js';
import { EvidenceRecordSchema } from './types.js';

/*
 * RFC 8785 canonical JSON of evidence records, specialised to their shape. The generic serializer
 * (hash.ts) lists, checks the order of, and sorts every object's keys and escapes every key; a record
 * has the same few dozen keys every time. So the record schema is compiled once into writers that
 * hold each object's members already in RFC 8785 order (§3.2.3: by UTF-16 code units, which is what
 * sort() compares) with their names already written, and walk a record with no sorting at all.
 *
 * The schema only says where to look; it is never trusted about what is there. A writer checks each
 * value as it goes, and any object that is not exactly a plain object holding only the schema's
 * members (an unknown member, a member set to undefined, a class instance, a wrong type) is written
 * by the generic serializer instead, so the output is always the RFC 8785 form of the value as it
 * is. Tests compare it byte for byte with the `canonicalize` package over generated records.
 */

/** Writes one value at a nesting depth (the generic serializer's depth, for its limit). */
export type Writer = (value: unknown, depth: number) => string;

/** One member of a compiled object, in canonical order. */
interface Member {
  key: string;
  /** `"key":` and `,"key":`: the member's name as RFC 8785 writes it, without and with the separator. */
  first: string;
  next: string;
  write: Writer;
}

/**
 * Compiles the writer of values that `schema` describes: its objects, arrays and strings are written
 * by compiled writers; everything else (numbers, free-form members such as `args`, and whatever does
 * not fit the schema) goes to `fallback`, by default the generic serializer.
 */
export function compileWriter(schema: z.ZodType, fallback: Writer = canonicalJsonAt): Writer {
  let inner: z.ZodType = schema;
  while (inner instanceof z.ZodOptional || inner instanceof z.ZodNullable)
    inner = inner.unwrap() as z.ZodType;
  if (inner instanceof z.ZodObject) return objectWriter(inner.shape as Record<string, z.ZodType>, fallback);
  if (inner instanceof z.ZodArray)
    return arrayWriter(compileWriter(inner.element as z.ZodType, fallback), fallback);
  // Most of a record's values are strings: written here, without the generic serializer's dispatch.
  if (inner instanceof z.ZodString || inner instanceof z.ZodEnum || inner instanceof z.ZodLiteral) {
    return (value, depth) => (typeof value === 'string' ? serializeString(value) : fallback(value, depth));
  }
  return fallback;
}

function objectWriter(shape: Record<string, z.ZodType>, fallback: Writer): Writer {
  const keys = Object.keys(shape).sort();
  // A name Object.prototype also has would be read through the prototype of an object without it.
  if (keys.some((key) => key in Object.prototype)) return fallback;
  const members: Member[] = keys.map((key) => {
    const name = JSON.stringify(key);
    return { key, first: `${name}:`, next: `,${name}:`, write: compileWriter(shape[key]!, fallback) };
  });
  return (value, depth) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return fallback(value, depth);
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return fallback(value, depth);
    const object = value as Record<string, unknown>;
    let out = '{';
    let written = 0;
    let present = 0;
    for (const member of members) {
      const item = object[member.key];
      if (item === undefined) {
        // Left out, as RFC 8785 and JSON.stringify leave out a member set to undefined; but counted
        // if it is there (records set optional members to undefined rather than leave them out).
        if (member.key in object) present += 1;
        continue;
      }
      // Left out by RFC 8785 as by JSON.stringify; rare enough to leave to the generic serializer.
      if (typeof item === 'function' || typeof item === 'symbol') return fallback(value, depth);
      out += (written === 0 ? member.first : member.next) + member.write(item, depth + 1);
      written += 1;
    }
    // Every own member was one of the schema's: otherwise start again, generically.
    if (written + present !== Object.keys(object).length) return fallback(value, depth);
    return `${out}}`;
  };
}

function arrayWriter(element: Writer, fallback: Writer): Writer {
  return (value, depth) => {
    if (!Array.isArray(value)) return fallback(value, depth);
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (i > 0) out += ',';
      out +=
        item === undefined || typeof item === 'function' || typeof item === 'symbol'
          ? 'null'
          : element(item, depth + 1);
    }
    return `${out}]`;
  };
}

const recordWriter = compileWriter(EvidenceRecordSchema);

/**
 * RFC 8785 canonical JSON of an evidence record (or of any value: off the record's shape it is the
 * generic serializer's output). Throws where RFC 8785 has no form, as `canonicalJson` does.
 */
export function canonicalRecordJson(record: unknown): string {
  return recordWriter(record, 0);
}

/**
 * Hashes a record that has no `hash` yet and returns it with the JSON line to store, serializing it
 * only once: the line is the canonical form with `hash` appended as the last member. Readers parse the
 * line, so member order in the file does not matter; the hash is over the canonical form without it.
 */
export function sealRecord(unhashed: Record<string, unknown>): { hash: string; line: string } {
  const canonical = canonicalRecordJson(unhashed);
  const hash = `sha256:${sha256Hex(canonical)}`;
  const line = canonical === '{}' ? `{"hash":"${hash}"}\n` : `${canonical.slice(0, -1)},"hash":"${hash}"}\n`;
  return { hash, line };
}
