import { foreignActions } from './languages.js';
import { lemma, sentences, words } from './text.js';

/**
 * What a call does to the world, in nine classes, read from the verbs of a tool's name, of a command,
 * or of a sentence. Everything but `read` has side effects.
 */
export type ActionClass =
  'read' | 'create' | 'modify' | 'delete' | 'grant' | 'revoke' | 'transfer' | 'send' | 'execute';

/**
 * Verb lemmas per class. `primary` words are verbs wherever they stand in a request; `ambiguous`
 * ones are also common nouns ("an email", "the lock", "my order"), so in prose they count only at
 * the start of a clause.
 */
const VERBS: Record<ActionClass, { primary: string; ambiguous: string }> = {
  read: {
    primary:
      'read list search find show view fetch retrieve query describe browse inspect display download ' +
      'navigate visit summarize summarise analyze analyse lookup locate get tell count compute calculate ' +
      'identify explore print cat ls grep head tail stat du df ps whoami',
    ambiguous: 'check look review scan open monitor track watch see access',
  },
  create: {
    primary: 'create add generate build insert register mint compose make clone fork mkdir touch',
    ambiguous: 'schedule book save store record copy setup draft put',
  },
  modify: {
    primary:
      'update modify change edit rename resize scale adjust replace configure enable increase decrease reduce ' +
      'raise ' +
      'lower overwrite append activate deactivate toggle restart reboot upgrade downgrade redirect ' +
      'prioritize prioritise write move mv cp chmod chown sed apply convert restore merge commit push ' +
      'sync mute unmute set reassign dispatch',
    ambiguous: 'turn switch control mark tag label patch complete manage',
  },
  delete: {
    primary:
      'delete remove erase wipe purge destroy terminate kill uninstall clear clean rm rmdir discard ' +
      'shred truncate prune shutdown shut deregister unsubscribe flush mkfs cancel dd pkill killall forget',
    ambiguous: 'drop stop reset trash format empty tidy',
  },
  grant: {
    primary:
      'grant invite authorize authorise permit allow unlock unblock elevate promote whitelist approve ' +
      'give assign sudo',
    ambiguous: 'share open',
  },
  revoke: {
    primary: 'revoke deny ban suspend disable blacklist restrict expel',
    ambiguous: 'block lock',
  },
  transfer: {
    primary: 'transfer pay withdraw buy purchase wire donate refund spend invest swap sell checkout',
    ambiguous: 'order trade tip charge deposit bet',
  },
  send: {
    primary:
      'send forward publish tweet retweet upload reply notify broadcast export submit share announce ' +
      'sendmail scp rsync dm contact',
    ambiguous: 'email mail post message text comment call sms',
  },
  execute: {
    primary: 'execute run install deploy exec eval launch invoke spawn compile',
    ambiguous: 'start',
  },
};

const PRIMARY = new Map<string, ActionClass[]>();
const AMBIGUOUS = new Map<string, ActionClass[]>();
for (const [cls, { primary, ambiguous }] of Object.entries(VERBS) as [
  ActionClass,
  (typeof VERBS)['read'],
][]) {
  for (const w of primary.split(' ')) PRIMARY.set(w, [...(PRIMARY.get(w) ?? []), cls]);
  for (const w of ambiguous.split(' ')) AMBIGUOUS.set(w, [...(AMBIGUOUS.get(w) ?? []), cls]);
}

/** Words after which a noun-like verb starts a clause: "... and email the team", "please post it". */
const CLAUSE_LEADS = new Set(
  'and then to please kindly also or you can could would will i me us let lets just now first next finally so'.split(
    ' ',
  ),
);

/** True for classes that change something outside the agent. */
export function hasSideEffect(cls: ActionClass): boolean {
  return cls !== 'read';
}

/** Classes a single word names as a verb (primary or ambiguous), by its lemma. */
export function classesOfWord(word: string, allowAmbiguous: boolean): ActionClass[] {
  const l = lemma(word);
  const primary = PRIMARY.get(word) ?? PRIMARY.get(l) ?? [];
  const ambiguous = AMBIGUOUS.get(word) ?? AMBIGUOUS.get(l) ?? [];
  // A verb's noun-like senses count only where a verb may stand ("share" sends; "share" may also grant).
  if (primary.length > 0) return allowAmbiguous ? [...new Set([...primary, ...ambiguous])] : primary;
  return allowAmbiguous ? ambiguous : [];
}

/**
 * The action of a tool, from its name: the first unambiguous verb (`AugustSmartLockGrantGuestAccess`
 * grants, it does not lock), else the first noun-like verb (`TwitterPostTweet` sends). A verb with
 * several senses gives them all (`share_dataset` sends or grants): they are alternatives.
 */
export function toolActions(toolName: string): Set<ActionClass> {
  const verb = toolVerb(toolName);
  return new Set(verb === undefined ? [] : classesOfWord(verb, true));
}

/**
 * Actions a piece of prose asks for: unambiguous verbs anywhere, noun-like verbs only at the start of
 * a sentence or clause. Used on the user's intent and on instructions found in tool results.
 */
export function proseActions(text: string): Set<ActionClass> {
  // Verbs of other languages name actions wherever they stand (languages.ts lists verb forms only).
  const out = foreignActions(text);
  for (const clause of clauses(text)) {
    const ws = words(clause);
    ws.forEach((w, i) => {
      const prev = i === 0 ? undefined : ws[i - 1];
      const clauseStart = prev === undefined || CLAUSE_LEADS.has(prev);
      for (const cls of classesOfWord(w, clauseStart)) out.add(cls);
    });
  }
  return out;
}

/** Sentences cut further at `;`, `:`, `,`, brackets and dashes: each piece can start a new order. */
function clauses(text: string): string[] {
  return sentences(text).flatMap((s) => s.split(/[;:,()]|\s[-–—]\s/).filter((c) => c.trim() !== ''));
}

/** Classes that a request for `requested` also covers: adding and changing overlap, as do removing and revoking. */
const COVERS: Partial<Record<ActionClass, ActionClass[]>> = {
  create: ['modify'],
  modify: ['create'],
  delete: ['revoke'],
  revoke: ['delete'],
  grant: ['create', 'modify'],
  send: ['create'],
};

/** True when an intent asking for `asked` covers a call that does `cls`. */
export function covered(cls: ActionClass, asked: ReadonlySet<ActionClass>): boolean {
  if (!hasSideEffect(cls) || asked.has(cls)) return true;
  for (const a of asked) if (COVERS[a]?.includes(cls)) return true;
  return false;
}

/** The verb of a tool's name that `toolActions` reads (`reset_mfa` -> reset), if any. */
export function toolVerb(toolName: string): string | undefined {
  const parts = words(toolName);
  return (
    parts.find((w) => classesOfWord(w, false).length > 0) ??
    parts.find((w) => classesOfWord(w, true).length > 0)
  );
}
