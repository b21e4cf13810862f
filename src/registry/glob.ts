/**
 * Shell-style globs over exposed tool names: `*` matches any run of characters, `?` exactly one.
 * Anchored at both ends; every other character is literal, so a name can never inject a regex.
 */
export function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (const ch of pattern) {
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else source += ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}

/** True when `pattern` contains a wildcard. */
export function isGlob(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}

/** Compiled patterns; policies hold a bounded set of globs, so this stays small. */
const compiled = new Map<string, RegExp>();
const MAX_CACHED = 4096;

/** True when `name` matches `pattern` (exact when the pattern has no wildcard). */
export function globMatch(pattern: string, name: string): boolean {
  if (!isGlob(pattern)) return pattern === name;
  let re = compiled.get(pattern);
  if (!re) {
    if (compiled.size >= MAX_CACHED) compiled.clear();
    re = globToRegExp(pattern);
    compiled.set(pattern, re);
  }
  return re.test(name);
}
