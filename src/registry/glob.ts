/**
 * Shell-style globs over exposed tool names and, in rules (`glob`), over argument values: `*` matches
 * any run of characters, `?` exactly one; every other character is literal and the whole name must
 * match. Matched without a regular expression: `^a.*b.*c$` backtracks polynomially on a long value
 * that almost matches, and rule inputs are untrusted.
 */

/** True when `pattern` contains a wildcard. */
export function isGlob(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}

/**
 * True when `name` matches `pattern` (exact when the pattern has no wildcard). The pieces between
 * stars are found left to right, each at its earliest place: the first piece at the start, the last
 * at the end. Taking the earliest place never loses a match, as every later piece can still move
 * right, so each piece is searched once: time is the name's length times the pattern's.
 */
export function globMatch(pattern: string, name: string): boolean {
  if (!isGlob(pattern)) return pattern === name;
  const pieces = pattern.split('*');
  const first = pieces[0] as string;
  const last = pieces.at(-1) as string;
  if (pieces.length === 1) return name.length === first.length && at(name, first, 0);
  if (name.length < first.length + last.length || !at(name, first, 0)) return false;
  const end = name.length - last.length;
  if (!at(name, last, end)) return false;
  let from = first.length;
  for (const piece of pieces.slice(1, -1)) {
    const found = find(name, piece, from, end);
    if (found < 0) return false;
    from = found + piece.length;
  }
  return true;
}

/** True when `piece` (with `?` for any one character) matches `name` at `index`. */
function at(name: string, piece: string, index: number): boolean {
  for (let i = 0; i < piece.length; i++) {
    if (piece[i] !== '?' && piece[i] !== name[index + i]) return false;
  }
  return true;
}

/** The earliest index in [from, end - piece.length] where `piece` matches, or -1. */
function find(name: string, piece: string, from: number, end: number): number {
  if (!piece.includes('?')) {
    const i = name.indexOf(piece, from);
    return i >= 0 && i + piece.length <= end ? i : -1;
  }
  for (let i = from; i + piece.length <= end; i++) if (at(name, piece, i)) return i;
  return -1;
}
