import { shannonEntropy, type Span } from './rules.js';

/** Shortest token judged by entropy: shorter random strings are too often ordinary ids. */
export const MIN_TOKEN = 20;
/** Shortest part (between `-` and `_`) of a token judged alone. */
const MIN_PART = 16;
/** Least bits per character for a part to count as random. */
const MIN_BITS = 3.3;
/** Most share of a part's characters inside word-like letter runs (`Report`, `final`, `LTSC`). */
const MAX_WORDINESS = 0.4;

/**
 * Characters of base64, base64url and most API key alphabets. `.` is not one (it splits host and file
 * names), nor `=` (it splits `name=value`; base64 padding carries nothing).
 */
function isTokenChar(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) || // 0-9
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x61 && c <= 0x7a) || // a-z
    c === 0x2b || // +
    c === 0x2f || // /
    c === 0x5f || // _
    c === 0x2d // -
  );
}

const HEX = /^[0-9a-fA-F-]+$/;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isUpper = (c: number) => c >= 0x41 && c <= 0x5a;
const isLower = (c: number) => c >= 0x61 && c <= 0x7a;

/** Vowels (and `y`) in `part[start, end)`: a run of letters reads as a word when a quarter or more are vowels. */
function vowels(part: string, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) if ('aeiouyAEIOUY'.includes(part[i]!)) n++;
  return n;
}

/** Share of characters in runs of four or more letters that read as words: `lower`, `Capital`, `UPPER`. */
function wordiness(part: string): number {
  let inWords = 0;
  let i = 0;
  while (i < part.length) {
    const start = i;
    const c = part.charCodeAt(i);
    if (isUpper(c)) {
      i++;
      if (i < part.length && isLower(part.charCodeAt(i)))
        while (i < part.length && isLower(part.charCodeAt(i))) i++;
      else while (i < part.length && isUpper(part.charCodeAt(i))) i++;
    } else if (isLower(c)) {
      while (i < part.length && isLower(part.charCodeAt(i))) i++;
    } else {
      i++;
      continue;
    }
    if (i - start >= 4 && vowels(part, start, i) * 4 >= i - start) inWords += i - start;
  }
  return inWords / part.length;
}

/** One part of a token: letters and digits mixed, few word-like runs, high Shannon entropy. */
function isRandomPart(part: string): boolean {
  if (part.length < MIN_PART || HEX.test(part)) return false;
  let digits = 0;
  let letters = 0;
  for (let i = 0; i < part.length; i++) {
    const c = part.charCodeAt(i);
    if (isDigit(c)) digits++;
    else if (isUpper(c) || isLower(c)) letters++;
  }
  if (digits === 0 || letters === 0) return false;
  return wordiness(part) <= MAX_WORDINESS && shannonEntropy(part) >= MIN_BITS;
}

/**
 * Whether a token looks like a random secret. Hex (digests, UUIDs) is never judged: `sha256:<hex>`
 * and ids are everywhere in evidence, and hex secrets are caught by key names and issuer rules. A
 * path (leading `/`, or its letters nearly all lower case) is judged by its segments, and any token
 * by its parts between `-` and `_`, so `deploy-7d9f8b6c5-x2x9z` or `/srv/app/2024/notes` stay
 * readable while base64 and base62 keys (few separators, long random parts) do not.
 */
export function isRandomToken(token: string): boolean {
  if (token.length < MIN_TOKEN || HEX.test(token)) return false;
  let lowers = 0;
  let uppers = 0;
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    if (isLower(c)) lowers++;
    else if (isUpper(c)) uppers++;
  }
  const pathLike = token.includes('/') && (token.startsWith('/') || lowers >= (lowers + uppers) * 0.8);
  const segments = pathLike ? token.split('/') : [token];
  return segments.some((segment) => segment.split(/[-_]/).some(isRandomPart));
}

/** Spans of random-looking tokens in a text: a linear scan, no regular expression. */
export function randomTokenSpans(text: string): Span[] {
  const spans: Span[] = [];
  if (text.length < MIN_TOKEN) return spans;
  let start = -1;
  for (let i = 0; i <= text.length; i++) {
    const inside = i < text.length && isTokenChar(text.charCodeAt(i));
    if (inside && start === -1) start = i;
    else if (!inside && start !== -1) {
      if (i - start >= MIN_TOKEN && isRandomToken(text.slice(start, i))) spans.push([start, i]);
      start = -1;
    }
  }
  return spans;
}
