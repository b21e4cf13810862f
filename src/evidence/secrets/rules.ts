import { RE2JS } from 're2js';
import { z } from 'zod';

/**
 * One allowlist of a rule, in gitleaks' terms: a finding it matches is not a secret. `regexTarget`
 * says what its regexes test (the secret, the whole match, or the line); `condition` AND needs every
 * criterion present to hold (a `paths` criterion never holds for a value: there is no file).
 */
export const AllowlistSchema = z.strictObject({
  condition: z.enum(['AND', 'OR']).optional(),
  regexTarget: z.enum(['secret', 'match', 'line']).optional(),
  regexes: z.array(z.string()).optional(),
  stopwords: z.array(z.string()).optional(),
  paths: z.literal(true).optional(),
});
export type Allowlist = z.infer<typeof AllowlistSchema>;

/** A detection rule in gitleaks' form: an RE2 pattern, the keywords that must occur for it to run. */
export const SecretRuleSchema = z.strictObject({
  id: z.string().min(1),
  regex: z.string().min(1),
  /** Capture group holding the secret; without it, the first group that matched, or the whole match. */
  secretGroup: z.number().int().nonnegative().optional(),
  /** Least Shannon entropy (bits per character) of a secret; lower ones are not findings. */
  entropy: z.number().nonnegative().optional(),
  /** Lower-case strings one of which must occur in the text (gitleaks' prefilter). */
  keywords: z.array(z.string().min(1)),
  allowlists: z.array(AllowlistSchema).optional(),
});
export type SecretRule = z.infer<typeof SecretRuleSchema>;

/** The vendored rule file: gitleaks' default rules, converted field by field (test/helpers/gitleaks-rules.ts). */
export const SecretRulesFileSchema = z.strictObject({
  source: z.string(),
  allowlist: z.strictObject({ regexes: z.array(z.string()), stopwords: z.array(z.string()) }),
  rules: z.array(SecretRuleSchema),
});
export type SecretRulesFile = z.infer<typeof SecretRulesFileSchema>;

/** A secret found in a text: `[start, end)` in UTF-16 code units. */
export type Span = readonly [number, number];

/** A rule's own check of a candidate, beyond its pattern (our rules: "is this key name secret?"). */
export type SpanCheck = (match: { secret: string; groups: (string | undefined)[] }) => boolean;

/** A rule plus what our own rules add: a check of the match, and masking the whole match. */
export interface ScanRule extends SecretRule {
  check?: SpanCheck;
  wholeMatch?: boolean;
}

interface CompiledAllowlist {
  and: boolean;
  target: 'secret' | 'match' | 'line';
  regexes: RE2JS[];
  stopwords: string[];
  paths: boolean;
}

/**
 * Every pattern compiles with RE2JS, a port of RE2: matching is linear in the input whatever the
 * pattern (no backtracking), which is what lets rules that are data, not reviewed code, run on
 * untrusted text. RE2 syntax is also the dialect gitleaks writes its rules in (Go's regexp).
 */
function compile(pattern: string): RE2JS {
  return RE2JS.compile(pattern);
}

function compileAllowlist(a: Allowlist): CompiledAllowlist {
  return {
    and: a.condition === 'AND',
    target: a.regexTarget ?? 'secret',
    regexes: (a.regexes ?? []).map(compile),
    stopwords: (a.stopwords ?? []).map((w) => w.toLowerCase()),
    paths: a.paths === true,
  };
}

/** Shannon entropy in bits per character (gitleaks' measure). */
export function shannonEntropy(text: string): number {
  if (text.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  const n = [...text].length;
  for (const c of counts.values()) {
    const p = c / n;
    bits -= p * Math.log2(p);
  }
  return bits;
}

function lineAround(text: string, start: number, end: number): string {
  const from = text.lastIndexOf('\n', start - 1) + 1;
  const to = text.indexOf('\n', end);
  return text.slice(from, to === -1 ? text.length : to);
}

function allowed(a: CompiledAllowlist, secret: string, match: string, line: () => string): boolean {
  const results: boolean[] = [];
  if (a.regexes.length > 0) {
    const target = a.target === 'secret' ? secret : a.target === 'match' ? match : line();
    results.push(a.regexes.some((re) => re.test(target)));
  }
  if (a.stopwords.length > 0) {
    const lower = secret.toLowerCase();
    results.push(a.stopwords.some((w) => lower.includes(w)));
  }
  if (a.paths) results.push(false);
  if (results.length === 0) return false;
  return a.and ? results.every(Boolean) : results.some(Boolean);
}

/** Escapes a keyword for a V8 alternation of literals (no quantifiers: linear in the input). */
function escapeLiteral(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

/**
 * A set of rules run the way gitleaks runs them: a keyword prefilter picks the rules that can match
 * (one pass of a literal alternation for the common case that none can), each picked rule runs its
 * pattern, and a finding counts when its secret has the rule's entropy and no allowlist takes it.
 * Patterns compile on first use, so rules that never see their keywords cost nothing.
 */
export class SecretScanner {
  /** The one V8 expression run on every text: a case-insensitive alternation of literal keywords. */
  readonly anyKeyword: RegExp | undefined;
  private readonly byKeyword = new Map<string, number[]>();
  private readonly byFirst = new Map<string, string[]>();
  /** `anyKeyword` with the global flag, for finding every position (reset before each use). */
  private readonly everyKeyword: RegExp | undefined;
  private readonly always: number[] = [];
  private readonly compiled: ({ re: RE2JS; allow: CompiledAllowlist[] } | undefined)[];
  private globalAllow: CompiledAllowlist | undefined;

  constructor(
    private readonly rules: readonly ScanRule[],
    private readonly global: Allowlist = {},
  ) {
    this.compiled = rules.map(() => undefined);
    rules.forEach((rule, i) => {
      if (rule.keywords.length === 0) this.always.push(i);
      for (const k of rule.keywords) {
        const key = k.toLowerCase();
        const list = this.byKeyword.get(key) ?? [];
        list.push(i);
        this.byKeyword.set(key, list);
      }
    });
    const keywords = [...this.byKeyword.keys()].sort((a, b) => b.length - a.length);
    for (const k of keywords) this.byFirst.set(k[0]!, [...(this.byFirst.get(k[0]!) ?? []), k]);
    const alternation = keywords.map(escapeLiteral).join('|');
    this.anyKeyword = keywords.length ? new RegExp(alternation, 'i') : undefined;
    this.everyKeyword = keywords.length ? new RegExp(alternation, 'gi') : undefined;
  }

  /** Compiles every pattern now (start-up), instead of on first use; throws on a bad one. */
  compileAll(): void {
    this.rules.forEach((_, i) => this.rule(i));
    this.allowGlobal();
  }

  /** Ids of the rules whose keywords occur in `text` (the prefilter alone). */
  candidates(text: string): number[] {
    const any = this.anyKeyword;
    if (any === undefined || !any.test(text)) return this.always;
    // Every position where some keyword starts: the alternation finds one, the first-letter index
    // names the others starting there (a keyword inside a longer one is found from its own position).
    const picked = new Set<number>(this.always);
    const scan = this.everyKeyword!;
    scan.lastIndex = 0;
    for (let m = scan.exec(text); m !== null; m = scan.exec(text)) {
      const at = m.index;
      for (const keyword of this.byFirst.get(text[at]!.toLowerCase()) ?? []) {
        if (text.substr(at, keyword.length).toLowerCase() === keyword)
          for (const i of this.byKeyword.get(keyword)!) picked.add(i);
      }
      scan.lastIndex = at + 1;
    }
    return [...picked].sort((a, b) => a - b);
  }

  /** Spans of the secrets in `text`, in no particular order; overlapping spans are possible. */
  scan(text: string): Span[] {
    const spans: Span[] = [];
    for (const i of this.candidates(text)) this.scanRule(i, text, spans);
    return spans;
  }

  private rule(i: number): { re: RE2JS; allow: CompiledAllowlist[] } {
    let c = this.compiled[i];
    if (c === undefined) {
      const rule = this.rules[i]!;
      try {
        c = { re: compile(rule.regex), allow: (rule.allowlists ?? []).map(compileAllowlist) };
      } catch (err) {
        throw new Error(`secret rule ${rule.id}: ${(err as Error).message}`, { cause: err });
      }
      this.compiled[i] = c;
    }
    return c;
  }

  private allowGlobal(): CompiledAllowlist {
    return (this.globalAllow ??= compileAllowlist(this.global));
  }

  private scanRule(i: number, text: string, spans: Span[]): void {
    const rule = this.rules[i]!;
    const { re, allow } = this.rule(i);
    // The DFA answers "any match?" without capture groups; most candidates stop here.
    if (!re.test(text)) return;
    const m = re.matcher(text);
    const groupCount = m.groupCount();
    while (m.find()) {
      let g = rule.wholeMatch ? 0 : (rule.secretGroup ?? 0);
      if (!rule.wholeMatch && rule.secretGroup === undefined) {
        for (let k = 1; k <= groupCount; k++) {
          if (m.start(k) >= 0 && m.end(k) > m.start(k)) {
            g = k;
            break;
          }
        }
      }
      const start = m.start(g);
      const end = m.end(g);
      if (start < 0 || end <= start) continue;
      const secret = text.slice(start, end);
      if (rule.entropy !== undefined && shannonEntropy(secret) < rule.entropy) continue;
      if (rule.check) {
        const groups: (string | undefined)[] = [];
        for (let k = 0; k <= groupCount; k++)
          groups.push(m.start(k) >= 0 ? text.slice(m.start(k), m.end(k)) : undefined);
        if (!rule.check({ secret, groups })) continue;
      }
      const match = text.slice(m.start(), m.end());
      const line = () => lineAround(text, m.start(), m.end());
      if (allow.some((a) => allowed(a, secret, match, line))) continue;
      if (allowed(this.allowGlobal(), secret, match, line)) continue;
      spans.push([start, end]);
    }
  }
}
