import { readFile } from 'node:fs/promises';
import { isNode, isPair, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';

/** One problem in one of our files, located by key path and, where known, line. */
export interface Problem {
  file: string;
  line?: number;
  /** Key path inside the file, e.g. `tools[2].caps.rate_per_minute`; empty for the whole file. */
  path: string;
  message: string;
}

/** Thrown by loaders when a file set has problems; carries all of them, not just the first. */
export class ConfigError extends Error {
  constructor(readonly problems: Problem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

/** `file:line: path: message`, the format `mcpgov validate` prints. */
export function formatProblem(p: Problem): string {
  const where = p.line === undefined ? p.file : `${p.file}:${p.line}`;
  return p.path ? `${where}: ${p.path}: ${p.message}` : `${where}: ${p.message}`;
}

/** Renders a key path as `a.b[2].c`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

/** A parsed YAML file that can map key paths back to line numbers. */
export class YamlFile {
  private constructor(
    readonly file: string,
    readonly data: unknown,
    private readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
  ) {}

  /** Reads and parses `file`; syntax errors come back as problems rather than exceptions. */
  static async read(file: string): Promise<{ yaml?: YamlFile; problems: Problem[] }> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      return { problems: [{ file, path: '', message: `cannot read: ${(err as Error).message}` }] };
    }
    return YamlFile.parse(file, text);
  }

  /** Parses YAML text that came from `file`. */
  static parse(file: string, text: string): { yaml?: YamlFile; problems: Problem[] } {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length > 0) {
      return {
        problems: doc.errors.map((e) => ({
          file,
          line: lines.linePos(e.pos[0]).line,
          path: '',
          message: e.message.split('\n')[0] ?? 'invalid YAML',
        })),
      };
    }
    const data: unknown = doc.toJS({ maxAliasCount: 100 }) ?? {};
    return { yaml: new YamlFile(file, data, doc, lines), problems: [] };
  }

  /** Line of the node at `path` (or of its key, for a key that should not be there). */
  lineOf(path: readonly PropertyKey[], keyOnly = false): number | undefined {
    let node: unknown = this.doc.contents;
    let keyNode: unknown;
    for (const key of path) {
      if (!isNode(node) || !('items' in node) || !Array.isArray(node.items)) break;
      if (typeof key === 'number') {
        keyNode = undefined;
        node = node.items[key];
      } else {
        const pair = node.items.find(
          (item: unknown) => isPair(item) && isScalar(item.key) && item.key.value === key,
        );
        if (!isPair(pair)) break;
        keyNode = pair.key;
        node = pair.value;
      }
    }
    const target = keyOnly && keyNode ? keyNode : (node ?? keyNode);
    const range = isNode(target) ? target.range : undefined;
    return range ? this.lines.linePos(range[0]).line : undefined;
  }

  /** Validates the data against a strict zod schema, reporting every issue with its line. */
  validate<S extends z.ZodType>(schema: S): { value?: z.infer<S>; problems: Problem[] } {
    return validateData(this.file, this.data, schema, (path, keyOnly) => this.lineOf(path, keyOnly));
  }
}

/**
 * Validates parsed data against a strict zod schema, reporting every issue as a problem in `file`,
 * located by `lineOf` where the format has lines (YAML sources; canonical JSON in bundles has none).
 */
export function validateData<S extends z.ZodType>(
  file: string,
  data: unknown,
  schema: S,
  lineOf: (path: readonly PropertyKey[], keyOnly?: boolean) => number | undefined = () => undefined,
): { value?: z.infer<S>; problems: Problem[] } {
  const result = schema.safeParse(data);
  if (result.success) return { value: result.data, problems: [] };
  const problems: Problem[] = [];
  const report = (issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[]) => {
    for (const issue of issues) {
      const at = [...prefix, ...issue.path];
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) {
          const path = [...at, key];
          problems.push({ file, line: lineOf(path, true), path: formatPath(path), message: 'unknown key' });
        }
        continue;
      }
      if (issue.code === 'invalid_union' && issue.errors.length > 0) {
        // Every shape lacks its own required key: name them all. Otherwise the shape the entry
        // has the keys of is the one meant: report its issues, not zod's "Invalid input".
        const missing = issue.errors.map((branch) => branch.flatMap(missingKey));
        if (missing.every((keys) => keys.length > 0)) {
          const [first, ...others] = missing.map((keys) => `"${String(keys[0])}"`);
          const message = `missing required key ${first}${others.length > 0 ? ` (or ${others.join(' or ')})` : ''}`;
          problems.push({ file, line: lineOf(at, true), path: formatPath(at), message });
          continue;
        }
        const closest = [...issue.errors].sort(
          (a, b) => a.flatMap(missingKey).length - b.flatMap(missingKey).length || a.length - b.length,
        )[0]!;
        report(closest, at);
        continue;
      }
      if (issue.code === 'invalid_type' && at.length > 0 && / received undefined$/.test(issue.message)) {
        const parent = at.slice(0, -1);
        const message = `missing required key "${String(at.at(-1))}"`;
        problems.push({ file, line: lineOf(parent, true), path: formatPath(parent), message });
        continue;
      }
      problems.push({ file, line: lineOf(at), path: formatPath(at), message: issue.message });
    }
  };
  report(result.error.issues, []);
  return { problems };
}

/** The key an issue says is missing, when it is one directly under the object checked. */
function missingKey(issue: z.core.$ZodIssue): PropertyKey[] {
  const missing =
    issue.code === 'invalid_type' && issue.path.length === 1 && / received undefined$/.test(issue.message);
  return missing ? [issue.path[0]!] : [];
}

/** A JSON document (a file of a policy bundle) validated like a YAML source, without line numbers. */
export class JsonDocument {
  constructor(
    readonly file: string,
    readonly data: unknown,
  ) {}

  /** Parses JSON text that came from `file`; a syntax error comes back as a problem. */
  static parse(file: string, text: string): { doc?: JsonDocument; problems: Problem[] } {
    try {
      return { doc: new JsonDocument(file, JSON.parse(text)), problems: [] };
    } catch (err) {
      return { problems: [{ file, path: '', message: `invalid JSON: ${(err as Error).message}` }] };
    }
  }

  /** JSON documents in bundles are canonical one-liners: no useful line numbers. */
  lineOf(): number | undefined {
    return undefined;
  }

  /** Validates the data against a strict zod schema, reporting every issue with its key path. */
  validate<S extends z.ZodType>(schema: S): { value?: z.infer<S>; problems: Problem[] } {
    return validateData(this.file, this.data, schema);
  }
}
