import { createHash } from 'node:crypto';
import { hasLoneSurrogate } from './hash.js';

/** How far JSON data may go: bytes of its RFC 8785 form, and nesting (the outermost value is depth 1). */
export interface JsonLimits {
  maxBytes: number;
  maxDepth: number;
}

/** Whether JSON data is within its limits, and if not, the first limit the check met. */
export type JsonCheck =
  | { kind: 'ok'; bytes: number }
  | { kind: 'too_large' }
  | { kind: 'too_deep' }
  /** A string or member name holds a lone surrogate: no RFC 8785 form, so no digest to record. */
  | { kind: 'malformed' };

// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON escapes
const NEEDS_ESCAPE = /[\u0000-\u001f"\\]/;

/** Bytes of a well-formed string's JSON form (RFC 8785 §3.2.2.2 escapes as JSON.stringify does). */
function stringBytes(s: string): number {
  return NEEDS_ESCAPE.test(s) ? Buffer.byteLength(JSON.stringify(s)) : Buffer.byteLength(s) + 2;
}

/**
 * Checks JSON data (as JSON.parse makes it) against size and depth limits before anything else walks
 * it. Iterative, so data nested far deeper than any recursive walker survives is refused instead of
 * overflowing the stack, and it stops at the first limit passed, so checking costs at most the limit.
 * `bytes` is exactly the size of the RFC 8785 form the evidence writer hashes.
 */
export function checkJson(value: unknown, limits: JsonLimits): JsonCheck {
  let bytes = 0;
  const values: unknown[] = [value];
  const depths: number[] = [1];
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop()!;
    if (typeof v === 'string') {
      if (hasLoneSurrogate(v)) return { kind: 'malformed' };
      bytes += stringBytes(v);
    } else if (typeof v === 'number') {
      bytes += Number.isFinite(v) ? JSON.stringify(v).length : 4;
    } else if (typeof v === 'boolean') {
      bytes += v ? 4 : 5;
    } else if (v !== null && typeof v === 'object') {
      if (depth > limits.maxDepth) return { kind: 'too_deep' };
      if (Array.isArray(v)) {
        bytes += 1 + Math.max(v.length, 1);
        for (const item of v as unknown[]) {
          values.push(item === undefined ? null : item);
          depths.push(depth + 1);
        }
      } else {
        let members = 0;
        for (const key of Object.keys(v)) {
          const item = (v as Record<string, unknown>)[key];
          if (item === undefined) continue;
          if (hasLoneSurrogate(key)) return { kind: 'malformed' };
          bytes += stringBytes(key) + 1;
          members += 1;
          values.push(item);
          depths.push(depth + 1);
        }
        bytes += 1 + Math.max(members, 1);
      }
    } else {
      bytes += 4; // null, and what JSON.stringify writes as null
    }
    if (bytes > limits.maxBytes) return { kind: 'too_large' };
  }
  return { kind: 'ok', bytes };
}

/** A piece of JSON text to write as it is (punctuation, a member name). */
class Literal {
  constructor(readonly text: string) {}
}

/** Hash input is handed over in pieces of about this many characters. */
const CHUNK = 64 * 1024;

/**
 * `sha256:` digest and byte size of JSON data's RFC 8785 form, at any depth: the same bytes `digest`
 * hashes, written without recursion, so a call refused for nesting too deeply still gets an
 * `args_digest` in its decision record. Where RFC 8785 has no form (a lone surrogate), the string is
 * written as JSON.stringify writes it (`\uXXXX`) instead of failing.
 */
export function digestAnyDepth(value: unknown): { digest: string; bytes: number } {
  const hash = createHash('sha256');
  let bytes = 0;
  let pending = '';
  const write = (text: string) => {
    pending += text;
    if (pending.length < CHUNK) return;
    bytes += Buffer.byteLength(pending);
    hash.update(pending);
    pending = '';
  };
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v instanceof Literal) write(v.text);
    else if (typeof v === 'string') write(JSON.stringify(v));
    else if (typeof v === 'number') write(Number.isFinite(v) ? JSON.stringify(v) : 'null');
    else if (typeof v === 'boolean') write(v ? 'true' : 'false');
    else if (v === null || typeof v !== 'object') write('null');
    else if (Array.isArray(v)) {
      write('[');
      stack.push(new Literal(']'));
      for (let i = v.length - 1; i >= 0; i--) {
        const item: unknown = v[i];
        stack.push(item === undefined ? null : item);
        if (i > 0) stack.push(new Literal(','));
      }
    } else {
      // RFC 8785 §3.2.3: members in the order of their names' UTF-16 code units, which sort() compares.
      const keys = Object.keys(v)
        .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
        .sort();
      write('{');
      stack.push(new Literal('}'));
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i]!;
        stack.push((v as Record<string, unknown>)[key]);
        stack.push(new Literal(`${i > 0 ? ',' : ''}${JSON.stringify(key)}:`));
      }
    }
  }
  bytes += Buffer.byteLength(pending);
  hash.update(pending);
  return { digest: `sha256:${hash.digest('hex')}`, bytes };
}
