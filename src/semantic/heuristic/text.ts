import lemmatizer from 'wink-lemmatizer';

/**
 * Text features the heuristic verifier compares: content terms (lowercase lemmas without stop words),
 * entities (emails, URLs, hosts, identifiers with digits, numbers, names), and sentences. Identifiers
 * are split the way tools are named (`GmailSendEmail`, `delete_bucket`, `fs__write_file`).
 */

/** Words that carry no topic: English function words and the filler of tool names and requests. */
const STOP_WORDS = new Set(
  (
    'a an the and or but nor if then else of to in on at by for from with without into onto over under ' +
    'about as is are was were be been being am do does did done have has had having it its this that these ' +
    'those there here i me my mine we us our you your yours he him his she her they them their what which ' +
    'who whom whose when where why how all any some no not only own same so than too very can will would ' +
    'shall should may might must just also up down out off again further once more most other such each ' +
    'both few please kindly thanks thank help want need like let make sure via per using use tool tools ' +
    'api manager app service server function call name value id ids type true false null none yes ok'
  ).split(' '),
);

/** Bound on the memo of word lemmas; English text in one process rarely exceeds it. */
const MAX_MEMO = 50_000;
const memo = new Map<string, string>();

/** The lemma of one lowercase word: its verb form if WordNet knows one, else its noun form. */
export function lemma(word: string): string {
  let out = memo.get(word);
  if (out !== undefined) return out;
  if (!/^[a-z]+$/.test(word) || word.length < 3) out = word;
  else {
    const verb = lemmatizer.verb(word);
    out = verb !== word ? verb : lemmatizer.noun(word);
  }
  if (memo.size >= MAX_MEMO) memo.clear();
  memo.set(word, out);
  return out;
}

/** Lowercase words of a text, with identifiers split at `_`, `-`, `.`, `/` and camelCase boundaries. */
export function words(text: string): string[] {
  const out: string[] = [];
  for (const run of text.match(/[\p{L}\p{N}]+/gu) ?? []) {
    // An upper-case run ends before the capital that starts a word: `HTTPServer` -> http, server.
    for (const part of run.match(/\p{Lu}?\p{Ll}+|\p{Lu}(?:\p{Lu}(?!\p{Ll}))*|\p{N}+|\p{L}+/gu) ?? []) {
      out.push(part.toLowerCase());
    }
  }
  return out;
}

/** Content terms: lemmas of the words, without stop words and one-letter tokens. */
export function terms(text: string): string[] {
  const out: string[] = [];
  for (const word of words(text)) {
    if (word.length < 2 || STOP_WORDS.has(word)) continue;
    const l = lemma(word);
    if (!STOP_WORDS.has(l)) out.push(l);
  }
  return out;
}

/** Content terms as a set. */
export function termSet(text: string): Set<string> {
  return new Set(terms(text));
}

// Every pattern below that starts with a repeated class starts only where a run of that class
// starts (a lookbehind), so a long run that does not match is crossed once, not once per position.
const EMAIL = /(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+/g;
const URL = /(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*:\/\/[^\s'"<>)\]}]+/gi;
const HOST =
  /(?<![a-z0-9.-])(?:[a-z0-9-]+\.)+(?:com|net|org|io|dev|ai|co|us|uk|de|ru|cn|info|biz|xyz|app|cloud)\b/gi;
/** Runs that may be identifiers; `identifier` decides. */
const WORD_RUN = /[\w-]+/g;
const NUMBER = /(?<![\w.])\d[\d,]*(?:\.\d+)?(?!\w)/g;
/** Names joined with `-` or `_` (`bastion-sg`, `ext-bob`, `customer-invoices`): resource and account ids. */
const JOINED = /\b[A-Za-z][A-Za-z0-9]*(?:[-_][A-Za-z0-9]+)+\b/g;
/** IPv4 addresses and CIDR ranges. */
const IPV4 = /\b(?:\d{1,3}\.){3}\d{1,3}(?:\/\d{1,2})?\b/g;
/** Capitalised words inside a sentence: names of people, products, places. */
const NAME = /(?<=[\p{Ll}\p{N},;:] )\p{Lu}\p{Ll}{2,}/gu;

/**
 * Things a call can point at: emails, URLs and their hosts, identifiers (with digits, or joined
 * with `-`/`_`), IP addresses, numbers of 3+ digits, and capitalised names. Lowercased, so `Amy` in a result matches `amy` in an argument.
 */
export function entities(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.match(EMAIL) ?? []) {
    out.add(m.toLowerCase());
    out.add(m.slice(m.indexOf('@') + 1).toLowerCase());
  }
  for (const m of text.match(URL) ?? []) {
    out.add(m.toLowerCase().replace(/(?<![.,:;])[.,:;]+$/, ''));
    const host = /^[a-z]+:\/\/([^/:?#]+)/i.exec(m)?.[1];
    if (host) out.add(host.toLowerCase().replace(/^www\./, ''));
  }
  for (const m of text.match(HOST) ?? []) out.add(m.toLowerCase().replace(/^www\./, ''));
  for (const m of text.match(WORD_RUN) ?? []) {
    const id = identifier(m);
    if (id !== undefined) out.add(id.toLowerCase());
  }
  for (const m of text.match(JOINED) ?? []) out.add(m.toLowerCase());
  for (const m of text.match(IPV4) ?? []) out.add(m);
  for (const m of text.match(NUMBER) ?? []) {
    const digits = m.replace(/,/g, '');
    if (digits.replace(/\..*/, '').length >= 3) out.add(digits);
  }
  for (const m of text.match(NAME) ?? []) out.add(m.toLowerCase());
  return out;
}

/**
 * An identifier that names one thing: letters and digits mixed, 4+ characters (`guest_amy01`,
 * `INV-2291`, `0x6e8f`), from a run of word characters and dashes without its outer dashes.
 */
function identifier(run: string): string | undefined {
  const id = run.replace(/^-+|(?<!-)-+$/g, '');
  return id.length >= 4 && /\d/.test(id) && /[A-Za-z]/.test(id) ? id : undefined;
}

/**
 * Sentences, also inside serialised data: a tool result is often JSON or a Python dict whose string
 * values hold the prose, so quotes next to `:` `,` and brackets end a sentence too. Chinese and
 * Japanese end one with 。！？ and no space.
 */
export function sentences(text: string): string[] {
  return text
    .split(/(?<=[.!?])\s+|(?<=[。！？])|\n+|\\n|[{}[\]|]|['"]\s*[:,]\s*['"]?|:\s*['"]/)
    .map((s) => s.trim().replace(/^['"(]+|(?<!['")])['")]+$/g, ''))
    .filter((s) => /\p{L}/u.test(s));
}

/**
 * Every string (and number) inside a value, with its key path: what a call's arguments say. At most
 * `max` of them (500 fill any form a tool takes; limits.ts notes a cut).
 */
export function flattenStrings(
  value: unknown,
  at = '',
  out: { path: string; text: string }[] = [],
  max = 500,
): { path: string; text: string }[] {
  if (out.length >= max) return out;
  if (typeof value === 'string') out.push({ path: at, text: value });
  else if (typeof value === 'number' || typeof value === 'boolean')
    out.push({ path: at, text: String(value) });
  else if (Array.isArray(value)) {
    for (let i = 0; i < value.length && out.length < max; i++)
      flattenStrings(value[i], `${at}[${i}]`, out, max);
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (out.length >= max) break;
      flattenStrings(v, at ? `${at}.${k}` : k, out, max);
    }
  }
  return out;
}

/** The last key of a flattened path: `observations[0].entityName` -> `entityName`. */
export function keyOf(path: string): string {
  return (
    path
      .replace(/\[\d+\]/g, '')
      .split('.')
      .at(-1) ?? ''
  );
}

/** Shortens a quote for a signal's detail line. */
export function excerpt(text: string, max = 80): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}
