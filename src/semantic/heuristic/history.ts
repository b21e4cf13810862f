import type { SemanticInput } from '../types.js';
import { decodedTexts } from './decode.js';
import { findInstructions, type Instruction } from './instructions.js';
import { MAX_HISTORY_CHARS } from './limits.js';
import { entities, flattenStrings, termSet } from './text.js';

/** What the session's earlier tool results said. */
export interface HistoryFeatures {
  /**
   * Where instructions were found, oldest first: one entry per earlier call (its result, and the
   * encoded text in it, decoded), then one per run of results that only read together carry an
   * instruction (`last` is then the index of the last of them).
   */
  entries: { tool: string; index: number; last?: number; instructions: Instruction[] }[];
  /** Terms and entities of earlier results and arguments: what the session legitimately passed on. */
  terms: Set<string>;
  entities: Set<string>;
}

/**
 * Reads the session: each earlier result for instructions, also in what it encodes (decode.ts),
 * and all results together, in order, so that an instruction split across two reads is read whole
 * (the model reading the session joins them too). One budget for all of it, newest calls first.
 */
export function historyFeatures(input: SemanticInput): HistoryFeatures {
  const entries: HistoryFeatures['entries'] = [];
  const results: { index: number; tool: string; text: string }[] = [];
  const texts: string[] = [];
  let budget = MAX_HISTORY_CHARS;
  for (let i = input.history.length - 1; i >= 0 && budget > 0; i--) {
    const entry = input.history[i];
    if (!entry) continue;
    const result = (entry.result ?? '').slice(0, budget);
    budget -= result.length;
    entries.unshift({ tool: entry.tool, index: i, instructions: resultInstructions(result) });
    if (result) results.unshift({ index: i, tool: entry.tool, text: result });
    texts.push(result);
    for (const { text } of flattenStrings(entry.arguments)) {
      if (budget <= 0) break;
      const sent = text.slice(0, budget);
      budget -= sent.length;
      texts.push(sent);
    }
  }
  entries.push(...joinedInstructions(results, entries));
  const all = texts.join('\n');
  return { entries, terms: termSet(all), entities: entities(all) };
}

/** The instructions of one result: in its text, and in the encoded text it holds. */
function resultInstructions(result: string): Instruction[] {
  if (!result) return [];
  const found = findInstructions(result);
  for (const { encoding, text } of decodedTexts(result)) {
    for (const instruction of findInstructions(text)) found.push({ ...instruction, via: encoding });
  }
  return found;
}

/**
 * Instructions that only the results read one after another carry: a sentence that runs from one
 * result into the next, or one that an override at the end of a result colours at the start of the
 * next. Results are joined as they are: a split can fall inside a word ("you mu" + "st create").
 */
function joinedInstructions(
  results: { index: number; tool: string; text: string }[],
  entries: HistoryFeatures['entries'],
): HistoryFeatures['entries'] {
  if (results.length < 2) return [];
  const seen = new Map<string, number>();
  for (const entry of entries) {
    for (const i of entry.instructions) seen.set(i.text, Math.max(seen.get(i.text) ?? 0, i.strength));
  }
  const starts: number[] = [];
  let joined = '';
  for (const r of results) {
    starts.push(joined.length);
    joined += r.text;
  }
  const spans = new Map<string, HistoryFeatures['entries'][number]>();
  let cursor = 0;
  for (const instruction of findInstructions(joined, MAX_HISTORY_CHARS)) {
    const at = joined.indexOf(instruction.text, cursor);
    if (at >= 0) cursor = at;
    if ((seen.get(instruction.text) ?? -1) >= instruction.strength) continue;
    // The results the sentence touches. One inside a single result is new here only because an
    // override at the end of the result before coloured it: that one counts too.
    let first = 0;
    let last = results.length - 1;
    if (at >= 0) {
      first = resultAt(starts, at);
      last = resultAt(starts, at + instruction.text.length - 1);
      if (first === last && first > 0) first--;
    }
    const from = results[first] as (typeof results)[number];
    const to = results[last] as (typeof results)[number];
    const key = `${from.index}-${to.index}`;
    const span = spans.get(key) ?? { tool: from.tool, index: from.index, last: to.index, instructions: [] };
    const text = at < 0 ? instruction.text : withBoundaries(instruction.text, at, starts);
    span.instructions.push({ ...instruction, text });
    spans.set(key, span);
  }
  return [...spans.values()];
}

/**
 * The sentence as quoted in a verdict: ` ‖ ` where one result ends and the next begins. Quoted glued,
 * two results could fuse into a token no pattern knows (a key followed by "Echo:"), and the masking of
 * evidence would not see the secret in it.
 */
function withBoundaries(text: string, at: number, starts: readonly number[]): string {
  let out = '';
  let from = 0;
  for (const start of starts) {
    const cut = start - at;
    if (cut <= from || cut >= text.length) continue;
    out += `${text.slice(from, cut)} ‖ `;
    from = cut;
  }
  return out + text.slice(from);
}

/** The index of the result that holds character `offset` of the joined text. */
function resultAt(starts: number[], offset: number): number {
  let i = 0;
  while (i + 1 < starts.length && (starts[i + 1] as number) <= offset) i++;
  return i;
}
