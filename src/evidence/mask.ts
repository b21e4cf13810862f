import { sha256Hex } from './hash.js';
import { randomTokenSpans } from './secrets/entropy.js';
import { OWN_RULES } from './secrets/own-rules.js';
import { SecretRulesFileSchema, SecretScanner, type Span } from './secrets/rules.js';
import { isSecretKey } from './secrets/secret-keys.js';
import gitleaksRules from './secrets/gitleaks-rules.json' with { type: 'json' };

export { isSecretKey };

/** What replaces a secret. */
export const MASK = '[masked]';
const MAX_DEPTH = 64;
/** Longest free text (intent, messages, rationale) kept in a record, in characters. */
export const MAX_TEXT_CHARS = 2000;

const GITLEAKS = SecretRulesFileSchema.parse(gitleaksRules);
/** gitleaks' default rules, with its global allowlist. */
const gitleaks = new SecretScanner(GITLEAKS.rules, GITLEAKS.allowlist);
/** Ours: URLs with credentials, auth headers, key blocks, JWTs, secret-named values in text, issuer prefixes. */
const own = new SecretScanner(OWN_RULES);

/** The scanners, for tests (every pattern compiles; the prefilter's expression is linear). */
export const SCANNERS = { gitleaks, own } as const;

/** Where `text` holds secrets, by every rule and the entropy check, as sorted disjoint spans. */
export function secretSpans(text: string): Span[] {
  const all = [...gitleaks.scan(text), ...own.scan(text), ...randomTokenSpans(text)];
  if (all.length <= 1) return all;
  all.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [start, end] of all) {
    const last = merged[merged.length - 1];
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return merged;
}

/** `text` with every secret in it replaced by `[masked]` (the rest kept, so a URL stays readable). */
export function maskSecrets(text: string): string {
  const spans = secretSpans(text);
  if (spans.length === 0) return text;
  let out = '';
  let at = 0;
  for (const [start, end] of spans) {
    out += text.slice(at, start) + MASK;
    at = end;
  }
  return out + text.slice(at);
}

/**
 * Free text bound for a record (an intent, an error message, a verifier's rationale): cut to
 * `maxChars` (back to a word boundary, so no secret is kept in part), then masked like argument values.
 */
export function maskText(text: string, maxChars: number = MAX_TEXT_CHARS): string {
  if (text.length <= maxChars) return maskSecrets(text);
  let space = maxChars;
  while (space > 0 && !/\s/.test(text[space]!)) space--;
  const kept = text.slice(0, space);
  return `${maskSecrets(kept)} [... ${text.length - kept.length} more characters]`;
}

/** RFC 6901 reference token escaping. */
function pointerToken(key: string | number): string {
  return String(key).replace(/~/g, '~0').replace(/\//g, '~1');
}

/** A member name not yet used in `out`, for a key whose own text had to be masked. */
function freeName(out: Record<string, unknown>, name: string): string {
  if (!Object.hasOwn(out, name)) return name;
  for (let i = 2; ; i++) if (!Object.hasOwn(out, `${name}#${i}`)) return `${name}#${i}`;
}

const digestOf = (text: string) => `[digest sha256:${sha256Hex(text)} ${Buffer.byteLength(text)} bytes]`;

/**
 * Masks arguments before they enter evidence: values under secret-looking keys become `[masked]`
 * (whole lists and objects too), secrets inside strings (and keys) are replaced where they sit,
 * strings over `maxValueBytes` become a digest (and are never scanned). Returns the masked copy and
 * the JSON Pointers (RFC 6901) of everything replaced. Objects are copied into null-prototype
 * objects, so a `__proto__` member stays a member. The input is never modified.
 */
export function maskArguments(
  args: unknown,
  opts: { maxValueBytes?: number } = {},
): { args: unknown; masked: string[] } {
  const maxBytes = opts.maxValueBytes ?? 4096;
  const masked: string[] = [];
  const visit = (value: unknown, pointer: string, depth: number): unknown => {
    if (typeof value === 'string') {
      // Three bytes per UTF-16 unit at most: only a string that might be over the limit is measured.
      if (value.length * 3 > maxBytes && Buffer.byteLength(value) > maxBytes) {
        masked.push(pointer);
        return digestOf(value);
      }
      const clean = maskSecrets(value);
      if (clean !== value) masked.push(pointer);
      return clean;
    }
    if (value === null || typeof value !== 'object') return value;
    if (depth >= MAX_DEPTH) {
      masked.push(pointer);
      return digestOf(JSON.stringify(value));
    }
    if (Array.isArray(value)) return value.map((v, i) => visit(v, `${pointer}/${i}`, depth + 1));
    const out = Object.create(null) as Record<string, unknown>;
    for (const [k, v] of Object.entries(value)) {
      // A key is text like any value: over the limit it becomes a digest, unscanned.
      const cleanKey =
        k.length * 3 > maxBytes && Buffer.byteLength(k) > maxBytes ? digestOf(k) : maskSecrets(k);
      const key = cleanKey === k ? k : freeName(out, cleanKey);
      const p = `${pointer}/${pointerToken(key)}`;
      if (key !== k) masked.push(p);
      if (isSecretKey(k) && v !== null && v !== '') {
        if (key === k) masked.push(p);
        out[key] = MASK;
      } else {
        out[key] = visit(v, p, depth + 1);
      }
    }
    return out;
  };
  return { args: visit(args, '', 0), masked };
}

const maskings = new WeakMap<object, { args: unknown; masked: string[] }>();

/**
 * `maskArguments` with the default limits, computed once per arguments object: the decision record
 * and the session history (what stage 2 may show an LLM judge) both keep the masked form.
 */
export function maskedArguments(args: object): { args: unknown; masked: string[] } {
  let known = maskings.get(args);
  if (known === undefined) maskings.set(args, (known = maskArguments(args)));
  return known;
}
