import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';

/**
 * Where a path in a tool call lands on disk, for path rules. A lexical check (`path.resolve`, then a
 * prefix test) is not enough: a symlink inside a folder can point anywhere, and a relative path means
 * whatever the server resolves it against. So the path is resolved as the filesystem does it, and a
 * path that cannot be resolved safely has no real path (callers treat it as outside every folder).
 */

/** More links than this in one lookup fail with ELOOP on Linux (MAXSYMLINKS, path_resolution(7)). */
const MAX_LINKS = 40;
/** PATH_MAX on Linux: a longer path fails with ENAMETOOLONG before any lookup. */
const MAX_PATH_CHARS = 4096;
/** Components looked up per resolution (links included): bounds the filesystem calls one check makes. */
const MAX_LOOKUPS = 512;
/** Separators: only `/` on POSIX, where a backslash is an ordinary character of a name. */
/** One path separator: empty components (from `//`) are dropped after the split. */
const SEPARATOR = path.sep === '\\' ? /[/\\]/ : /\//;

/** Why a path has no real path; callers fail closed on it. */
export class RealPathError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RealPathError';
  }
}

/**
 * The real path of an absolute path, resolved component by component as the kernel does
 * (path_resolution(7)): each symlink is replaced by its target and `..` applies to what the link
 * resolved to. The part that does not exist yet (a file about to be written) is appended lexically
 * after normalization; a missing name with exactly one Unicode-equivalent (NFC) entry beside it is
 * that entry, as server-filesystem maps it. Throws RealPathError on a link loop, too many links or
 * lookups, an ambiguous name, or a lookup that fails for another reason (EACCES): fail closed.
 */
export function realPath(absolute: string): string {
  if (!path.isAbsolute(absolute)) throw new RealPathError('ERELATIVE', `not an absolute path: ${absolute}`);
  if (absolute.length > MAX_PATH_CHARS || absolute.includes('\0')) {
    throw new RealPathError('EINVAL', 'path too long or contains NUL');
  }
  // A stack of the components still to resolve, next one last.
  const pending = components(absolute).reverse();
  let current = path.parse(absolute).root;
  let links = 0;
  let lookups = 0;
  while (pending.length > 0) {
    const part = pending.pop()!;
    if (part === '.') continue;
    if (part === '..') {
      current = path.dirname(current);
      continue;
    }
    if (++lookups > MAX_LOOKUPS) throw new RealPathError('ELOOP', 'too many path components to resolve');
    const next = path.join(current, part);
    const kind = entryKind(next);
    if (kind === 'missing') {
      const equivalent = unicodeEquivalent(current, part);
      if (equivalent !== undefined) {
        pending.push(equivalent);
        continue;
      }
      // Nothing below exists, so no link can redirect the rest: it is what the path says. Unless a
      // `..` steps back out of the missing part into what exists, where links count again (the
      // normalized path has no `..` left, so this recurses once at most).
      const rest = pending.reverse();
      const joined = path.join(next, ...rest);
      return rest.includes('..') ? realPath(joined) : joined;
    }
    if (kind === 'link') {
      if (++links > MAX_LINKS) throw new RealPathError('ELOOP', `more than ${MAX_LINKS} symlinks`);
      const target = readLink(next);
      pending.push(...components(target).reverse());
      if (path.isAbsolute(target)) current = path.parse(target).root;
      continue;
    }
    current = next;
  }
  return current;
}

/**
 * Every real path `p` (a tool call's path argument) may land on, or undefined when it has none that
 * can be trusted. A relative path resolves against the server's roots the way MCP filesystem servers
 * do it: the first root that lexically contains it, else the first root; without roots it has no
 * meaning here. With a `..` component two readings are returned: the server's (normalize, then resolve
 * links, as server-filesystem does) and the kernel's (links first, `..` after), so a rule holds for
 * whichever one the server uses. `~` (a home folder the server expands) is refused.
 */
export function realTargets(p: unknown, roots: readonly string[] = []): string[] | undefined {
  if (typeof p !== 'string' || p === '' || p.startsWith('~') || p.includes('\0')) return undefined;
  if (p.length > MAX_PATH_CHARS) return undefined;
  let raw: string;
  if (path.isAbsolute(p)) raw = p;
  else {
    const bases = roots.filter((r) => typeof r === 'string' && path.isAbsolute(r));
    if (bases.length === 0 || bases.length !== roots.length) return undefined;
    const base = bases.find((r) => contains(r, path.resolve(r, p))) ?? bases[0]!;
    raw = `${base}${path.sep}${p}`;
  }
  try {
    const targets = [realPath(path.resolve(raw))];
    if (components(raw).includes('..')) {
      const kernel = realPath(raw);
      if (kernel !== targets[0]) targets.push(kernel);
    }
    return targets;
  } catch {
    return undefined;
  }
}

/** The real path of a folder named in a rule or the config, or undefined when it has none. */
export function realFolder(folder: unknown): string | undefined {
  if (typeof folder !== 'string' || !path.isAbsolute(folder)) return undefined;
  try {
    return realPath(path.resolve(folder));
  } catch {
    return undefined;
  }
}

/** True when `target` is `folder` or inside it; both already absolute and normalized. */
export function contains(folder: string, target: string): boolean {
  return target === folder || target.startsWith(folder.endsWith(path.sep) ? folder : folder + path.sep);
}

function components(p: string): string[] {
  return p.split(SEPARATOR).filter((c) => c !== '');
}

function entryKind(p: string): 'missing' | 'link' | 'other' {
  try {
    // No exception for the common miss (a file about to be written): building one costs more than the lookup.
    const stat = lstatSync(p, { throwIfNoEntry: false });
    if (stat === undefined) return 'missing';
    return stat.isSymbolicLink() ? 'link' : 'other';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    // ENOTDIR: a file stands where a folder would be, so nothing below it exists either.
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
    throw new RealPathError(code, `${p}: ${(err as Error).message}`);
  }
}

function readLink(p: string): string {
  try {
    return readlinkSync(p);
  } catch (err) {
    throw new RealPathError((err as NodeJS.ErrnoException).code ?? 'EIO', `${p}: ${(err as Error).message}`);
  }
}

/**
 * The one entry of `dir` whose name equals `name` in Unicode NFC, when `name` itself is missing.
 * server-filesystem opens that entry (a decomposed "é" reaches a composed one), so a rule must
 * follow it too. Only names with non-ASCII characters can have such a twin: ASCII is its own NFC.
 */
function unicodeEquivalent(dir: string, name: string): string | undefined {
  // eslint-disable-next-line no-control-regex -- the ASCII range, not control characters
  if (/^[\x00-\x7f]*$/.test(name)) return undefined;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return undefined;
  }
  const wanted = name.normalize('NFC');
  const matches = entries.filter((e) => e !== name && e.normalize('NFC') === wanted);
  if (matches.length > 1) throw new RealPathError('EAMBIGUOUS', `${dir}: several entries equal "${name}"`);
  return matches[0];
}
