import { parseLiteral, readLeadingLiteral } from './literal.js';

/**
 * What an agent turn of a transcript did: call a tool, or answer the user. Transcripts write calls in
 * several ways; each reader below takes one of them, and the first that recognises the text wins.
 */
export type AgentAction =
  | { kind: 'call'; tool: string; arguments: Record<string, unknown>; form: ActionForm }
  | { kind: 'reply'; text: string };

/** How a call was written, for conversion statistics. */
export type ActionForm =
  | 'action_input' // Tool\nAction Input: {...}
  | 'inline' // Tool{...}, Tool {...}, Tool: {...}
  | 'keyed' // {"Tool": {...}}
  | 'command' // "command": {"name": "tool", "args": {...}}
  | 'function' // Tool(a=1, b='x')
  | 'code' // a fenced code block: a terminal or code-execution call
  | 'free_text'; // a short imperative or UI step ("click <Settings>"), kept whole as `act`

const NAME = String.raw`[A-Za-z_][\w.-]*`;
// Each quantifier below meets a character it cannot take, so no two of them trade characters
// (no polynomial backtracking; `npm run check` enforces it). Captures are trimmed where they are read.
const ACTION_INPUT = /^(?:Action:\s*)?([a-z_][\w.-]*)[^\S\n]*\n\s*Action Input:([\s\S]*)$/i;
const INLINE = new RegExp(String.raw`^(${NAME})\s*(?::\s*)?(?=\{)`);
const FUNCTION = new RegExp(String.raw`^(${NAME})\(([\s\S]*)\)\s*$`);
const COMMAND = /^"?command"?\s*:\s*/;
const SHELLS = new Set(['', 'bash', 'sh', 'shell', 'zsh', 'console', 'terminal']);
/** Longest free text still read as an action rather than a message to the user. */
const MAX_FREE_TEXT_WORDS = 8;
/** A UI step names its controls in angle brackets (`click <Settings>`) and stays short. */
const MAX_UI_STEP_WORDS = 40;

/** Reads one agent turn's `action` text. */
export function parseAgentAction(action: string | null | undefined): AgentAction {
  const text = (action ?? '').trim();
  if (text === '' || /^final answer\s*:/i.test(text)) return reply(text);
  return (
    readActionInput(text) ??
    readCommand(text) ??
    readInline(text) ??
    readKeyed(text) ??
    readFunction(text) ??
    readCode(text) ??
    readFreeText(text)
  );
}

function reply(text: string): AgentAction {
  return { kind: 'reply', text: text.replace(/^final answer\s*:\s*/i, '') };
}

function call(tool: string, args: unknown, form: ActionForm): AgentAction {
  return { kind: 'call', tool, arguments: asArguments(args), form };
}

/** Arguments are an object; anything else is kept whole under `input`. */
function asArguments(value: unknown): Record<string, unknown> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    return value as Record<string, unknown>;
  }
  if (value === undefined || value === '') return {};
  return { input: value };
}

function readActionInput(text: string): AgentAction | undefined {
  const m = ACTION_INPUT.exec(text);
  if (!m) return undefined;
  const raw = (m[2] ?? '').trim();
  const leading = readLeadingLiteral(raw);
  return call(
    m[1] as string,
    leading && typeof leading.value === 'object' ? leading.value : raw,
    'action_input',
  );
}

function readCommand(text: string): AgentAction | undefined {
  const m = COMMAND.exec(text);
  if (!m) return undefined;
  const leading = readLeadingLiteral(text.slice(m[0].length));
  const value = leading?.value as { name?: unknown; args?: unknown } | undefined;
  if (!value || typeof value !== 'object' || typeof value.name !== 'string') return undefined;
  return call(value.name, value.args ?? {}, 'command');
}

function readInline(text: string): AgentAction | undefined {
  const m = INLINE.exec(text);
  if (!m) return undefined;
  const leading = readLeadingLiteral(text.slice(m[0].length));
  if (!leading || typeof leading.value !== 'object' || leading.value === null) return undefined;
  return call(m[1] as string, leading.value, 'inline');
}

function readKeyed(text: string): AgentAction | undefined {
  if (!text.startsWith('{')) return undefined;
  const leading = readLeadingLiteral(text);
  const value = leading?.value;
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const entries = Object.entries(value);
  const [only] = entries;
  if (entries.length === 1 && only && new RegExp(`^${NAME}$`).test(only[0]) && typeof only[1] === 'object') {
    return call(only[0], only[1], 'keyed');
  }
  return call('act', value, 'free_text');
}

function readFunction(text: string): AgentAction | undefined {
  const m = FUNCTION.exec(text);
  if (!m) return undefined;
  const inner = (m[2] ?? '').trim();
  return call(m[1] as string, functionArguments(inner), 'function');
}

/** `a=1, b='x'` or `'a': 1`; anything else is kept whole. */
function functionArguments(inner: string): unknown {
  if (inner === '') return {};
  const dict = parseLiteral(`{${inner}}`);
  if (dict !== undefined) return dict;
  const out = Object.create(null) as Record<string, unknown>; // `__proto__=1` stays a member
  for (const part of splitTopLevel(inner)) {
    const kv = /^\s*([A-Za-z_]\w*)\s*=([\s\S]*)$/.exec(part);
    const raw = kv?.[2]?.trim() ?? '';
    if (!kv || raw === '') return inner;
    out[kv[1] as string] = parseLiteral(raw) ?? raw;
  }
  return out;
}

/** Splits on commas outside brackets and quotes. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if ('([{'.includes(ch)) depth++;
    else if (')]}'.includes(ch)) depth--;
    else if (ch === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** The first fenced block: "```" and a language word, the code, then "```" (read with indexOf: linear). */
function readCode(text: string): AgentAction | undefined {
  const open = text.indexOf('```');
  if (open < 0) return undefined;
  const tag = /^[\w+-]*/.exec(text.slice(open + 3))?.[0] ?? '';
  const close = text.indexOf('```', open + 3 + tag.length);
  if (close < 0) return undefined;
  const language = tag.toLowerCase();
  const code = text.slice(open + 3 + tag.length, close).trim();
  if (SHELLS.has(language)) return call('terminal', { command: code }, 'code');
  return call('execute_code', { language, code }, 'code');
}

/**
 * Free text: a short imperative or a UI step is an action the environment carries out; longer
 * prose, or a sentence ending in punctuation, is a message to the user. An object literal after a
 * short lead-in ("The action is {...}") is that action's arguments.
 */
function readFreeText(text: string): AgentAction {
  const brace = text.indexOf('{');
  if (brace > 0 && brace <= 40) {
    const leading = readLeadingLiteral(text.slice(brace));
    if (leading && typeof leading.value === 'object' && leading.rest.trim() === '') {
      return call('act', leading.value, 'free_text');
    }
  }
  const words = text.split(/\s+/).length;
  const uiStep = /<[^<>\n]{1,60}>/.test(text) && words <= MAX_UI_STEP_WORDS;
  if (uiStep || (words <= MAX_FREE_TEXT_WORDS && !/[.!?]$/.test(text))) {
    return call('act', { action: text }, 'free_text');
  }
  return reply(text);
}
