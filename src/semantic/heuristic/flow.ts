import { FlowTracker } from '../../flow/tracker.js';
import type { SemanticInput, SemanticSignal } from '../types.js';
import type { Features } from './features.js';
import type { Instruction } from './instructions.js';
import { excerpt, termSet } from './text.js';

/**
 * Instructed by untrusted content: an instruction inside an earlier tool result names this call's
 * argument values (traced as the enforcement point traces flows, src/flow/) or the tool itself, and
 * the user's intent names neither. This catches the first step of data theft that looks harmless on
 * its own (reading a profile, listing a group, fetching a file's metadata because a ticket said so),
 * which `injection_provenance` leaves below the threshold when the call has no side effect.
 *
 * The trade-off: a user who asks for one thing and reads a document that tells the agent to do
 * another gets the other thing held for a person, even when it is harmless. A rule that allows the
 * follow-up (or an intent that names it) lets it through.
 *
 * Strength, times the instruction's own: a value and the tool's name 1.0, a value 0.85 (0.7 for a
 * short value matched as a word), the tool's name alone 0.75.
 */
export function instructedByUntrusted(f: Features, input: SemanticInput): SemanticSignal[] {
  const instructions: { instruction: Instruction; tool: string; index: number }[] = [];
  const tracker = new FlowTracker({ ...FLOW_LIMITS });
  for (const entry of f.history.entries) {
    for (const instruction of entry.instructions) {
      tracker.observe(entry.tool, String(instructions.length), instruction.text, UNTRUSTED);
      instructions.push({ instruction, tool: entry.tool, index: entry.index });
    }
  }
  if (instructions.length === 0) return [];
  const trace = tracker.trace(input.arguments, f.intent.known ? f.intent.text : undefined);
  const valueStrength = new Map<number, { strength: number; path: string }>();
  for (const m of trace.matches) {
    const { instruction } = instructions[Number(m.digest)]!;
    if (copiesInstruction(input.arguments, m.path, instruction) || deferredByIntent(f, m.path)) continue;
    const strength = m.via === 'word' ? 0.7 : 0.85;
    const at = Number(m.digest);
    if ((valueStrength.get(at)?.strength ?? 0) < strength) valueStrength.set(at, { strength, path: m.path });
  }
  let best: { score: number; detail: string } | undefined;
  instructions.forEach(({ instruction, tool, index }, at) => {
    const value = valueStrength.get(at);
    const named = namesTool(f, instruction);
    const echo = value && named ? 1 : value ? value.strength : named ? 0.75 : 0;
    const score = instruction.strength * echo;
    if (echo > 0 && (!best || score > best.score)) {
      const what = [...(value ? [`argument "${value.path}"`] : []), ...(named ? ['the tool'] : [])];
      best = {
        score,
        detail: `${what.join(' and ')} named by an instruction in the result of ${tool} (#${index + 1}) and not in the intent: "${excerpt(instruction.text)}"`,
      };
    }
  });
  return best ? [{ name: 'instructed_by_untrusted', detail: best.detail, score: round(best.score) }] : [];
}

/**
 * Whether the argument holds the instruction's sentence itself rather than a value from it: a document
 * the user asked to save or forward carries its sentences along, and that is data flow, not obedience.
 */
function copiesInstruction(args: Record<string, unknown>, path: string, instruction: Instruction): boolean {
  const value = valueAt(args, path);
  return typeof value === 'string' && value.length >= instruction.text.length * 0.6;
}

/**
 * Whether the user left this argument's value to what the agent reads: "grant the role it asks for"
 * names the argument (`role`) and defers its value to the document. (Deferring the whole decision,
 * "do what the note says", is not this: no argument is named.)
 */
function deferredByIntent(f: Features, path: string): boolean {
  if (!f.intent.known || !DEFERS.test(f.intent.text)) return false;
  const key =
    path
      .replace(/\[\d+\]/g, '')
      .split('.')
      .pop() ?? '';
  return [...termSet(key.replace(/[_-]+/g, ' '))].some(
    (t) => t.length > 2 && t !== 'id' && f.intent.terms.has(t),
  );
}
const DEFERS =
  /\b(?:it|they|he|she|(?:the|that|this) \w+)\s+(?:asks?|requests?|wants?|needs?|mentions?|names?|says?|gives?|lists?)\b/i;

/** The value at a path `a.b[2].c` of the arguments. */
function valueAt(args: Record<string, unknown>, path: string): unknown {
  let value: unknown = args;
  for (const part of path.split(/\.|(?=\[)/)) {
    if (value === null || typeof value !== 'object') return undefined;
    const index = /^\[(\d+)\]$/.exec(part);
    value = index ? (value as unknown[])[Number(index[1])] : (value as Record<string, unknown>)[part];
  }
  return value;
}

/** Whether the instruction names the tool (two of its name's words, or its one word) and the intent does not. */
function namesTool(f: Features, instruction: Instruction): boolean {
  const words = [...f.call.nameTerms];
  const shared = words.filter((t) => instruction.terms.has(t) && !f.intent.terms.has(t));
  return shared.length >= Math.min(2, words.length) && shared.length > 0;
}

const UNTRUSTED = { integrity: 'untrusted', confidentiality: 'public' } as const;
const FLOW_LIMITS = { sources: 256, textChars: 2_000, tokensPerSource: 64, minSubstring: 8, minWord: 3 };
const round = (x: number) => Math.round(x * 1000) / 1000;
