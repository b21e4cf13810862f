import { sha256Hex } from './hash.js';

/** Key names whose values are credentials. Matched against the key split into words, so `author` is not `auth`. */
const SECRET_WORDS = new Set([
  'password',
  'passwd',
  'passphrase',
  'pwd',
  'secret',
  'token',
  'apikey',
  'auth',
  'authorization',
  'cookie',
  'credential',
  'credentials',
  'bearer',
  'privatekey',
  'accesskey',
  'sessionkey',
  'clientsecret',
  'otp',
  'pin',
]);
/** Two-word names that are secret only together (`api_key`, `access_key`, `private_key`, ...). */
const SECRET_PAIRS = new Set([
  'api key',
  'access key',
  'private key',
  'session key',
  'client secret',
  'secret key',
  'signing key',
]);

/** String values that are credentials whatever key they sit under. */
const SECRET_VALUES: readonly RegExp[] = [
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
  /\bBearer\s+[A-Za-z0-9._~+/-]{16,}/,
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/, // JWT
  /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/, // AWS access key id
  /\bgh[pousr]_[A-Za-z0-9]{30,}\b/, // GitHub token
  /\bsk-[A-Za-z0-9_-]{20,}\b/, // OpenAI-style key
  /\bxox[abprs]-[A-Za-z0-9-]{10,}\b/, // Slack token
];

const MASK = '[masked]';
const MAX_DEPTH = 64;

/** Splits `apiKey`, `api_key`, `API-KEY` into lower-case words. */
function words(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** True when a key name says its value is a credential. */
export function isSecretKey(key: string): boolean {
  const w = words(key);
  if (w.some((x) => SECRET_WORDS.has(x))) return true;
  for (let i = 0; i + 1 < w.length; i++) if (SECRET_PAIRS.has(`${w[i]} ${w[i + 1]}`)) return true;
  return SECRET_WORDS.has(w.join(''));
}

/** RFC 6901 reference token escaping. */
function pointerToken(key: string | number): string {
  return String(key).replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * Masks arguments before they enter evidence: secret-keyed values and credential-shaped strings become
 * `[masked]`, strings over `maxValueBytes` become a digest. Returns the masked copy and the JSON
 * Pointers of everything replaced. The input is never modified.
 */
export function maskArguments(
  args: unknown,
  opts: { maxValueBytes?: number } = {},
): { args: unknown; masked: string[] } {
  const maxBytes = opts.maxValueBytes ?? 4096;
  const masked: string[] = [];
  const visit = (value: unknown, pointer: string, depth: number): unknown => {
    if (typeof value === 'string') {
      if (SECRET_VALUES.some((re) => re.test(value))) {
        masked.push(pointer);
        return MASK;
      }
      const bytes = Buffer.byteLength(value);
      if (bytes > maxBytes) {
        masked.push(pointer);
        return `[digest sha256:${sha256Hex(value)} ${bytes} bytes]`;
      }
      return value;
    }
    if (value === null || typeof value !== 'object') return value;
    if (depth >= MAX_DEPTH) {
      masked.push(pointer);
      const text = JSON.stringify(value);
      return `[digest sha256:${sha256Hex(text)} ${Buffer.byteLength(text)} bytes]`;
    }
    if (Array.isArray(value)) return value.map((v, i) => visit(v, `${pointer}/${i}`, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const p = `${pointer}/${pointerToken(k)}`;
      if (isSecretKey(k) && v !== null && v !== '') {
        masked.push(p);
        out[k] = MASK;
      } else {
        out[k] = visit(v, p, depth + 1);
      }
    }
    return out;
  };
  return { args: visit(args, '', 0), masked };
}

const maskings = new WeakMap<object, { args: unknown; masked: string[] }>();

/**
 * `maskArguments` with the default limits, computed once per arguments object: the decision record
 * and the session history (what stage 2 may show an LLM judge) both keep the masked form.
 */
export function maskedArguments(args: object): { args: unknown; masked: string[] } {
  let known = maskings.get(args);
  if (known === undefined) maskings.set(args, (known = maskArguments(args)));
  return known;
}
