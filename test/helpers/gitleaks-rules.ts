/**
 * Converts gitleaks' default configuration (TOML) into the JSON rule file the masker loads
 * (src/evidence/secrets/gitleaks-rules.json), keeping each rule's fields verbatim and dropping what
 * only applies to files (path rules, path allowlists, descriptions).
 *
 *   node dist/test/helpers/gitleaks-rules.js src/evidence/secrets/gitleaks.toml > src/evidence/secrets/gitleaks-rules.json
 *   npx prettier --write src/evidence/secrets/gitleaks-rules.json
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';
import type { SecretRulesFile } from '../../src/evidence/secrets/rules.js';

interface TomlAllowlist {
  condition?: string;
  regexTarget?: string;
  regexes?: string[];
  stopwords?: string[];
  paths?: string[];
}

interface TomlRule {
  id: string;
  regex?: string;
  secretGroup?: number;
  entropy?: number;
  keywords?: string[];
  allowlists?: TomlAllowlist[];
}

function allowlist(a: TomlAllowlist) {
  return {
    ...(a.condition === undefined ? {} : { condition: a.condition as 'AND' | 'OR' }),
    ...(a.regexTarget === undefined ? {} : { regexTarget: a.regexTarget as 'secret' | 'match' | 'line' }),
    ...(a.regexes === undefined ? {} : { regexes: a.regexes }),
    ...(a.stopwords === undefined ? {} : { stopwords: a.stopwords }),
    // A path criterion never holds for a value (there is no file), which an AND allowlist must know.
    ...(a.paths === undefined ? {} : { paths: true as const }),
  };
}

/** The rule file for one gitleaks configuration text. */
export function convertGitleaksToml(text: string, source: string): SecretRulesFile {
  const config = parse(text) as unknown as { allowlist?: TomlAllowlist; rules: TomlRule[] };
  return {
    source,
    allowlist: {
      regexes: config.allowlist?.regexes ?? [],
      stopwords: config.allowlist?.stopwords ?? [],
    },
    rules: config.rules
      .filter((r) => r.regex !== undefined)
      .map((r) => ({
        id: r.id,
        regex: r.regex!,
        ...(r.secretGroup === undefined ? {} : { secretGroup: r.secretGroup }),
        ...(r.entropy === undefined ? {} : { entropy: r.entropy }),
        keywords: r.keywords ?? [],
        ...(r.allowlists === undefined ? {} : { allowlists: r.allowlists.map(allowlist) }),
      })),
  };
}

/** Where the vendored configuration came from, recorded in the rule file. */
export const GITLEAKS_SOURCE = 'gitleaks default configuration (config/gitleaks.toml), MIT License';

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: gitleaks-rules.js GITLEAKS_TOML');
  process.stdout.write(
    `${JSON.stringify(convertGitleaksToml(readFileSync(file, 'utf8'), GITLEAKS_SOURCE))}\n`,
  );
}
