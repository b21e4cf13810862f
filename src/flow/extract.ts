/**
 * The values a text carries that a later call could pass on: e-mail addresses, URLs (and their
 * hosts), file paths, long numbers and account-like ids. Each is normalized so the same value
 * written differently (case, a trailing slash, digit grouping) still matches.
 */

/** The kinds of value flow tracking recognizes. */
export type TokenKind = 'email' | 'url' | 'host' | 'path' | 'number' | 'id';

/** One value found in a text, normalized. */
export interface FlowToken {
  kind: TokenKind;
  value: string;
}

// Every pattern here reads untrusted text: each starts only where a run of its characters starts
// (a look-behind), and bounds its repeats, so no input makes it scan a run again and again.
const EMAIL = /(?<![\w%+.-])[\w%+.-]{1,64}@(?:[a-z0-9-]{1,63}\.){1,8}[a-z]{2,24}(?![a-z0-9-])/gi;
const URL_RE = /\bhttps?:\/\/[^\s"'<>()[\]{}]+/gi;
const BARE_HOST =
  /\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:com|net|org|io|dev|app|co|ai|info|biz|xyz|me|us|uk|de|fr|cloud|site|online)\b/gi;
/** Absolute POSIX or Windows paths, and relative ones with at least one separator and an extension. */
const PATH = /~?\/[\w.-]+(?:\/[\w.-]+)+|[a-z]:\\[\w .-]+(?:\\[\w .-]+)*|\b[\w.-]+\/[\w./-]*\.\w{1,8}\b/gi;
/** Digit runs of six or more, allowing the grouping people write (spaces, dashes, dots). */
const NUMBER = /\b\d(?:[ .-]?\d){5,}\b/g;
/** IBANs as people write them, in groups of four (ISO 13616). */
const IBAN = /\b[a-z]{2}\d{2}(?: ?[a-z0-9]{4}){2,7}(?: ?[a-z0-9]{1,3})?\b/gi;
/** Mixed letters and digits, six or more: account numbers, order ids, IBANs, API handles. */
const ID = /(?<![\w-])(?=[\w-]{0,127}\d)(?=[\w-]{0,127}[a-z])[a-z0-9][\w-]{5,127}(?![\w-])/gi;

/** Normalizes a URL for matching: lower-case scheme and host, no trailing slash or fragment. */
function normalizeUrl(raw: string): string {
  const trimmed = trimEnd(raw, '.,;:!?');
  try {
    const u = new URL(trimmed);
    const path = trimEnd(u.pathname, '/');
    return `${u.protocol}//${u.host}${path}${u.search}`.toLowerCase();
  } catch {
    return trimmed.toLowerCase();
  }
}

/** Every flow token in a text, deduplicated, at most `limit`. */
export function extractTokens(text: string, limit = 512): FlowToken[] {
  const seen = new Set<string>();
  const tokens: FlowToken[] = [];
  const add = (kind: TokenKind, value: string) => {
    const key = `${kind}:${value}`;
    if (value.length === 0 || seen.has(key) || tokens.length >= limit) return;
    seen.add(key);
    tokens.push({ kind, value });
  };
  for (const m of text.matchAll(EMAIL)) {
    add('email', m[0].toLowerCase());
    add('host', m[0].slice(m[0].indexOf('@') + 1).toLowerCase());
  }
  for (const m of text.matchAll(URL_RE)) {
    const url = normalizeUrl(m[0]);
    add('url', url);
    try {
      add('host', new URL(url).hostname);
    } catch {
      // not a URL after all: the url token stays, no host
    }
  }
  for (const m of text.matchAll(BARE_HOST)) add('host', m[0].toLowerCase());
  for (const m of text.matchAll(PATH)) {
    if (!m[0].includes('://') && !m[0].includes('@')) add('path', trimEnd(m[0], '/\\'));
  }
  for (const m of text.matchAll(NUMBER)) add('number', m[0].replace(/[ .-]/g, ''));
  for (const m of text.matchAll(IBAN)) add('id', m[0].replace(/ /g, '').toLowerCase());
  for (const m of text.matchAll(ID)) add('id', m[0].toLowerCase());
  return tokens;
}

/** `text` without the trailing characters in `chars` (a loop: a `[...]+$` pattern rescans on failure). */
function trimEnd(text: string, chars: string): string {
  let end = text.length;
  while (end > 0 && chars.includes(text[end - 1]!)) end--;
  return text.slice(0, end);
}

/** Lower case, whitespace collapsed: the form substrings are compared in. */
export function normalizeText(text: string): string {
  return text.toLowerCase().replace(/\s+/g, ' ').trim();
}
