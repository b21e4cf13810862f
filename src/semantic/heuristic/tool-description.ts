import type { SemanticInput, SemanticSignal } from '../types.js';
import { MAX_DESCRIPTION_CHARS } from './limits.js';
import { excerpt, flattenStrings } from './text.js';

/**
 * Poisoned tool descriptions ("tool poisoning"): a downstream server can hide orders for the model in
 * a tool's description or its input schema, which the user never sees. A description's job is to say
 * what the tool does; one that tells the model what else to do, what to hide, or which secrets to
 * read is an attack whatever the call's arguments are.
 */
const PATTERNS: [RegExp, number, string][] = [
  [
    /<\/?(important|system|instructions?|secret|hidden)>|\[(system|important)\]/i,
    0.9,
    'a hidden-instruction block',
  ],
  [
    /\b(ignore|disregard|forget|override)\b[\w\s,]{1,30}\b(previous|prior|above|earlier|other|all)\b[\w\s]{1,20}\b(instructions?|prompts?|rules?|tools?|guidelines?)\b/i,
    0.95,
    'an order to ignore other instructions',
  ],
  [
    /\b(do not|don't|never|without)\s+(tell|telling|inform|informing|notify|mention|mentioning|reveal|show|alert)\w*\b[\w\s]{1,25}\b(user|human|owner|anyone)\b/i,
    0.9,
    'an order to keep something from the user',
  ],
  [
    /\b(before|after|when|whenever)\s+(using|calling|you use|you call|running)\b[\w\s,]{1,40}\b(read|call|pass|send|include|fetch|cat|open|upload)\b/i,
    0.7,
    'an order to do something else around the call',
  ],
  [
    /(^|[\s'"/~(`])\.ssh\b|\bid_(rsa|ed25519)\b|\.aws\/credentials|(^|[\s'"/(`])\.env\b|\/etc\/(passwd|shadow)\b|\bmcp\.json\b|\.cursor\/|\bclaude_desktop_config\b/i,
    0.8,
    'a reference to files that hold secrets',
  ],
  [
    /\b(read|include|pass|send|attach|append|copy)\b[^.\n]{1,40}(\bcontents? of [`'"]?[~./$]|\b(private keys?|passwords?|credentials|secrets?|tokens)\b)/i,
    0.6,
    'an order to pass secrets along',
  ],
  [
    /\b(send|post|upload|forward|exfiltrate|transmit|leak)\b[^.\n]{0,80}\b(https?:\/\/|[\w.+-]+@[\w-]+\.\w+)/i,
    0.8,
    'an order to send data to an address',
  ],
  [
    /\b(instead of|rather than|in place of)\b[\w\s]{1,30}\b(tool|function)\b|\b(always|must)\s+(use|call)\s+this\s+tool\b|\b(also|must|should)\s+(call|invoke|run)\s+[\w.-]*__\w/i,
    0.6,
    'an order about which tools to call',
  ],
  // Usage notes address the model too ("you must give an absolute path"): alone, this is weak.
  [
    /(?<!\b(when|if|whenever|where|unless)\s)\b(you|the (assistant|model|agent|ai))\s+(must|should|need to|have to|are required to)\b/i,
    0.25,
    'orders for the model',
  ],
];
/** Invisible characters: zero-width, bidirectional overrides, Unicode tag characters. */
const INVISIBLE = /[\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF\u{E0000}-\u{E007F}]/u;

/** `poisoned_description`: the strongest finding in the description and schema texts, with a count of the rest. */
export function poisonedDescription(input: SemanticInput): SemanticSignal[] {
  // Read as far as limits.ts allows; features.ts names what is longer (`unread_content`).
  const texts = [
    { where: 'description', text: input.tool.description ?? '' },
    ...flattenStrings(input.tool.inputSchema ?? {})
      .filter((s) => s.text.length > 12)
      .map((s) => ({ where: `inputSchema.${s.path}`, text: s.text })),
  ].map((t) => ({ where: t.where, text: t.text.slice(0, MAX_DESCRIPTION_CHARS) }));
  const found: { score: number; what: string; where: string; quote: string }[] = [];
  for (const { where, text } of texts) {
    if (INVISIBLE.test(text)) found.push({ score: 0.9, what: 'invisible characters', where, quote: '' });
    for (const [re, score, what] of PATTERNS) {
      const m = re.exec(text);
      if (m) found.push({ score, what, where, quote: excerpt(text.slice(Math.max(0, m.index - 20)), 70) });
    }
  }
  if (found.length === 0) return [];
  found.sort((a, b) => b.score - a.score);
  const top = found[0] as (typeof found)[number];
  // Several distinct findings are stronger evidence than the strongest alone.
  const kinds = new Set(found.map((x) => x.what)).size;
  const score = Math.min(1, top.score + 0.05 * (kinds - 1));
  const also = kinds > 1 ? ` (+${kinds - 1} more)` : '';
  return [
    {
      name: 'poisoned_description',
      detail: `${top.what} in the tool's ${top.where}${top.quote ? `: "${top.quote}"` : ''}${also}`,
      score: Math.round(score * 1000) / 1000,
    },
  ];
}
