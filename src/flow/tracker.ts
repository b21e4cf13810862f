import { extractTokens, normalizeText, type FlowToken, type TokenKind } from './extract.js';
import { maxConfidentiality, type Confidentiality, type Integrity, type ResultLabels } from './labels.js';

/** How much of a session flow tracking keeps: memory is bounded whatever the tools return. */
export interface FlowLimits {
  /** Tool results remembered, newest kept. */
  sources: number;
  /** Characters of each result's normalized text kept for substring matches. */
  textChars: number;
  /** Tokens indexed per result. */
  tokensPerSource: number;
  /** Shortest argument (normalized) that is looked for as a substring of a result. */
  minSubstring: number;
  /**
   * Shortest whole argument looked for as a word of a result when it is shorter than `minSubstring`
   * (`cfo`, `prod`); 0 turns word matches off. Short values are common words, so only a caller that
   * narrows the sources (the offline verifier reads instructions only) turns this on.
   */
  minWord?: number;
}

export const DEFAULT_FLOW_LIMITS: FlowLimits = {
  sources: 64,
  textChars: 16_384,
  tokensPerSource: 512,
  minSubstring: 8,
};

/** One argument value traced to one earlier tool result. Never the value itself: evidence may hold it. */
export interface FlowMatch {
  /** Where in the arguments, e.g. `to`, `recipients[1]`, `message.body`. */
  path: string;
  /** The exposed name of the tool whose result carried the value. */
  source: string;
  /** That result's digest, as its evidence record holds it. */
  digest: string;
  integrity: Integrity;
  confidentiality: Confidentiality;
  /** How it matched: the kind of token, `substring` for a copied span of text, `word` for a short value. */
  via: TokenKind | 'substring' | 'word';
}

/** What flow tracking found for one call: the rule input `flow`, and the flows a decision names. */
export interface FlowTrace {
  matches: FlowMatch[];
  /** Argument paths whose value came from untrusted content and not from the user's intent. */
  argsFromUntrusted: string[];
  /** The most restricted label among the results the arguments came from; undefined if none. */
  maxConfidentialityInArgs?: Confidentiality;
  /** Tools whose results the arguments came from, oldest first. */
  sources: string[];
  /** Whether untrusted content named this tool while the user's intent did not. */
  toolNamedOnlyInUntrusted: boolean;
}

interface StoredSource {
  seq: number;
  tool: string;
  digest: string;
  labels: ResultLabels;
  text: string;
  tokens: FlowToken[];
}

/** How much of a long argument is looked for: spans of this length at a few offsets. */
const PROBE_CHARS = 64;
const PROBES = 8;

/**
 * The labelled values one session has seen. `observe` files each tool result under its tokens and
 * its normalized text; `trace` finds which of a new call's arguments carry those values. Raw text
 * stays in memory only, bounded by `FlowLimits`; what leaves (matches) names paths, tools and digests.
 */
export class FlowTracker {
  private readonly stored: StoredSource[] = [];
  private readonly index = new Map<string, StoredSource[]>();
  private seq = 0;

  constructor(private readonly limits: FlowLimits = DEFAULT_FLOW_LIMITS) {}

  /** Remembers a tool result's values under its labels. */
  observe(tool: string, digest: string, text: string, labels: ResultLabels): void {
    if (this.limits.sources === 0) return;
    const read = readResult(text, this.limits);
    const source: StoredSource = {
      seq: ++this.seq,
      tool,
      digest,
      labels,
      text: read.text,
      tokens: read.tokens,
    };
    this.stored.push(source);
    for (const token of source.tokens) {
      const key = tokenKey(token);
      const list = this.index.get(key);
      if (list) list.push(source);
      else this.index.set(key, [source]);
    }
    while (this.stored.length > this.limits.sources) this.forget(this.stored.shift()!);
  }

  /** How many results are remembered (for tests and metrics). */
  get size(): number {
    return this.stored.length;
  }

  /**
   * Traces a call's arguments to earlier results. A value that also appears in the user's intent is
   * the user's: it is not counted as flowing from a result, whatever else mentioned it.
   */
  trace(
    args: Record<string, unknown>,
    intent: string | undefined,
    toolNames: readonly string[] = [],
    /** Tools the session called before: one of them named in a result is not a new suggestion. */
    calledBefore: readonly string[] = [],
  ): FlowTrace {
    const intentText = intent === undefined ? '' : normalizeText(intent);
    const intentTokens = new Set(intent === undefined ? [] : extractTokens(intent).map(tokenKey));
    const matches: FlowMatch[] = [];
    const seen = new Set<string>();
    const match = (path: string, source: StoredSource, via: FlowMatch['via']) => {
      const key = `${path}\u0000${source.seq}`;
      if (seen.has(key)) return;
      seen.add(key);
      matches.push({
        path,
        source: source.tool,
        digest: source.digest,
        integrity: source.labels.integrity,
        confidentiality: source.labels.confidentiality,
        via,
      });
    };
    if (this.stored.length > 0) {
      walk(args, '', (path, leaf) => {
        for (const token of extractTokens(leaf, 64)) {
          const key = tokenKey(token);
          if (intentTokens.has(key)) continue;
          for (const source of this.index.get(key) ?? []) match(path, source, token.kind);
        }
        const text = normalizeText(leaf);
        const minWord = this.limits.minWord ?? 0;
        if (minWord > 0 && text.length >= minWord && text.length < this.limits.minSubstring) {
          if (intentText.includes(text)) return;
          for (const source of this.stored) if (containsWord(source.text, text)) match(path, source, 'word');
          return;
        }
        if (text.length < this.limits.minSubstring) return;
        for (const probe of probes(text)) {
          if (intentText.includes(probe)) continue;
          for (const source of this.stored) if (source.text.includes(probe)) match(path, source, 'substring');
        }
      });
    }
    return {
      matches,
      argsFromUntrusted: unique(matches.filter((m) => m.integrity === 'untrusted').map((m) => m.path)),
      maxConfidentialityInArgs: matches.reduce<Confidentiality | undefined>(
        (level, m) => maxConfidentiality(level, m.confidentiality),
        undefined,
      ),
      sources: unique(matches.map((m) => m.source)),
      toolNamedOnlyInUntrusted:
        !toolNames.some((n) => calledBefore.includes(n)) && this.namedOnlyInUntrusted(toolNames, intentText),
    };
  }

  /** Whether an untrusted result names one of `names` (as written, or with `_`/`-` as spaces) and the intent none. */
  private namedOnlyInUntrusted(names: readonly string[], intentText: string): boolean {
    const forms = unique(
      names
        .filter((n) => n.length >= 4)
        .flatMap((n) => {
          const lower = n.toLowerCase();
          return [lower, lower.replace(/[_-]+/g, ' ')];
        }),
    );
    if (forms.length === 0 || forms.some((f) => intentText.includes(f))) return false;
    return this.stored.some(
      (s) => s.labels.integrity === 'untrusted' && forms.some((f) => containsWord(s.text, f)),
    );
  }

  private forget(source: StoredSource): void {
    for (const token of source.tokens) {
      const key = tokenKey(token);
      const list = this.index.get(key);
      if (!list) continue;
      const rest = list.filter((s) => s !== source);
      if (rest.length === 0) this.index.delete(key);
      else this.index.set(key, rest);
    }
  }
}

/**
 * A result's normalized text and tokens, remembered for the last few texts: the same text observed
 * again (a re-read file, a replayed session) is not worked out again. Read-only once made.
 */
function readResult(text: string, limits: FlowLimits): { text: string; tokens: FlowToken[] } {
  const key = `${limits.textChars}:${limits.tokensPerSource}:${text}`;
  let read = readResults.get(key);
  if (read === undefined) {
    read = {
      text: normalizeText(text.slice(0, limits.textChars * 2)).slice(0, limits.textChars),
      tokens: extractTokens(text, limits.tokensPerSource),
    };
    readResults.set(key, read);
    if (readResults.size > REMEMBERED_RESULTS) readResults.delete(readResults.keys().next().value as string);
  }
  return read;
}
const readResults = new Map<string, { text: string; tokens: FlowToken[] }>();

/** Forgets every result read: the next observation reads its text as new (for measurements). */
export function forgetReadResults(): void {
  readResults.clear();
}
const REMEMBERED_RESULTS = 256;

function tokenKey(token: FlowToken): string {
  return `${token.kind}:${token.value}`;
}

function unique<T>(items: T[]): T[] {
  return [...new Set(items)];
}

/** `name` in `text` not as part of a longer word (so `send` does not match `sender`). */
function containsWord(text: string, name: string): boolean {
  let from = 0;
  for (;;) {
    const at = text.indexOf(name, from);
    if (at < 0) return false;
    const before = at === 0 ? '' : text[at - 1]!;
    const after = text[at + name.length] ?? '';
    if (!/[a-z0-9_]/.test(before) && !/[a-z0-9_]/.test(after)) return true;
    from = at + 1;
  }
}

/** The spans of a normalized argument looked for in results: all of it when short, else a few probes. */
function probes(text: string): string[] {
  if (text.length <= PROBE_CHARS * 2) return [text];
  const step = Math.max(PROBE_CHARS, Math.floor((text.length - PROBE_CHARS) / (PROBES - 1)));
  const spans: string[] = [];
  for (let at = 0; at + PROBE_CHARS <= text.length && spans.length < PROBES; at += step) {
    spans.push(text.slice(at, at + PROBE_CHARS));
  }
  return spans;
}

/** Calls `visit` with every string (and long-number) leaf of `value` and its path. */
function walk(value: unknown, path: string, visit: (path: string, leaf: string) => void, depth = 0): void {
  if (depth > 16) return;
  if (typeof value === 'string') visit(path, value);
  else if (typeof value === 'number' && Number.isInteger(value) && Math.abs(value) >= 100_000) {
    visit(path, String(Math.abs(value)));
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => walk(item, `${path}[${i}]`, visit, depth + 1));
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      walk(item, path === '' ? key : `${path}.${key}`, visit, depth + 1);
    }
  }
}
