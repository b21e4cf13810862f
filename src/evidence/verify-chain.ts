import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

/** Result of checking a log's hash chain. */
export type ChainCheck =
  { ok: true; count: number } | { ok: false; line: number; seq?: number; reason: string };

/**
 * `sha256:` over the RFC 8785 form of a record without `hash`, computed with the `canonicalize` package:
 * an implementation independent of the writer's, so the verifier does not share the writer's bugs.
 */
export function referenceRecordHash(record: Record<string, unknown>): string {
  const { hash: _hash, ...rest } = record;
  const text = canonicalize(rest);
  if (text === undefined) throw new TypeError('record has no canonical form');
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

/**
 * Checks a log line by line: each parses, `seq` runs from 0 without gaps, `prev` is the previous line's
 * `hash`, and `hash` recomputes over the canonical record. Names the first bad line (1-based).
 */
export function verifyChainLines(lines: readonly string[]): ChainCheck {
  let prev: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(lines[i] ?? '') as Record<string, unknown>;
    } catch {
      return { ok: false, line, reason: 'not valid JSON' };
    }
    const seq = typeof record['seq'] === 'number' ? record['seq'] : undefined;
    if (seq !== i) return { ok: false, line, seq, reason: `seq ${String(seq)} where ${i} was expected` };
    if (record['prev'] !== prev)
      return { ok: false, line, seq, reason: 'prev does not match the hash of the record before' };
    let hash: string;
    try {
      hash = referenceRecordHash(record);
    } catch {
      return { ok: false, line, seq, reason: 'record has no canonical form' };
    }
    if (record['hash'] !== hash) return { ok: false, line, seq, reason: 'hash does not match the record' };
    prev = hash;
  }
  return { ok: true, count: lines.length };
}
