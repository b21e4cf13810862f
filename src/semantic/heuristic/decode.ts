import { MAX_DECODED_CHARS, MAX_ENCODED_RUNS } from './limits.js';

/**
 * Encoded text inside a tool result: the model reading it can decode base64, hex or URL encoding
 * and follow what it says, so the verifier reads it decoded too. Only what decodes to text (valid
 * UTF-8, letters and spaces, no control characters) counts: an image, a key or a digest decodes to
 * bytes and is left alone. Bounded: the longest MAX_ENCODED_RUNS runs, MAX_DECODED_CHARS in all.
 */
export interface Decoded {
  encoding: 'base64' | 'hex' | 'url';
  text: string;
}

/**
 * Runs of the base64 alphabets (standard and URL-safe) of 24+ characters (18+ bytes: a short
 * sentence); runs of hex digits; tokens with percent escapes. Each starts where its run starts, so
 * a long run is crossed once.
 */
const BASE64_RUN = /(?<![\w+/-])[\w+/-]{24,}={0,2}/g;
const HEX_RUN = /(?<![\da-f])[\da-f]{32,}(?![\da-f])/gi;
const PERCENT_ESCAPE = /%[\da-f]{2}/gi;
/** A token holding 3+ percent escapes is URL-encoded text ("Ignore%20all%20previous..."). */
const MIN_ESCAPES = 3;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The decoded texts of the encoded runs in `text`, longest runs first. */
export function decodedTexts(text: string): Decoded[] {
  const runs: { encoding: Decoded['encoding']; run: string }[] = [];
  for (const run of text.match(BASE64_RUN) ?? []) runs.push({ encoding: 'base64', run });
  for (const run of text.match(HEX_RUN) ?? []) if (run.length % 2 === 0) runs.push({ encoding: 'hex', run });
  for (const token of text.split(/\s+/)) {
    if ((token.match(PERCENT_ESCAPE)?.length ?? 0) >= MIN_ESCAPES) runs.push({ encoding: 'url', run: token });
  }
  const out: Decoded[] = [];
  let budget = MAX_DECODED_CHARS;
  for (const { encoding, run } of runs
    .sort((a, b) => b.run.length - a.run.length)
    .slice(0, MAX_ENCODED_RUNS)) {
    if (budget <= 0) break;
    // Read no more of a run than the budget can hold once decoded (base64: 4 characters, 3 bytes).
    const decoded = decode(encoding, run.slice(0, Math.ceil((budget * 4) / 3) + 4));
    if (decoded === undefined || !looksLikeText(decoded)) continue;
    const kept = decoded.slice(0, budget);
    budget -= kept.length;
    out.push({ encoding, text: kept });
  }
  return out;
}

function decode(encoding: Decoded['encoding'], run: string): string | undefined {
  try {
    if (encoding === 'url') return decodeURIComponent(run.replace(/\+/g, ' '));
    const bytes = encoding === 'hex' ? Buffer.from(run, 'hex') : Buffer.from(run, 'base64');
    return UTF8.decode(bytes);
  } catch {
    return undefined; // not UTF-8 (binary data), or a broken escape: not text
  }
}

/**
 * Prose rather than bytes that happen to be valid UTF-8: no control characters but line breaks and
 * tabs, at least one space, and mostly letters.
 */
function looksLikeText(text: string): boolean {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is looked for
  if (/[\u0000-\u0008\v\f\u000E-\u001F\u007F\uFFFD]/.test(text) || !/\s/.test(text)) return false;
  const letters = text.match(/\p{L}/gu)?.length ?? 0;
  return letters >= text.length / 2;
}
