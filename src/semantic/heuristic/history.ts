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
 * and each two results in a row together, so that an instruction split across two reads is read
 * whole (the model reading the session joins them too). One budget for all of it, newest calls
 * first. What a result (or a pair of results) says is worked out once and remembered: a session's
 * next call reads the same earlier results again, and only its newest result is new.
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
    entries.unshift({ tool: entry.tool, index: i, instructions: readText(result).instructions });
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
  // Texts are joined by a line break, which no term or entity runs across: the union is the same.
  const terms = new Set<string>();
  const found = new Set<string>();
  for (const text of texts) {
    const read = readText(text);
    for (const t of read.terms) terms.add(t);
    for (const e of read.entities) found.add(e);
  }
  return { entries, terms, entities: found };
}

/** What one text says: its instructions (also in what it encodes), terms and entities. */
interface ReadText {
  instructions: Instruction[];
  terms: ReadonlySet<string>;
  entities: ReadonlySet<string>;
}

/** Texts read lately, newest last; bounded, so a long-running process keeps a few sessions' worth. */
const readTexts = new Map<string, ReadText>();
const pairs = new Map<string, Instruction[]>();
const REMEMBERED = 2048;

/** Forgets every text read: the next call reads its session as new (for measurements). */
export function forgetReadTexts(): void {
  readTexts.clear();
  pairs.clear();
}

/** Remembers `value` under `key` in `cache`, forgetting the longest unused entry beyond the bound. */
function remember<T>(cache: Map<string, T>, key: string, make: () => T): T {
  let value = cache.get(key);
  if (value !== undefined) {
    cache.delete(key);
    cache.set(key, value);
    return value;
  }
  value = make();
  cache.set(key, value);
  if (cache.size > REMEMBERED) cache.delete(cache.keys().next().value as string);
  return value;
}

function readText(text: string): ReadText {
  if (!text) return EMPTY_READ;
  return remember(readTexts, text, () => ({
    instructions: resultInstructions(text),
    terms: termSet(text),
    entities: entities(text),
  }));
}
const EMPTY_READ: ReadText = { instructions: [], terms: new Set(), entities: new Set() };

/** The instructions of one result: in its text, and in the encoded text it holds. */
function resultInstructions(result: string): Instruction[] {
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
 * Each two results in a row are read together around where they meet: the end of the first and the
 * start of the second, each cut at a sentence break about `REACH` characters from the seam.
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
  const spans: HistoryFeatures['entries'] = [];
  for (let k = 0; k + 1 < results.length; k++) {
    const from = results[k] as (typeof results)[number];
    const to = results[k + 1] as (typeof results)[number];
    const found = seamInstructions(tail(from.text), head(to.text)).filter(
      (instruction) => (seen.get(instruction.text) ?? -1) < instruction.strength,
    );
    if (found.length > 0)
      spans.push({ tool: from.tool, index: from.index, last: to.index, instructions: found });
  }
  return spans;
}

/** How far from the seam of two results their joined reading looks, in characters (about). */
const REACH = 1_000;

/**
 * The instructions of `before` and `after` read as one text that touch `after`: those in `before`
 * alone were found in it, or at the seam before it. Quoted with ` ‖ ` at the seam.
 */
function seamInstructions(before: string, after: string): Instruction[] {
  return remember(pairs, `${before}\u0000${after}`, () => {
    const joined = before + after;
    const out: Instruction[] = [];
    let cursor = 0;
    for (const instruction of findInstructions(joined, MAX_HISTORY_CHARS)) {
      const at = joined.indexOf(instruction.text, cursor);
      if (at >= 0) cursor = at;
      if (at >= 0 && at + instruction.text.length <= before.length) continue;
      out.push({
        ...instruction,
        text: at < 0 ? instruction.text : withBoundaries(instruction.text, at, [0, before.length]),
      });
    }
    return out;
  });
}

/** The end of a result from a sentence break about REACH characters before it (all of a short one). */
function tail(text: string): string {
  if (text.length <= REACH) return text;
  const from = text.length - REACH;
  const br = text.slice(from, from + REACH / 2).search(SENTENCE_END);
  return br < 0 ? text.slice(from) : text.slice(from + br + 1);
}

/** The start of a result to a sentence break about REACH characters into it (all of a short one). */
function head(text: string): string {
  if (text.length <= REACH) return text;
  const br = text.slice(REACH, REACH * 2).search(SENTENCE_END);
  return br < 0 ? text.slice(0, REACH * 2) : text.slice(0, REACH + br + 1);
}
const SENTENCE_END = /[.!?\n。！？]/;

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
