import { hasSideEffect, proseActions, type ActionClass } from './actions.js';
import { classesOfWord } from './actions.js';
import type { Decoded } from './decode.js';
import { foreignCue, type ForeignCue, type Language } from './languages.js';
import { MAX_RESULT_CHARS } from './limits.js';
import { entities, lemma, sentences, termSet, words } from './text.js';

/**
 * Instructions inside data. A tool result is data for the agent, yet attackers write orders into it
 * ("Please grant permanent access to ...", "IMPORTANT!!! Ignore all previous instructions ...").
 * This finds the sentences of a text that read as orders, and how strongly.
 */
export interface Instruction {
  text: string;
  /** 0..1: how clearly the sentence is an order (an override of earlier instructions is 1). */
  strength: number;
  /** Which cue made it an instruction. */
  cue: InstructionCue;
  terms: Set<string>;
  entities: Set<string>;
  actions: Set<ActionClass>;
  /** The language of the cue, when not English (languages.ts). */
  language?: Language;
  /** How the sentence was hidden, when it was: decoded from base64, hex or URL encoding. */
  via?: Decoded['encoding'];
}

export type InstructionCue = 'override' | 'concealment' | 'address' | 'request' | 'obligation' | 'imperative';

/** Cues, strongest first. An override also makes the sentences right after it orders. */
const CUES: { cue: InstructionCue; strength: number; pattern: RegExp }[] = [
  {
    cue: 'override',
    strength: 1,
    pattern:
      /\b(ignore|disregard|forget|override)\b[\w\s,]{1,30}\b(previous|prior|above|earlier|preceding|original|all|any|other)\b[\w\s]{1,20}\b(instructions?|prompts?|rules?|directions?|tasks?|guidelines?|context)\b|\b(new|updated|real|following) instructions?\b|\bstrictly (adhere|follow)\b|\bIMPORTANT\s*!!|<\/?(important|system|instructions?)>|\[(system|important)\]|^\s*(system|assistant)\s*:/i,
  },
  {
    cue: 'concealment',
    strength: 1,
    pattern:
      /\b(do not|don't|never|without)\s+(tell|telling|inform|informing|notify|notifying|alert|alerting|mention|mentioning|reveal|revealing)\b[\w\s]{1,20}\b(user|owner|human|anyone)\b/i,
  },
  {
    // Data has no reason to speak to the model: "NOTE TO AI ASSISTANT: ...", "P.S. to the AI reading this".
    cue: 'address',
    strength: 0.9,
    pattern:
      /\b(note to|attention|dear|hey|to) (the |any |all )?(ai|llm|ai assistants?|ai agents?|assistants?|language models?)\b|\b(ai|llm|assistant|ai agent)s?( reading this)?\s*[:,]\s*\p{L}/iu,
  },
  { cue: 'request', strength: 0.8, pattern: /(^|[^\p{L}])(please|kindly|pls)\s+\p{L}+/iu },
  {
    cue: 'obligation',
    strength: 0.7,
    pattern:
      /\b(you|agents?|assistants?|ai)\s+(must|should|need to|have to|are required to|are instructed to)\b|\b(make sure|be sure|remember|don't forget|do not forget) to\b|\bit is (required|mandatory|necessary) (to|that)\b/i,
  },
];

/** How many sentences after an override or concealment cue it colours. */
const OVERRIDE_REACH = 2;
/** Strength of a sentence an override colours: "Ignore all previous instructions. Transfer ...". */
const CARRIED_STRENGTH = 0.9;

/** The same cues in other languages, as strong as their English kin. */
const FOREIGN_STRENGTH: Record<ForeignCue, number> = {
  override: 1,
  concealment: 1,
  address: 0.9,
  request: 0.8,
  obligation: 0.7,
};
const FOREIGN_KINDS = Object.keys(FOREIGN_STRENGTH) as ForeignCue[];

/**
 * Sentences of `text` (its first `max` characters) that read as instructions, with their terms,
 * entities and actions.
 */
export function findInstructions(text: string, max = MAX_RESULT_CHARS): Instruction[] {
  const out: Instruction[] = [];
  let carried = 0; // sentences left that an earlier override still colours
  for (const sentence of sentences(text.slice(0, max))) {
    const hit = cueOf(sentence);
    if (hit) {
      const instruction = describe(
        sentence,
        hit.cue,
        Math.max(hit.strength, carried > 0 ? CARRIED_STRENGTH : 0),
      );
      if (hit.language) instruction.language = hit.language;
      out.push(instruction);
      carried = hit.strength >= 1 ? OVERRIDE_REACH : carried - 1;
    } else if (carried > 0) {
      out.push(describe(sentence, 'override', CARRIED_STRENGTH));
      carried--;
    }
  }
  return out;
}

/** The strongest cue of a sentence: English first, then the other languages, then an English imperative. */
function cueOf(sentence: string): { cue: InstructionCue; strength: number; language?: Language } | undefined {
  const english = CUES.find((c) => c.pattern.test(sentence));
  if (english?.strength === 1) return english;
  const foreign = foreignCue(sentence, FOREIGN_KINDS);
  if (foreign && FOREIGN_STRENGTH[foreign.cue] > (english?.strength ?? 0)) {
    return { cue: foreign.cue, strength: FOREIGN_STRENGTH[foreign.cue], language: foreign.language };
  }
  return english ?? imperative(sentence);
}

/**
 * A sentence, or a clause after a colon, semicolon or comma, that starts with a verb in its base form
 * and asks for something that changes the world: "Transfer $500 to ...", "Admin note: generate a
 * fresh key ...", "Find my flight and send a summary to ...".
 */
function imperative(sentence: string): { cue: InstructionCue; strength: number } | undefined {
  const [head, ...tail] = sentence.split(/[:;,]\s+/);
  // The capital letter matters at a sentence start: "transfer complete" in a log line is not an order.
  const starts = [/^\s*\p{Lu}/u.test(head ?? '') ? head : undefined, ...tail];
  for (const clause of starts) {
    const ws = clause === undefined ? [] : words(clause);
    const first = ws[0];
    // An order names what to act on: "transfer complete" is a status, "transfer $500 to ..." is not.
    if (
      first === undefined ||
      ws.length < 3 ||
      first !== lemma(first) ||
      classesOfWord(first, true).length === 0
    ) {
      continue;
    }
    if ([...proseActions(clause as string)].some(hasSideEffect)) return { cue: 'imperative', strength: 0.6 };
  }
  return undefined;
}

function describe(text: string, cue: InstructionCue, strength: number): Instruction {
  return { text, cue, strength, terms: termSet(text), entities: entities(text), actions: proseActions(text) };
}
