import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { checkSync } from 'recheck';
import { RE2JS } from 're2js';
import { describe, expect, it } from 'vitest';
import { SCANNERS } from '../../../src/evidence/mask.js';
import { OWN_RULES } from '../../../src/evidence/secrets/own-rules.js';
import { SecretRulesFileSchema, SecretScanner } from '../../../src/evidence/secrets/rules.js';
import { REPO } from '../../helpers/fixture.js';
import { convertGitleaksToml, GITLEAKS_SOURCE } from '../../helpers/gitleaks-rules.js';

const RULES_DIR = path.join(REPO, 'src/evidence/secrets');
const vendoredRules = () =>
  SecretRulesFileSchema.parse(JSON.parse(readFileSync(path.join(RULES_DIR, 'gitleaks-rules.json'), 'utf8')));

describe('secret rules', () => {
  it('are the vendored gitleaks configuration, converted field by field', async () => {
    const toml = await readFile(path.join(RULES_DIR, 'gitleaks.toml'), 'utf8');
    const rules = vendoredRules();
    expect(rules).toEqual(convertGitleaksToml(toml, GITLEAKS_SOURCE));
    expect(rules.rules.length).toBeGreaterThan(200);
  });

  it('all compile with RE2JS, a linear-time engine that refuses backreferences and lookaround', () => {
    // A pattern RE2 accepts matches in time linear in the input: no rule can backtrack.
    expect(() => SCANNERS.gitleaks.compileAll()).not.toThrow();
    expect(() => SCANNERS.own.compileAll()).not.toThrow();
    expect(() => RE2JS.compile('(a+)\\1')).toThrow();
    expect(() => RE2JS.compile('(?=a)a')).toThrow();
  });

  it('refuses a rule that is not RE2, naming it', () => {
    const scanner = new SecretScanner([{ id: 'backtracking', regex: '(x+)+\\1', keywords: ['x'] }]);
    expect(() => scanner.scan('xxx')).toThrow(/secret rule backtracking/);
  });

  it('every rule has keywords, so a text with none of them runs no pattern', () => {
    for (const rule of [...vendoredRules().rules, ...OWN_RULES]) {
      expect(rule.keywords.length, rule.id).toBeGreaterThan(0);
    }
    for (const text of ['m1234', 'hello world', '/srv/demo/notes/plan.md', 'summarise the notes']) {
      expect(SCANNERS.gitleaks.candidates(text), text).toEqual([]);
      expect(SCANNERS.own.candidates(text), text).toEqual([]);
    }
  });

  it('prefilters with one expression that a ReDoS checker finds safe', () => {
    for (const re of [SCANNERS.gitleaks.anyKeyword!, SCANNERS.own.anyKeyword!]) {
      const verdict = checkSync(re.source, re.flags, { timeout: 20_000 });
      expect(verdict.status, re.source.slice(0, 80)).toBe('safe');
    }
  });
});
