import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CaseLoadError, loadCases, parseCases } from '../../../src/evals/load.js';

const good = (id: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    id,
    intent: 'read notes',
    tool: { name: 'fs__read_text_file' },
    arguments: {},
    expect: 'allow',
    ...extra,
  });

describe('eval case files (JSONL)', () => {
  it('reads one case a line, skipping blank lines, with defaults for arguments and history', () => {
    const { cases, problems } = parseCases(
      `${good('a')}\n\n${JSON.stringify({ id: 'b', tool: { name: 't' }, expect: 'deny' })}\n`,
      'x.jsonl',
    );
    expect(problems).toEqual([]);
    expect(cases.map((c) => [c.case.id, c.line])).toEqual([
      ['a', 1],
      ['b', 3],
    ]);
    expect(cases[1]?.case).toMatchObject({ arguments: {}, history: [] });
  });

  it('reports every bad line with file and line: invalid JSON, wrong values, unknown keys', () => {
    const text = [
      good('ok'),
      '{"id": "broken",',
      good('bad-expect', { expect: 'maybe' }),
      good('typo', { histroy: [] }),
      good('bad-history', { history: [{ tool: 'x', result: 42 }] }),
    ].join('\n');
    const { cases, problems } = parseCases(text, 'cases/x.jsonl');
    expect(cases.map((c) => c.case.id)).toEqual(['ok']);
    expect(problems.map((p) => `${p.file}:${p.line}`)).toEqual([
      'cases/x.jsonl:2',
      'cases/x.jsonl:3',
      'cases/x.jsonl:4',
      'cases/x.jsonl:5',
    ]);
    expect(problems[0]?.message).toMatch(/^invalid JSON/);
    expect(problems[1]?.message).toMatch(/^expect: /);
    expect(problems[2]?.message).toContain('histroy');
    expect(problems[3]?.message).toMatch(/^history\.0\.result: /);
  });

  it('loads the files a set of globs matches and refuses duplicate ids across them', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-evals-'));
    await mkdir(path.join(dir, 'cases'));
    await writeFile(path.join(dir, 'cases', 'a.jsonl'), `${good('one')}\n${good('two')}\n`);
    await writeFile(path.join(dir, 'cases', 'b.jsonl'), `${good('three')}\n`);
    await writeFile(path.join(dir, 'cases', 'skip.txt'), 'not a case file');
    const loaded = await loadCases(['cases/*.jsonl'], dir);
    expect(loaded.map((c) => `${c.file}:${c.line}:${c.case.id}`)).toEqual([
      'cases/a.jsonl:1:one',
      'cases/a.jsonl:2:two',
      'cases/b.jsonl:1:three',
    ]);
    expect((await loadCases(['cases/*.jsonl', '!cases/b.jsonl'], dir)).length).toBe(2);

    await writeFile(path.join(dir, 'cases', 'c.jsonl'), `\n${good('two')}\n`);
    const error = await loadCases(['cases/*.jsonl'], dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CaseLoadError);
    expect((error as CaseLoadError).message).toBe(
      'cases/c.jsonl:2: duplicate case id "two" (first at cases/a.jsonl:2)',
    );
  });

  it('says so when no file matches', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-evals-'));
    await expect(loadCases(['nothing/*.jsonl'], dir)).rejects.toThrow('no case file matches');
  });
});
