import { Document, isMap, isScalar, isSeq, parseDocument, visit, type YAMLMap } from 'yaml';
import { ToolsFileSchema } from '../config/schema.js';
import { ConfigError, YamlFile } from '../config/yaml-file.js';
import { globMatch, isGlob } from './glob.js';
import { NAME_SEPARATOR } from './live-tool.js';

/** A tool a downstream server offers now, by exposed name, with its live definition digest. */
export interface LiveDigest {
  name: string;
  digest: string;
}

/** What pinning does, or would do, for one tool. */
export type PinChange =
  /** An exact entry gets its first pin, or (with `previous`) a pin that differs from the live digest. */
  | { kind: 'pin'; tool: string; digest: string; previous?: string }
  /** A new exact entry, copied from the glob entry that governed the tool, with its pin (`--add`). */
  | { kind: 'add'; tool: string; digest: string; from: string }
  | { kind: 'unchanged'; tool: string; digest: string }
  /** A live tool without an exact entry: only a glob governs it (`entry`), or nothing does. */
  | { kind: 'not_exact'; tool: string; digest: string; entry?: string }
  /** A pinned entry of a started server that no longer offers the tool. */
  | { kind: 'missing'; tool: string; pinned: string };

/** The edited registry text and what changed. */
export interface PinPlan {
  text: string;
  changes: PinChange[];
}

/** Whether a plan shows a pin that differs from the live tool (or a pinned tool that is gone): `--check` fails. */
export function pinsDiffer(changes: readonly PinChange[]): boolean {
  return changes.some((c) => (c.kind === 'pin' && c.previous !== undefined) || c.kind === 'missing');
}

interface Edit {
  at: number;
  /** Replaced up to here (an insertion when equal to `at`). */
  end: number;
  text: string;
}

/**
 * Writes live definition digests into a tool registry's exact-name entries as `definition_digest`,
 * by editing the text in place: comments, key order, quoting and layout of everything else stay
 * byte for byte as they were (the YAML Document only locates the nodes). With `add`, a live tool
 * that only a glob governs gets its own exact entry, a copy of that glob entry (so its access stays
 * the same) inserted just before it. `servers` names the servers whose tools were listed: only their
 * pinned entries can be missing. The result is checked against the registry schema before it is
 * returned; an edit that would not load throws a ConfigError.
 */
export function planPins(
  file: string,
  text: string,
  live: readonly LiveDigest[],
  options: { add: boolean; servers: ReadonlySet<string> },
): PinPlan {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message ?? 'invalid YAML'}`);
  const seq = doc.get('tools', true);
  if (!isSeq(seq) || seq.flow) throw new Error(`${file}: tools must be a block list to be pinned in place`);
  const exact = new Map<string, YAMLMap>();
  const globs: { name: string; item: YAMLMap }[] = [];
  for (const item of seq.items) {
    if (!isMap(item)) continue;
    const name = item.get('name');
    if (typeof name !== 'string') continue;
    if (isGlob(name)) globs.push({ name, item });
    else exact.set(name, item);
  }

  const edits: Edit[] = [];
  const changes: PinChange[] = [];
  for (const { name: tool, digest } of live) {
    const entry = exact.get(tool);
    if (entry) {
      const node = entry.get('definition_digest', true);
      const previous = isScalar(node) && typeof node.value === 'string' ? node.value : undefined;
      if (previous === digest) {
        changes.push({ kind: 'unchanged', tool, digest });
        continue;
      }
      changes.push({ kind: 'pin', tool, digest, ...(previous === undefined ? {} : { previous }) });
      edits.push(
        isScalar(node) && node.range ? replaceValue(node.range, digest) : addPin(text, entry, digest),
      );
      continue;
    }
    const glob = globs.find((g) => globMatch(g.name, tool));
    if (options.add && glob) {
      changes.push({ kind: 'add', tool, digest, from: glob.name });
      edits.push(copyEntry(text, glob.item, tool, digest));
    } else {
      changes.push({ kind: 'not_exact', tool, digest, ...(glob ? { entry: glob.name } : {}) });
    }
  }
  const offered = new Set(live.map((t) => t.name));
  for (const [tool, entry] of exact) {
    const pinned = entry.get('definition_digest');
    const server = tool.split(NAME_SEPARATOR)[0] ?? '';
    if (
      typeof pinned === 'string' &&
      !offered.has(tool) &&
      tool.includes(NAME_SEPARATOR) &&
      options.servers.has(server)
    ) {
      changes.push({ kind: 'missing', tool, pinned });
    }
  }

  const edited = applyEdits(text, edits);
  const { yaml, problems } = YamlFile.parse(file, edited);
  const checked = yaml?.validate(ToolsFileSchema);
  if (!yaml || !checked?.value)
    throw new ConfigError(problems.length > 0 ? problems : (checked?.problems ?? []));
  return { text: edited, changes };
}

function replaceValue(range: readonly number[], digest: string): Edit {
  return { at: range[0] ?? 0, end: range[1] ?? 0, text: digest };
}

/** A `definition_digest` key as the entry's last line (or member, for a flow map). */
function addPin(text: string, entry: YAMLMap, digest: string): Edit {
  const [start = 0, contentEnd = 0] = entry.range ?? [];
  if (entry.flow) {
    let last = text.lastIndexOf('}', contentEnd);
    while (last > start && /\s/.test(text[last - 1] ?? '')) last--;
    return { at: last, end: last, text: `, definition_digest: ${digest}` };
  }
  const lineEnd = endOfLastLine(text, start, contentEnd);
  return {
    at: lineEnd,
    end: lineEnd,
    text: `\n${' '.repeat(column(text, start))}definition_digest: ${digest}`,
  };
}

/** A copy of a glob entry for one tool, with its pin, as a new list item just before the glob's. */
function copyEntry(text: string, glob: YAMLMap, tool: string, digest: string): Edit {
  const start = glob.range?.[0] ?? 0;
  const lineStart = text.lastIndexOf('\n', start - 1) + 1;
  const dash = /^(\s*)-\s+$/.exec(text.slice(lineStart, start));
  if (!dash)
    throw new Error(`cannot add an entry for ${tool} before the entry of ${String(glob.get('name'))}`);
  const { name: _name, description: _description, ...rest } = glob.toJSON() as Record<string, unknown>;
  const copy = new Document([{ name: tool, ...rest, definition_digest: digest }]);
  // Lists of plain values in flow style, as registries write scopes: `scopes: [fs.read]`.
  visit(copy, {
    Seq: (_key, node) => {
      if (node !== copy.contents && node.items.every(isScalar)) node.flow = true;
    },
  });
  const item = copy.toString({ lineWidth: 0, flowCollectionPadding: false });
  const indent = dash[1] ?? '';
  const lines = item
    .trimEnd()
    .split('\n')
    .map((line) => `${indent}${line}\n`);
  return { at: lineStart, end: lineStart, text: lines.join('') };
}

/** The end of the line that holds an entry's last content (its trailing comment included). */
function endOfLastLine(text: string, start: number, contentEnd: number): number {
  let last = contentEnd;
  while (last > start && /\s/.test(text[last - 1] ?? '')) last--;
  const newline = text.indexOf('\n', last);
  return newline === -1 ? text.length : newline;
}

function column(text: string, offset: number): number {
  return offset - (text.lastIndexOf('\n', offset - 1) + 1);
}

/** Applies edits from the end backwards; insertions at one offset keep the order they were made in. */
function applyEdits(text: string, edits: readonly Edit[]): string {
  const ordered = edits.map((e, i) => ({ ...e, i })).sort((a, b) => b.at - a.at || b.i - a.i);
  let out = text;
  for (const e of ordered) out = out.slice(0, e.at) + e.text + out.slice(e.end);
  return out;
}
