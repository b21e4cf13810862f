import { DEFAULT_HISTORY_LIMITS } from '../semantic/types.js';
import type { EvalCase } from './case.js';

/**
 * Earlier calls that make a case the last call of a long session, to measure what a long session
 * costs the decision (flow tracking files every result; the verifier reads the history). The filler
 * is plain work a session does — listings, records, logs, tickets — with the kinds of values flow
 * tracking indexes (e-mail addresses, URLs, paths, ids, numbers), all on reserved names
 * (`.invalid`, RFC 2606) so none can be a case's own value, and no instruction in any of it.
 */
export function withSessionLength(c: EvalCase, calls: number): EvalCase {
  const missing = calls - 1 - c.history.length;
  if (missing <= 0) return c;
  // The same entry objects for every case, as a session keeps its entries: what is worked out once
  // per entry (its digest) is not worked out again for each call.
  while (FILLER.length < missing) FILLER.push(fillerCall(FILLER.length));
  const filler = FILLER.slice(0, missing);
  return { ...c, history: [...filler, ...c.history] };
}

/**
 * The history stage 2 reads of a session, as an enforcement point keeps it (DEFAULT_HISTORY_LIMITS):
 * the last calls, each result cut. Flow tracking sees every result; the verifier this window.
 */
export function verifierWindow(history: EvalCase['history']): EvalCase['history'] {
  const { calls, resultChars } = DEFAULT_HISTORY_LIMITS;
  return history.slice(-calls).map((h) =>
    h.result === undefined || h.result.length <= resultChars
      ? h
      : {
          ...h,
          result: `${h.result.slice(0, resultChars)} [... ${h.result.length - resultChars} more characters]`,
        },
  );
}

const FILLER: EvalCase['history'] = [];

/** The i-th filler call: one of a few tools, with a result of about 1.5 KB. */
function fillerCall(i: number): EvalCase['history'][number] {
  const n = (k: number) => (i * 7919 + k * 104_729) % 100_000;
  switch (i % 4) {
    case 0:
      return {
        tool: 'fs__list_directory',
        arguments: { path: `/srv/work/batch-${i}` },
        result: Array.from({ length: 30 }, (_, k) => `[FILE] report-${n(k)}-${k}.csv`).join('\n'),
      };
    case 1:
      return {
        tool: 'data__query',
        arguments: { sql: `SELECT id, email, total FROM orders WHERE batch = ${i}` },
        result: JSON.stringify(
          Array.from({ length: 15 }, (_, k) => ({
            id: `ord-${n(k)}`,
            email: `buyer${n(k)}@shop.invalid`,
            total: (n(k) % 9000) / 10,
          })),
        ),
      };
    case 2:
      return {
        tool: 'fs__read_text_file',
        arguments: { path: `/srv/work/logs/app-${i}.log` },
        result: Array.from(
          { length: 18 },
          (_, k) =>
            `2026-01-0${(k % 9) + 1}T10:${String(k).padStart(2, '0')}:00Z INFO request ${n(k)} served from https://cdn-${k}.example.invalid/assets/${n(k)}.js in ${n(k) % 300} ms`,
        ).join('\n'),
      };
    default:
      return {
        tool: 'cloud__describe_instance',
        arguments: { instance_id: `batch-${i}` },
        result: JSON.stringify({
          instance_id: `batch-${i}`,
          state: 'running',
          size: 'm5.large',
          private_ip: `10.${i % 250}.${n(1) % 250}.${n(2) % 250}`,
          tags: { team: 'analytics', cost_center: `cc-${n(3)}`, owner: `ops${n(4)}@corp.invalid` },
          volumes: Array.from({ length: 6 }, (_, k) => ({ id: `vol-${n(k)}${k}`, size_gb: 100 + k })),
        }),
      };
  }
}
