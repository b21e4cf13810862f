import type { IntentSource, SemanticInput } from '../types.js';
import { proseActions, toolActions, toolVerb, type ActionClass } from './actions.js';
import { commandActions } from './command.js';
import { historyFeatures, type HistoryFeatures } from './history.js';
import { languageOf, type Language } from './languages.js';
import { MAX_DESCRIPTION_CHARS, MAX_INTENT_CHARS, readArguments, readText, type Unread } from './limits.js';
import { entities, flattenStrings, keyOf, lemma, termSet, words } from './text.js';

/**
 * The features every signal reads, computed once per call: what the call does and names, what the
 * user asked for, and what the session's tool results said.
 */
export interface Features {
  call: CallFeatures;
  intent: IntentFeatures;
  history: HistoryFeatures;
  /** What the bounds of limits.ts left unread of the call and the tool's definition. */
  unread: Unread[];
}

/** What the call does and names. */
export interface CallFeatures {
  tool: string;
  /** Content terms of the tool's name (`AugustSmartLockGrantGuestAccess` -> august, smart, lock, ...). */
  nameTerms: Set<string>;
  /** What the call does: from the tool's name, and from any command or free-text action it carries. */
  actions: Set<ActionClass>;
  /** The senses of the tool name's verb, as alternatives (`share` sends or grants). */
  nameActions: Set<ActionClass>;
  /** What the commands and free-text actions in the arguments do, each for real. */
  carriedActions: Set<ActionClass>;
  /** Every string in the arguments with its key path. */
  args: { path: string; text: string }[];
  argTerms: Set<string>;
  argEntities: Set<string>;
  /** Shell command lines among the arguments (`command`, `cmd`, `script`, `code`). */
  commands: string[];
  /** Who or where the call addresses: values of recipient-like keys, and every email address and URL. */
  recipients: { path: string; value: string }[];
  /** The lemma of the verb in the tool's name: a user who says it asks for the tool's action. */
  verb?: string;
}

/** What the user asked for, as far as the session knows. */
export interface IntentFeatures {
  known: boolean;
  source: IntentSource;
  text: string;
  terms: Set<string>;
  entities: Set<string>;
  actions: Set<ActionClass>;
  /** The intent is a question ("Which roles does mchen have?"): it asks to know, not to change. */
  question: boolean;
  /** The language the user wrote in (languages.ts): word overlap with the call means little across languages. */
  language: Language;
}

export type { HistoryFeatures } from './history.js';

/** Argument keys whose string is a command line or code to run. */
const COMMAND_KEYS = /^(command|cmd|commands|script|code|shell|bash|query_command)$/i;
/** Argument keys whose string is a free-text action (a UI step, "activate the alarm"). */
const ACTION_KEYS = /^(action|operation|op|instruction|step)$/i;
/** A question: a question mark, or a sentence opening with a question word. */
const QUESTION = /[?？]|^\s*(who|what|which|when|where|why|how|is|are|does|do|did|can|could|has|have)\b/i;
/** Argument keys naming who receives something. */
const RECIPIENT_KEYS = /^(to|recipients?|cc|bcc|share_?with|notify)$/i;
/** An email address; starts only where a run of address characters starts (linear, see text.ts). */
const EMAIL_LIKE = /(?<![\w.+-])[\w.+-]+@[\w-]+\.[\w.-]+/;

/**
 * Reads one call and its session into features; pure and deterministic. What earlier results said
 * never joins the intent, whatever the intent says: "do what the note says" hands no decision to the
 * note (an injection could have written it), so a call that carries out its instructions is still one
 * a person confirms.
 */
export function extractFeatures(input: SemanticInput): Features {
  const unread: Unread[] = [];
  const features = {
    call: callFeatures(input, unread),
    intent: intentFeatures(input),
    history: historyFeatures(input),
    unread,
  };
  definitionUnread(input, unread);
  return features;
}

function callFeatures(input: SemanticInput, unread: Unread[]): CallFeatures {
  const { args, unread: cut } = readArguments(input.arguments);
  unread.push(...cut);
  const argText = args.map((a) => a.text).join('\n');
  const commands: string[] = [];
  const carried = new Set<ActionClass>();
  let recipients = false;
  for (const { path, text } of args) {
    const key = keyOf(path);
    if (COMMAND_KEYS.test(key)) {
      commands.push(text);
      for (const cls of commandActions(text)) carried.add(cls);
      for (const cls of codeActions(text)) carried.add(cls);
    } else if (ACTION_KEYS.test(key)) {
      for (const cls of proseActions(text)) carried.add(cls);
    }
    if (RECIPIENT_KEYS.test(key) && EMAIL_LIKE.test(text)) recipients = true;
  }
  // A command runner's own verb ("run", "execute") is transport: what it runs is what it does.
  const named = toolActions(input.tool.name);
  if (carried.size > 0) named.delete('execute');
  // Addressing people by email sends them something, whatever the tool calls it.
  if (recipients) carried.add('send');
  const actions = new Set([...named, ...carried]);
  return {
    tool: input.tool.name,
    nameTerms: termSet(words(input.tool.name).join(' ')),
    actions,
    nameActions: named,
    carriedActions: carried,
    args,
    argTerms: termSet(argText),
    argEntities: entities(argText),
    commands,
    recipients: recipientsOf(args),
    verb: verbLemma(input.tool.name),
  };
}

/** Keys whose value names a receiver: a person, an account, an address, a destination. */
const RECIPIENT_VALUE_KEYS =
  /^(to|recipients?|cc|bcc|email|emails|email_?address|address|phone|phone_?number|user|users|username|user_?ids?|guests?|guest_?ids?|members?|collaborators?|payee|payee_?id|account|account_?(id|number)|to_?account|destination|webhook|url|endpoint|share_?with|grantee|assignee|receiver|wallet|wallet_?address)$/i;
/** Email addresses and URLs of any scheme (`s3://`, `sftp://`, `https://`). */
const ADDRESSES =
  /(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+|(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*:\/\/[^\s'"<>)\]}]+/gi;

function recipientsOf(args: { path: string; text: string }[]): { path: string; value: string }[] {
  const out: { path: string; value: string }[] = [];
  for (const { path, text } of args) {
    const found = new Set<string>(text.match(ADDRESSES) ?? []);
    if (RECIPIENT_VALUE_KEYS.test(keyOf(path)) && text.trim() !== '') found.add(text.trim());
    for (const value of found) if (value.length <= 200) out.push({ path, value });
  }
  return out;
}

function verbLemma(toolName: string): string | undefined {
  const verb = toolVerb(toolName);
  return verb === undefined ? undefined : lemma(verb);
}

/** Code that shells out, deletes or sends: `subprocess.run(['pip', 'install', ...])`, `os.remove`. */
function codeActions(code: string): ActionClass[] {
  const out: ActionClass[] = [];
  if (/\b(subprocess|os\.system|exec|eval|child_process|spawn)\b/.test(code)) out.push('execute');
  if (/\b(os\.remove|os\.unlink|shutil\.rmtree|rmSync|unlinkSync|DROP\s+TABLE|DELETE\s+FROM)\b/i.test(code)) {
    out.push('delete');
  }
  if (/\b(requests\.post|fetch\(|smtplib|sendmail|urllib\.request\.urlopen)\b/.test(code)) out.push('send');
  return out;
}

function intentFeatures(input: SemanticInput): IntentFeatures {
  const text = input.intent?.trim().slice(0, MAX_INTENT_CHARS) ?? '';
  return {
    known: text !== '',
    source: input.intentSource,
    text,
    terms: termSet(text),
    entities: entities(text),
    actions: proseActions(text),
    question: QUESTION.test(text),
    language: languageOf(text),
  };
}

/** The tool's description and schema strings, as far as poisonedDescription reads them. */
function definitionUnread(input: SemanticInput, unread: Unread[]): void {
  readText(input.tool.description ?? '', MAX_DESCRIPTION_CHARS, "the tool's description", unread);
  for (const s of flattenStrings(input.tool.inputSchema ?? {})) {
    readText(s.text, MAX_DESCRIPTION_CHARS, `the tool's inputSchema.${s.path}`, unread);
  }
}

/** Named in the intent: the value itself, or a folder or URL prefix of it ("in s3://bucket/samples/"). */
export function namedInIntent(value: string, f: Features): boolean {
  const v = value.toLowerCase();
  if (f.intent.text.toLowerCase().includes(v) || f.intent.entities.has(v)) return true;
  for (const e of f.intent.entities) if (e.length >= 8 && /[/:]/.test(e) && v.startsWith(e)) return true;
  return false;
}
