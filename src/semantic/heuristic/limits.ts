import type { SemanticSignal } from '../types.js';
import { flattenStrings } from './text.js';

/**
 * How much of each text the offline verifier reads. Every pattern it runs is linear in its input
 * (`npm run check` enforces it with eslint-plugin-regexp), and these bounds make its work per call
 * bounded too: a 1 MiB argument costs what 64 KiB costs. What a bound leaves unread is said, never
 * silently passed: text after a cut is where an attacker would hide what the verifier must not see.
 */

/**
 * Argument text read per call, all strings together. 65,536 characters hold a command, a message or
 * a source file; the verifier reads that much in about 20 ms. Longer arguments are cut (short
 * strings are read whole first, the long ones share the rest) and `unread_content` names the cut.
 */
export const MAX_ARGUMENT_CHARS = 65_536;
/** Argument strings read per call (array items and object values): 500 fill any form a tool takes. */
export const MAX_ARGUMENT_STRINGS = 500;
/** Intent characters read: the PEPs keep 2,000 (a request, not a document); eval cases get the same. */
export const MAX_INTENT_CHARS = 2_000;
/**
 * Characters of a tool's description and of each schema string read: descriptions run to a few
 * hundred characters; one longer than 16,000 hides something, and `unread_content` says so.
 */
export const MAX_DESCRIPTION_CHARS = 16_000;
/** Characters of one earlier result read for instructions: the PEPs keep 4,000 by default. */
export const MAX_RESULT_CHARS = 16_000;
/** Result characters read per call over the whole session, newest first: 12 results of 4,000. */
export const MAX_HISTORY_CHARS = 48_000;
/**
 * Encoded text decoded per result (base64, hex, URL encoding; see decode.ts): 8,000 characters of
 * decoded text, from at most 16 encoded runs. An instruction fits in a few hundred; a result that
 * is mostly encoded data (an image, a key) gains nothing from reading more of it.
 */
export const MAX_DECODED_CHARS = 8_000;
/** Encoded runs decoded per result, longest first. */
export const MAX_ENCODED_RUNS = 16;

/** What a bound left unread: where, and how much of how much (characters, or strings). */
export interface Unread {
  where: string;
  read: number;
  total: number;
  unit: 'characters' | 'strings';
}

/** The arguments' strings as the verifier reads them, each cut to its share of the bound. */
export function readArguments(args: Record<string, unknown>): {
  args: { path: string; text: string }[];
  unread: Unread[];
} {
  const all = flattenStrings(args, '', [], MAX_ARGUMENT_STRINGS + 1);
  const unread: Unread[] = [];
  if (all.length > MAX_ARGUMENT_STRINGS) {
    all.length = MAX_ARGUMENT_STRINGS;
    unread.push({ where: 'the arguments', read: MAX_ARGUMENT_STRINGS, total: all.length, unit: 'strings' });
  }
  // Shortest first, each takes what it needs up to an even share of what is left: paths and
  // recipients are read whole, and one huge value cannot push them out.
  const share = new Map<number, number>();
  let left = MAX_ARGUMENT_CHARS;
  const order = all.map((a, i) => i).sort((a, b) => all[a]!.text.length - all[b]!.text.length);
  order.forEach((index, k) => {
    const take = Math.min(all[index]!.text.length, Math.floor(left / (order.length - k)));
    share.set(index, take);
    left -= take;
  });
  const read = all.map((a, i) => {
    const take = share.get(i) ?? 0;
    if (take < a.text.length) {
      unread.push({ where: a.path || 'the arguments', read: take, total: a.text.length, unit: 'characters' });
    }
    return take < a.text.length ? { path: a.path, text: a.text.slice(0, take) } : a;
  });
  return { args: read, unread };
}

/** `text` cut to `max` characters, noting the cut in `unread` under `where`. */
export function readText(text: string, max: number, where: string, unread: Unread[]): string {
  if (text.length <= max) return text;
  unread.push({ where, read: max, total: text.length, unit: 'characters' });
  return text.slice(0, max);
}

/**
 * `unread_content`: part of the call (an argument or the tool's description) is longer than the
 * verifier reads. It cannot vouch for what it did not read, so this alone escalates (0.5): the
 * caller splits the content, or a person looks.
 */
export function unreadContent(unread: readonly Unread[]): SemanticSignal[] {
  if (unread.length === 0) return [];
  const top = unread.reduce((a, b) => (b.total - b.read > a.total - a.read ? b : a));
  const more = unread.length > 1 ? ` (+${unread.length - 1} more)` : '';
  const total = top.unit === 'strings' ? `more than ${top.read}` : String(top.total);
  return [
    {
      name: 'unread_content',
      detail: `read ${top.read} of ${total} ${top.unit} of ${top.where}${more}`,
      score: 0.5,
    },
  ];
}
