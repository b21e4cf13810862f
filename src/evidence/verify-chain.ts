import { recordHash } from './hash.js';

/** Result of checking a log's hash chain. */
export type ChainCheck =
  { ok: true; count: number } | { ok: false; line: number; seq?: number; reason: string };

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
      hash = recordHash(record);
    } catch {
      return { ok: false, line, seq, reason: 'record has no canonical form' };
    }
    if (record['hash'] !== hash) return { ok: false, line, seq, reason: 'hash does not match the record' };
    prev = hash;
  }
  return { ok: true, count: lines.length };
}
