import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { parseAgentAction, type ActionForm } from './agent-action.js';
import { EvalCaseSchema, type EvalCase } from './case.js';

/**
 * Turns R-Judge records (multi-turn agent transcripts labelled safe or unsafe) into eval cases. What a
 * PEP would have seen decides the mapping:
 * - the call under test is the last agent turn that calls a tool; turns that only talk to the user
 *   ("Final Answer: ...", a summary) are no tool call and no PEP sees them;
 * - earlier calls, each with the environment's answer as its result, are the history;
 * - the user's turns before that call are the intent (the first one is the request; later ones
 *   continue it); the agent's thoughts are never used, a PEP does not see them;
 * - label 1 (unsafe) expects `escalate`, label 0 (safe) expects `allow`.
 * Records without any tool call are skipped and counted. The record's risk description is not copied.
 */

/** One turn of an R-Judge transcript. External data: extra keys are tolerated. */
const TurnSchema = z.union([
  z.object({ role: z.literal('user'), content: z.string().nullable() }),
  z.object({ role: z.literal('environment'), content: z.string().nullable() }),
  z.object({
    role: z.literal('agent'),
    thought: z.string().nullable().optional(),
    action: z.string().nullable(),
  }),
]);

export const RJudgeRecordSchema = z.object({
  id: z.union([z.number(), z.string()]),
  scenario: z.string().optional(),
  contents: z.array(z.array(TurnSchema)),
  label: z.union([z.literal(0), z.literal(1)]),
});
export type RJudgeRecord = z.infer<typeof RJudgeRecordSchema>;

/** The converted cases, split deterministically into a development half and a held-out half. */
export interface RJudgeConversion {
  records: number;
  cases: { dev: EvalCase[]; test: EvalCase[] };
  /** Records that produced no case, and why. */
  skipped: { id: string; reason: string }[];
  /** How the calls under test were written. */
  forms: Partial<Record<ActionForm, number>>;
}

/** Converts parsed R-Judge JSON (an array of records). Throws on a record that does not fit the schema. */
export function convertRJudge(data: unknown): RJudgeConversion {
  const records = z.array(RJudgeRecordSchema).parse(data);
  const out: RJudgeConversion = {
    records: records.length,
    cases: { dev: [], test: [] },
    skipped: [],
    forms: {},
  };
  for (const record of records) {
    const converted = convertRecord(record);
    if ('reason' in converted) {
      out.skipped.push({ id: String(record.id), reason: converted.reason });
      continue;
    }
    out.forms[converted.form] = (out.forms[converted.form] ?? 0) + 1;
    out.cases[splitOf(converted.case.id)].push(converted.case);
  }
  return out;
}

/** One record to one case: the last tool call, with everything the session saw before it. */
export function convertRecord(
  record: RJudgeRecord,
): { case: EvalCase; form: ActionForm } | { reason: string } {
  const turns = record.contents.flat();
  const intent: string[] = [];
  const calls: { tool: string; arguments: Record<string, unknown>; result?: string; form: ActionForm }[] = [];
  const intentBefore: number[] = [];
  turns.forEach((turn, i) => {
    if (turn.role === 'user' && turn.content?.trim()) intent.push(turn.content.trim());
    if (turn.role !== 'agent') return;
    const action = parseAgentAction(turn.action);
    if (action.kind !== 'call') return;
    const next = turns[i + 1];
    const result =
      next?.role === 'environment' && typeof next.content === 'string' ? next.content : undefined;
    calls.push({ tool: action.tool, arguments: action.arguments, form: action.form, result });
    intentBefore.push(intent.length);
  });
  const last = calls.at(-1);
  if (!last) return { reason: 'no tool call: the agent only answered the user' };
  const userTurns = intent.slice(0, intentBefore.at(-1));
  const id = `rjudge-${record.id}`;
  const candidate = {
    id,
    note: `R-Judge record ${record.id}${record.scenario ? ` (${record.scenario})` : ''}, label ${record.label}`,
    intent: userTurns.length > 0 ? userTurns.join('\n') : undefined,
    tool: { name: last.tool },
    arguments: last.arguments,
    history: calls.slice(0, -1).map((c) => ({
      tool: c.tool,
      arguments: c.arguments,
      ...(c.result === undefined ? {} : { result: c.result }),
    })),
    expect: record.label === 1 ? 'escalate' : 'allow',
  };
  return { case: EvalCaseSchema.parse(candidate), form: last.form };
}

/** Half the records by a hash of the case id: stable across runs and independent of file order. */
export function splitOf(id: string): 'dev' | 'test' {
  const first = createHash('sha256').update(id).digest()[0] as number;
  return first % 2 === 0 ? 'dev' : 'test';
}

/** Reads the dataset file and writes `rjudge-dev.jsonl` and `rjudge-test.jsonl` into `outDir`. */
export async function convertRJudgeFile(
  inFile: string,
  outDir: string,
): Promise<RJudgeConversion & { files: string[] }> {
  const conversion = convertRJudge(JSON.parse(await readFile(inFile, 'utf8')));
  await mkdir(outDir, { recursive: true });
  const files: string[] = [];
  for (const split of ['dev', 'test'] as const) {
    const file = path.join(outDir, `rjudge-${split}.jsonl`);
    await writeFile(file, conversion.cases[split].map((c) => `${JSON.stringify(c)}\n`).join(''));
    files.push(file);
  }
  return { ...conversion, files };
}
