import { DEFAULT_THRESHOLDS } from '../semantic/heuristic/combine.js';
import { poisonedDescription } from '../semantic/heuristic/tool-description.js';
import type { SemanticInput } from '../semantic/types.js';

/**
 * Invisible characters: Unicode's Default_Ignorable_Code_Point property (UAX #44; UTS #39 treats
 * these as invisible in identifiers). It covers zero-width characters (U+200B-U+200D, U+2060,
 * U+FEFF), bidirectional controls (U+061C, U+200E-U+200F, U+202A-U+202E, U+2066-U+2069), variation
 * selectors and the tag characters U+E0000-U+E007F that "ASCII smuggling" hides text in. A model
 * reads them; a person reviewing the description does not see them.
 */
const INVISIBLE = /\p{Default_Ignorable_Code_Point}/gu;
/** Tag characters U+E0020-U+E007E mirror printable ASCII: a run of them is hidden text. */
const TAG_RUN = /[\u{E0020}-\u{E007E}]+/gu;
const TAG_OFFSET = 0xe0000;

/**
 * A finding at or above the semantic stage's escalate threshold makes a definition poisoned: the
 * same bar at which stage 2 would hold a call for that finding alone. Weaker findings ("you must
 * give an absolute path", a usage note) are recorded only by stage 2, per call.
 */
export const POISON_SCORE = DEFAULT_THRESHOLDS.escalate;

/** One field's finding. */
export interface DefinitionFinding {
  /** Where: `description`, `title`, `annotations.title`, `inputSchema`, `outputSchema`, `name`, or `hidden text`. */
  field: string;
  detail: string;
  score: number;
}

/** What a scan of one tool definition found. */
export interface DefinitionScan {
  /** The definition with every invisible character removed from its keys and strings. */
  clean: Record<string, unknown>;
  /** How many invisible characters were removed. */
  invisible: number;
  /** Findings, strongest first. */
  findings: DefinitionFinding[];
  /** Whether any finding reaches POISON_SCORE. */
  poisoned: boolean;
}

/**
 * Scans a tool definition for hidden instructions with the semantic stage's own detector
 * (`poisoned_description`), field by field, on the text with invisible characters removed (so that
 * zero-width characters cannot split the words a pattern looks for) and on any text hidden in tag
 * characters. A tool name with invisible characters is poisoned outright: it can pose as another tool.
 */
export function scanDefinition(definition: Record<string, unknown>): DefinitionScan {
  const hidden: string[] = [];
  const counter = { removed: 0 };
  const clean = strip(definition, counter, hidden) as Record<string, unknown>;
  const findings: DefinitionFinding[] = [];
  const name = definition['name'];
  if (typeof name === 'string' && name !== clean['name']) {
    findings.push({ field: 'name', detail: 'invisible characters in the tool name', score: 1 });
  }
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const annotations = clean['annotations'] as Record<string, unknown> | undefined;
  const views: [string, SemanticInput['tool']][] = [
    ['description', { name: '', description: text(clean['description']) }],
    ['title', { name: '', description: text(clean['title']) }],
    ['annotations.title', { name: '', description: text(annotations?.['title']) }],
    ['inputSchema', { name: '', inputSchema: clean['inputSchema'] }],
    ['outputSchema', { name: '', inputSchema: clean['outputSchema'] }],
    ['hidden text', { name: '', description: hidden.join('\n') || undefined }],
  ];
  for (const [field, tool] of views) {
    if (tool.description === undefined && tool.inputSchema === undefined) continue;
    const input: SemanticInput = { intentSource: 'none', tool, arguments: {}, history: [] };
    for (const signal of poisonedDescription(input)) {
      findings.push({ field, detail: signal.detail, score: signal.score });
    }
  }
  findings.sort((a, b) => b.score - a.score);
  return {
    clean,
    invisible: counter.removed,
    findings,
    poisoned: findings.some((f) => f.score >= POISON_SCORE),
  };
}

/** Copies a JSON value with invisible characters removed from keys and strings, collecting tag-hidden text. */
function strip(value: unknown, counter: { removed: number }, hidden: string[]): unknown {
  if (typeof value === 'string') return stripText(value, counter, hidden);
  if (Array.isArray(value)) return value.map((v) => strip(v, counter, hidden));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[stripText(k, counter, hidden)] = strip(v, counter, hidden);
  }
  return out;
}

function stripText(text: string, counter: { removed: number }, hidden: string[]): string {
  // Fast path: nearly every string of a definition holds no invisible character.
  INVISIBLE.lastIndex = 0;
  if (!INVISIBLE.test(text)) return text;
  for (const run of text.match(TAG_RUN) ?? []) {
    hidden.push(
      [...run].map((c) => String.fromCharCode((c.codePointAt(0) ?? TAG_OFFSET) - TAG_OFFSET)).join(''),
    );
  }
  return text.replace(INVISIBLE, () => {
    counter.removed += 1;
    return '';
  });
}
