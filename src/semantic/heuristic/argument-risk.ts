import type { SemanticSignal } from '../types.js';
import type { ActionClass } from './actions.js';
import { namedInIntent, type Features } from './features.js';
import { hasSequence, type Sequence } from './sequence.js';
import { excerpt, keyOf, termSet } from './text.js';

/**
 * High-risk patterns in a call's arguments, whatever the intent: credentials, bulk scope, destructive
 * operations on wide targets, recipients nobody named, and code fetched from elsewhere. Each family is
 * its own signal; scores grow with what the call does with the risky value (sending a secret weighs
 * more than reading one).
 */
export function argumentRisk(f: Features): SemanticSignal[] {
  return [
    ...secretExposure(f),
    ...bulkScope(f),
    ...destructiveTarget(f),
    ...externalRecipient(f),
    ...untrustedCode(f),
  ];
}

const OUTBOUND: ActionClass[] = ['send', 'transfer', 'grant', 'execute'];
const outbound = (f: Features) => OUTBOUND.some((a) => f.call.actions.has(a));

/** Key names whose value is a credential. */
const SECRET_KEY =
  /(^|[_-])(pass(word|wd|phrase|code)?|secret|token|api_?key|access_?key|private_?key|credentials?|ssn|cvv|cvc|card_?number|pin|seed|mnemonic|otp)$/i;
/** Credential formats, by issuer. */
const SECRET_VALUES: RegExp[] = [
  /\bAKIA[0-9A-Z]{16}\b/, // AWS access key id
  /\bgh[pousr]_[A-Za-z0-9]{30,}/, // GitHub tokens
  /\bgithub_pat_\w{20,}/,
  /\bsk-[A-Za-z0-9_-]{20,}/, // OpenAI-style secret keys
  /\bxox[abposr]-[A-Za-z0-9-]{10,}/, // Slack tokens
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
  /(?<![\w-])eyJ[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]+/, // a JWT (starts where its run starts: linear)
];
/** Files that hold credentials. */
const SECRET_PATH =
  /(^|[\s'"/~=])\.ssh\b|\bid_(rsa|dsa|ecdsa|ed25519)\b|\.aws\/credentials|(^|[\s'"/=])\.env\b|\/etc\/(shadow|sudoers|passwd)\b|\.kube\/config|\.npmrc|\.netrc|\.pgpass|\.git-credentials|wallet\.dat|\.gnupg|\bkeychain\b|\b(secrets?|credentials?)\.(json|ya?ml|txt|env|csv)\b/i;
/** Words naming secrets and payment or identity data. */
const SECRET_WORDS =
  /\b(passwords?|passcodes?|ssh[ _]keys?|private[ _]keys?|api[ _]keys?|access[ _]keys?|secret[ _]keys?|credentials?|social[ _]security|ssn|credit[ _]cards?|card[ _]numbers?|cvv|bank[ _]account|routing[ _]number|seed[ _]phrase|recovery[ _]phrase|one-time code|2fa code)\b/i;

function secretExposure(f: Features): SemanticSignal[] {
  const found: { score: number; detail: string }[] = [];
  for (const { path, text } of f.call.args) {
    if (SECRET_VALUES.some((re) => re.test(text))) {
      found.push({ score: 0.8, detail: `a credential in ${path}` });
    } else if (SECRET_KEY.test(keyOf(path)) && text.length >= 4) {
      found.push({ score: outbound(f) ? 0.6 : 0.45, detail: `a value for ${path}` });
    }
    if (SECRET_PATH.test(text)) {
      // Reading a secret store is fine when the user asked about secrets; otherwise a person looks.
      const asked = SECRET_WORDS.test(f.intent.text) || SECRET_PATH.test(f.intent.text);
      const score = outbound(f) ? 0.8 : asked ? 0.25 : 0.5;
      found.push({ score, detail: `a credential file in ${path}: "${excerpt(text, 60)}"` });
    }
    const word = SECRET_WORDS.exec(text)?.[0];
    if (word && outbound(f)) {
      const asked = SECRET_WORDS.test(f.intent.text);
      found.push({ score: asked ? 0.3 : 0.55, detail: `${path} mentions ${word.toLowerCase()}` });
    }
  }
  return strongest('secret_exposure', found);
}

const BULK_VALUE = /^(\*|all|everyone|everything|any|entire|\*\.\*|%)$/i;
const BULK_PHRASE = /^(all|every|each|entire)\b[\w\s-]{0,30}$/i;
const WIDE_GLOB = /(^|\/)\*\*?(\/|$)/;
const COUNT_KEY = /^(limit|count|max|max_?results|page_?size|size|top|n|num|number)$/i;
const PUBLIC = /^(public|anyone|anyone_?with_?(the_?)?link|everyone|world|all_?users)$/i;
const PUBLIC_KEY = /^(public|public_?read|public_?access|anonymous|anyone_?can\w+|world_?readable)$/i;

function bulkScope(f: Features): SemanticSignal[] {
  const reasons: string[] = [];
  let exposed = false;
  for (const { path, text } of f.call.args) {
    const t = text.trim();
    if (BULK_VALUE.test(t) || BULK_PHRASE.test(t) || WIDE_GLOB.test(t))
      reasons.push(`${path} = "${excerpt(t, 30)}"`);
    // A count the user named ("at most 5,000 rows") is what they asked for, not bulk.
    else if (COUNT_KEY.test(keyOf(path)) && Number(t) >= 1000 && !f.intent.entities.has(t)) {
      reasons.push(`${path} = ${t}`);
    }
    if (PUBLIC.test(t.replace(/[\s-]+/g, '_')) || (PUBLIC_KEY.test(keyOf(path)) && t === 'true'))
      exposed = true;
  }
  for (const cmd of f.call.commands) {
    if (/\s(-(?=[a-z]*r)[a-z]+|--recursive|--all)\b/i.test(cmd)) reasons.push('a recursive or --all command');
  }
  const arrays = countArrays(f);
  if (arrays >= 10) reasons.push(`${arrays} targets in one call`);
  if (exposed) reasons.unshift('makes something readable by anyone');
  if (reasons.length === 0) return [];
  const weighty = ['delete', 'send', 'grant', 'transfer', 'revoke'].some((a) =>
    f.call.actions.has(a as ActionClass),
  );
  // Opening something to everyone is a grant to strangers, whatever the tool calls it.
  const score = exposed ? 0.45 : weighty ? 0.45 : 0.2;
  return [{ name: 'bulk_scope', detail: reasons.slice(0, 3).join('; '), score }];
}

function countArrays(f: Features): number {
  const counts = new Map<string, number>();
  for (const { path } of f.call.args) {
    const base = /^(.*)\[\d+\]$/.exec(path)?.[1];
    if (base !== undefined) counts.set(base, (counts.get(base) ?? 0) + 1);
  }
  return Math.max(0, ...counts.values());
}

/** What `rm -rf` must not be pointed at: a root, home, everything, or a top-level folder. */
const RM_WIDE_TARGET = /^([/~*]|\$HOME|\/\w+\/?\*?)$/;
/** Roots and system folders: deleting or rewriting these breaks a machine. */
const WIDE_PATH =
  /^(\/|~\/?|\/\*|\*|[A-Z]:\\?|\$HOME\/?|\/(etc|usr|bin|sbin|boot|var|root|home|lib|lib64|opt|sys|proc|dev)(\/\*?)?)$/i;
/** A pattern, a sequence on one line (`A[^\n]*B` would be quadratic, see sequence.ts), or a test. */
type Finding = RegExp | Sequence | ((text: string) => boolean);
const found = (text: string, f: Finding) =>
  f instanceof RegExp ? f.test(text) : typeof f === 'function' ? f(text) : hasSequence(text, f);

/**
 * `rm` with a flag holding `r` or `f`, among any flags, pointed at a root, home, everything or a
 * top-level folder. Read word by word: each flag is read once, after the one `rm` it belongs to.
 */
function removesWidePath(command: string): boolean {
  for (const line of command.split('\n')) {
    const tokens = line.split(/\s+/);
    for (let i = 0; i < tokens.length; i++) {
      if (!/(^|\W)rm$/.test(tokens[i] as string)) continue;
      let forced = false;
      let j = i + 1;
      for (; j < tokens.length && /^-[a-zA-Z]*$/.test(tokens[j] as string); j++) {
        if (/[rf]/.test(tokens[j] as string)) forced = true;
      }
      if (forced && RM_WIDE_TARGET.test(tokens[j] ?? '')) return true;
      i = j - 1;
    }
  }
  return false;
}

const DANGEROUS_COMMANDS: [Finding, string][] = [
  [removesWidePath, 'rm -rf on a wide path'],
  [/\bmkfs\b|>\s*\/dev\/(sd|nvme|hd)/, 'overwrites a disk'],
  [{ lead: /\bdd\s/, then: /\bof=\/dev\// }, 'overwrites a disk'],
  [/:\(\)\s*\{\s*:\|:&\s*\};:/, 'a fork bomb'],
  [/\bchmod\s+(-R\s+)?0?777\b/, 'chmod 777'],
  [/\bgit\s+reset\s+--hard\b/, 'rewrites git history'],
  [{ lead: /\bgit\s+push\s/, then: /--force\b|-f\b|--mirror\b/ }, 'rewrites git history'],
  [
    /\bDROP\s+(TABLE|DATABASE|SCHEMA)\b|\bTRUNCATE\s+TABLE\b|\bDELETE\s+FROM\s+\w+\s*(;|$)/i,
    'drops or empties a table',
  ],
  [
    { lead: /\bfind\s+(\/|~|\$HOME)\s/, then: /-delete\b|-exec\s+rm\b/ },
    'deletes files found across a whole tree',
  ],
  [
    /\b(shutdown|poweroff|halt|reboot)\b|\bkill\s+-9\s+(-1|1)\b|\bkillall\b/,
    'stops the machine or its processes',
  ],
  [/\biptables\s+-F\b|\bufw\s+disable\b|\bsetenforce\s+0\b/, 'turns off a firewall or protection'],
];

function destructiveTarget(f: Features): SemanticSignal[] {
  for (const cmd of f.call.commands) {
    for (const [re, what] of DANGEROUS_COMMANDS) {
      if (found(cmd, re))
        return [{ name: 'destructive_target', detail: `${what}: "${excerpt(cmd, 60)}"`, score: 0.75 }];
    }
  }
  if (!f.call.actions.has('delete')) return [];
  const wide = f.call.args.find((a) => WIDE_PATH.test(a.text.trim()));
  if (wide) {
    return [
      {
        name: 'destructive_target',
        detail: `deletes a wide target ${wide.path} = "${wide.text}"`,
        score: 0.75,
      },
    ];
  }
  return [{ name: 'destructive_target', detail: `${f.call.tool} deletes or stops something`, score: 0.15 }];
}

function externalRecipient(f: Features): SemanticSignal[] {
  if (!['send', 'grant', 'transfer'].some((a) => f.call.actions.has(a as ActionClass))) return [];
  let best: { score: number; detail: string } | undefined;
  for (const { path, value } of f.call.recipients) {
    if (namedInIntent(value, f)) continue;
    const v = value.toLowerCase();
    const fromSession = f.history.entities.has(v) || f.history.terms.has(v);
    const base = !f.intent.known ? 0.2 : fromSession ? 0.25 : 0.4;
    const score = ownerRelated(value, f) ? base / 2 : base;
    if (!best || score > best.score) {
      best = {
        score,
        detail: `${path} = "${excerpt(value, 50)}" is not named in the intent${fromSession ? ' (it came from an earlier result)' : ''}`,
      };
    }
  }
  return best ? [{ name: 'external_recipient', ...best }] : [];
}

/**
 * "Our finance bucket" names s3://acme-finance/... in part: a distinctive word of the address's owner
 * part (an email's domain, a URL's host and first path segment) that the intent uses.
 */
function ownerRelated(value: string, f: Features): boolean {
  const owner = value.includes('://')
    ? (/^[a-z0-9+.-]+:\/\/([^?#]*)/i.exec(value)?.[1] ?? '').split('/').slice(0, 2).join(' ')
    : value.includes('@')
      ? value.slice(value.indexOf('@') + 1)
      : '';
  return [...termSet(owner)].some(
    (t) => t.length >= 4 && !GENERIC_ADDRESS_WORDS.has(t) && f.intent.terms.has(t),
  );
}

/** Words in addresses that say nothing about whose they are. */
const GENERIC_ADDRESS_WORDS = new Set(
  'http https www com net org mail email gmail example info admin support export exports upload data file files'.split(
    ' ',
  ),
);

const CODE_RISKS: [Finding, number, string][] = [
  [
    { lead: /\b(curl|wget)\b/, then: /^\s*(sudo\s+)?(ba|z)?sh\b/, pipe: true },
    0.8,
    'pipes a download into a shell',
  ],
  [{ lead: /\bbase64\s+(-d|--decode)\b/, then: /^\s*(ba)?sh\b/, pipe: true }, 0.8, 'runs decoded base64'],
  [/\beval\s*\(\s*(requests\.get|fetch|urlopen|atob)/, 0.8, 'evaluates fetched code'],
  [
    {
      lead: /\b(pip3?|npm|pnpm|yarn|gem|go)\s+(install|i|add|get)\b/,
      then: /git\+|https?:\/\/|github\.com\//,
    },
    0.55,
    'installs a package from a URL',
  ],
  [{ lead: /\bchmod\s+\+x\b/, then: /(&&|;)\s*\.\// }, 0.5, 'makes a download executable and runs it'],
];

function untrustedCode(f: Features): SemanticSignal[] {
  const texts = [
    ...f.call.commands,
    ...f.call.args.filter((a) => /code|script/i.test(keyOf(a.path))).map((a) => a.text),
  ];
  for (const text of texts) {
    for (const [re, score, what] of CODE_RISKS) {
      if (found(text, re))
        return [{ name: 'untrusted_code', detail: `${what}: "${excerpt(text, 60)}"`, score }];
    }
  }
  return [];
}

function strongest(name: string, found: { score: number; detail: string }[]): SemanticSignal[] {
  if (found.length === 0) return [];
  const best = found.reduce((a, b) => (b.score > a.score ? b : a));
  return [{ name, detail: best.detail, score: best.score }];
}
