import { hash as cryptoHash } from 'node:crypto';

/**
 * Characters JSON.stringify escapes (controls, quote, backslash) and surrogates (which need the
 * lone-surrogate check). A string with none of them serializes as itself in quotes, which is most
 * strings in a record: ids, hashes, times, names.
 */
// eslint-disable-next-line no-control-regex -- control characters are exactly what must be escaped
const SPECIAL = /[\u0000-\u001f"\\\uD800-\uDFFF]/;
const SURROGATE = /[\uD800-\uDFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');
const MAX_DEPTH = 512;

/** Whether a string holds a lone surrogate: text that is not well-formed Unicode and has no RFC 8785 form. */
export function hasLoneSurrogate(s: string): boolean {
  return SURROGATE.test(s) && LONE_SURROGATE.test(s);
}

/** The string with each lone surrogate replaced by U+FFFD (as ES2024's `String.prototype.toWellFormed`). */
export function wellFormed(s: string): string {
  return hasLoneSurrogate(s) ? s.replace(LONE_SURROGATES, '\uFFFD') : s;
}

/** RFC 8785 form of a string (§3.2.2.2: JSON.stringify's escaping); throws on a lone surrogate. */
export function serializeString(s: string): string {
  if (!SPECIAL.test(s)) return `"${s}"`;
  if (LONE_SURROGATE.test(s)) throw new TypeError('lone surrogate in string (RFC 8785 §3.2.2.2)');
  return JSON.stringify(s);
}

/**
 * Whether JSON.stringify writes this value exactly as RFC 8785 does: every object's members already
 * in code-unit order, every number finite, no lone surrogate, no `toJSON`. String escaping and number
 * formatting are the same in both (RFC 8785 §3.2.2 defers to ECMAScript's JSON.stringify), so such a
 * value takes the native serializer. Each object's own keys are checked before its values, so an
 * out-of-order object fails fast.
 */
function stringifiesCanonically(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
      return !SURROGATE.test(value) || !LONE_SURROGATE.test(value);
    case 'number':
      return Number.isFinite(value);
    case 'boolean':
    case 'undefined':
    case 'function':
    case 'symbol':
      return true; // omitted in objects and null in arrays, by both serializers
    case 'object': {
      if (value === null) return true;
      if (depth > MAX_DEPTH || typeof (value as { toJSON?: unknown }).toJSON === 'function') return false;
      if (Array.isArray(value)) {
        for (const item of value) if (!stringifiesCanonically(item, depth + 1)) return false;
        return true;
      }
      const keys = Object.keys(value);
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        if ((i > 0 && keys[i - 1]! >= key) || (SURROGATE.test(key) && LONE_SURROGATE.test(key))) return false;
      }
      for (const key of keys) {
        if (!stringifiesCanonically((value as Record<string, unknown>)[key], depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

function serialize(value: unknown, depth: number): string {
  if (depth > MAX_DEPTH) throw new TypeError('value nested too deeply to canonicalize');
  switch (typeof value) {
    case 'string':
      return serializeString(value);
    case 'number':
      // RFC 8785 §3.2.2.3: numbers serialize as ECMAScript's Number.prototype.toString, which JSON.stringify uses.
      if (!Number.isFinite(value)) throw new TypeError('non-finite number has no JSON form');
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
        return serialize((value as { toJSON(): unknown }).toJSON(), depth + 1);
      }
      if (stringifiesCanonically(value, depth)) return JSON.stringify(value);
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i];
          if (i > 0) out += ',';
          out +=
            item === undefined || typeof item === 'function' || typeof item === 'symbol'
              ? 'null'
              : serialize(item, depth + 1);
        }
        return `${out}]`;
      }
      // RFC 8785 §3.2.3: members sorted by the UTF-16 code units of their names, which is what sort() compares.
      const keys = Object.keys(value).sort();
      // Out of order only here (a record's top level, say)? A shallow copy in order takes the native
      // path. (Integer-like names cannot be reordered this way; the check sees that and falls through.)
      // Null prototype: a `__proto__` member (JSON.parse makes it an own one) is copied as a member,
      // not taken as the copy's prototype, so the digest covers it.
      const ordered = Object.create(null) as Record<string, unknown>;
      for (const key of keys) ordered[key] = (value as Record<string, unknown>)[key];
      if (stringifiesCanonically(ordered, depth)) return JSON.stringify(ordered);
      let out = '{';
      let first = true;
      for (const key of keys) {
        const item: unknown = (value as Record<string, unknown>)[key];
        if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
        out += `${first ? '' : ','}${serializeString(key)}:${serialize(item, depth + 1)}`;
        first = false;
      }
      return `${out}}`;
    }
    default:
      throw new TypeError(`${typeof value} has no JSON form`);
  }
}

/**
 * RFC 8785 (JCS) canonical JSON of JSON-like data. This is the writer's fast path; tests hold it to
 * byte equality with the `canonicalize` package, which the offline verifier uses as an independent
 * implementation, so a bug in either shows up as a verification failure rather than silently.
 */
export function canonicalJson(value: unknown): string {
  return serialize(value, 0);
}

/** `canonicalJson` of a value found `depth` levels down (the nesting limit counts from the outermost value). */
export function canonicalJsonAt(value: unknown, depth: number): string {
  return serialize(value, depth);
}

/** Hex SHA-256 of bytes or a UTF-8 string. */
export function sha256Hex(data: string | Uint8Array): string {
  return cryptoHash('sha256', data, 'hex');
}

/** `sha256:<hex>` over the canonical JSON of a value: the content address used throughout evidence. */
export function digest(value: unknown): string {
  return `sha256:${sha256Hex(canonicalJson(value))}`;
}

const digests = new WeakMap<object, string>();

/**
 * `digest` of an object that is not changed once made (a call's arguments, a session history entry),
 * computed once however many places need it: the decision record, the action record and stage 2's
 * cache key all cite the same arguments.
 */
export function digestOnce(value: object): string {
  let known = digests.get(value);
  if (known === undefined) digests.set(value, (known = digest(value)));
  return known;
}

/** The hash of a record: `sha256:` over the canonical JSON of the record without its `hash` key. */
export function recordHash(record: Record<string, unknown>): string {
  const { hash: _hash, ...rest } = record;
  return digest(rest);
}
