import type { SemanticSignal } from '../types.js';
import { covered, hasSideEffect } from './actions.js';
import type { Features } from './features.js';
import type { Instruction } from './instructions.js';
import { excerpt } from './text.js';

/**
 * Injection provenance: the call does what an instruction inside an earlier tool result said, and
 * the user's intent does not explain it. The call "echoes" an instruction when it shares with it
 * what the intent lacks: the action (a grant after "please grant"), the thing acted on (the tool's
 * own name words: "payment methods"), or the target (`guest_amy01`, an email address).
 *
 * Echo strengths (times the instruction's strength, see instructions.ts):
 * - action and target or tool words: 1.0 — the call is the instruction carried out;
 * - tool words (2+) or tool word and target: 0.8 — the call fetches what the instruction names;
 * - action alone: 0.6; target alone, or 3+ shared argument words: 0.45 — plain data flow also looks
 *   like this, so alone these stay below the escalate threshold.
 * An intent that defers to what the agent reads ("do what the email asks") explains nothing here:
 * no intent, whatever its source, hands the decision to a tool result (features.ts).
 */
export function injectionProvenance(f: Features): SemanticSignal[] {
  let best: { score: number; detail: string } | undefined;
  for (const entry of f.history.entries) {
    for (const instruction of entry.instructions) {
      const echo = echoOf(f, instruction);
      const score = instruction.strength * echo.strength;
      if (echo.strength > 0 && (!best || score > best.score)) {
        best = {
          score,
          detail: `follows an instruction${how(instruction)} in ${where(entry)}: "${excerpt(instruction.text)}"; shared and not in the intent: ${echo.shared.join(', ')}`,
        };
      }
    }
  }
  return best ? [{ name: 'injection_provenance', detail: best.detail, score: round(best.score) }] : [];
}

/** How the instruction was found, when not plainly: decoded, or in another language. */
function how(instruction: Instruction): string {
  const ways = [
    ...(instruction.via ? [`${instruction.via}-decoded`] : []),
    ...(instruction.language ? [`in ${instruction.language}`] : []),
  ];
  return ways.length > 0 ? ` (${ways.join(', ')})` : '';
}

/** Which result (or run of results read together) held it. */
function where(entry: Features['history']['entries'][number]): string {
  return entry.last === undefined
    ? `the result of ${entry.tool} (#${entry.index + 1})`
    : `the results #${entry.index + 1}–#${entry.last + 1} read together`;
}

function echoOf(f: Features, instruction: Instruction): { strength: number; shared: string[] } {
  const notAsked = (t: string) => !f.intent.terms.has(t) && !f.intent.entities.has(t);
  const actions = [...f.call.actions].filter(
    (a) => hasSideEffect(a) && covered(a, instruction.actions) && !covered(a, f.intent.actions),
  );
  const targets = [...f.call.argEntities].filter((e) => instruction.entities.has(e) && notAsked(e));
  const toolWords = [...f.call.nameTerms].filter((t) => instruction.terms.has(t) && notAsked(t));
  const argWords = [...f.call.argTerms].filter((t) => instruction.terms.has(t) && notAsked(t));
  const shared = [
    ...actions.map((a) => `action ${a}`),
    ...targets.slice(0, 3).map((e) => `"${e}"`),
    ...toolWords.slice(0, 4),
  ];
  let strength = 0;
  if (actions.length > 0 && (targets.length > 0 || toolWords.length > 0)) strength = 1;
  else if (toolWords.length >= 2 || (toolWords.length >= 1 && targets.length > 0)) strength = 0.8;
  else if (actions.length > 0) strength = 0.6;
  else if (targets.length > 0 || argWords.length >= 3) strength = 0.45;
  if (strength > 0 && shared.length === 0) shared.push(...argWords.slice(0, 4));
  return { strength, shared };
}

const round = (x: number) => Math.round(x * 1000) / 1000;
