import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { glob } from 'tinyglobby';
import { EvalCaseSchema, type EvalCase } from './case.js';

/** A problem in a case file, located by file and line. */
export interface CaseProblem {
  file: string;
  line: number;
  message: string;
}

/** A loaded case and where it came from. */
export interface LoadedCase {
  case: EvalCase;
  file: string;
  line: number;
}

/** Thrown when case files do not load; carries every problem found, not only the first. */
export class CaseLoadError extends Error {
  override name = 'CaseLoadError';
  constructor(readonly problems: CaseProblem[]) {
    super(problems.map(formatCaseProblem).join('\n'));
  }
}

/** `FILE:LINE: MESSAGE`. */
export function formatCaseProblem(p: CaseProblem): string {
  return `${p.file}:${p.line}: ${p.message}`;
}

/** Files matching any of the globs (relative to `cwd`), sorted, each once. */
export async function expandCaseGlobs(patterns: string[], cwd = process.cwd()): Promise<string[]> {
  const files = await glob(patterns, { cwd, absolute: false, onlyFiles: true, expandDirectories: false });
  return [...new Set(files)].sort();
}

/**
 * Parses one JSONL text: one case per non-blank line. Every bad line is reported with its line
 * number (invalid JSON, a schema problem with its key path, a duplicate id), none is skipped.
 */
export function parseCases(text: string, file: string): { cases: LoadedCase[]; problems: CaseProblem[] } {
  const cases: LoadedCase[] = [];
  const problems: CaseProblem[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (e) {
      problems.push({ file, line, message: `invalid JSON: ${(e as Error).message}` });
      return;
    }
    const parsed = EvalCaseSchema.safeParse(json);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const at = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
        problems.push({ file, line, message: `${at}${issue.message}` });
      }
      return;
    }
    cases.push({ case: parsed.data, file, line });
  });
  return { cases, problems };
}

/** Loads every case the globs match. Throws CaseLoadError listing all problems, including duplicate ids. */
export async function loadCases(patterns: string[], cwd = process.cwd()): Promise<LoadedCase[]> {
  const files = await expandCaseGlobs(patterns, cwd);
  const problems: CaseProblem[] = [];
  if (files.length === 0) {
    problems.push({ file: patterns.join(' '), line: 0, message: 'no case file matches' });
  }
  const all: LoadedCase[] = [];
  for (const file of files) {
    const { cases, problems: found } = parseCases(await readFile(path.resolve(cwd, file), 'utf8'), file);
    all.push(...cases);
    problems.push(...found);
  }
  const seen = new Map<string, LoadedCase>();
  for (const c of all) {
    const first = seen.get(c.case.id);
    if (first) {
      problems.push({
        file: c.file,
        line: c.line,
        message: `duplicate case id "${c.case.id}" (first at ${first.file}:${first.line})`,
      });
    } else seen.set(c.case.id, c);
  }
  if (problems.length > 0) throw new CaseLoadError(problems);
  return all;
}
