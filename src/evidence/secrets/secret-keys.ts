/** Key names whose values are credentials. Matched against the key split into words, so `author` is not `auth`. */
const SECRET_WORDS = new Set([
  'password',
  'passwd',
  'passphrase',
  'passcode',
  'pwd',
  'secret',
  'secrets',
  'token',
  'apikey',
  'auth',
  'authorization',
  'cookie',
  'cookies',
  'credential',
  'credentials',
  'creds',
  'cred',
  'bearer',
  'privatekey',
  'accesskey',
  'secretkey',
  'sessionkey',
  'clientsecret',
  'otp',
  'pin',
  'dsn',
]);

/** Words that name a credential only as the last word, or alone: `db_pass`, `key`, but not `pass_through`, `key_id`. */
const SECRET_LAST_WORDS = new Set(['pass', 'pw', 'key']);

/** First words that make a following `key` a credential (`ssh_key`), unlike `sort_key` or `public_key`. */
const KEY_QUALIFIERS = new Set([
  'api',
  'access',
  'private',
  'secret',
  'session',
  'signing',
  'ssh',
  'encryption',
  'master',
  'client',
  'auth',
  'account',
  'storage',
  'gpg',
  'pgp',
  'hmac',
  'jwt',
  'app',
  'license',
  'service',
  'deploy',
  'root',
  'shared',
  'webhook',
]);

/** Words that make a name about a credential rather than the credential: `max_tokens`, `password_file`, `secret_name`. */
const ABOUT_WORDS = new Set([
  'max',
  'min',
  'count',
  'limit',
  'num',
  'number',
  'usage',
  'budget',
  'length',
  'len',
  'size',
  'type',
  'expires',
  'expiry',
  'ttl',
  'url',
  'uri',
  'endpoint',
  'name',
  'id',
  'path',
  'file',
  'policy',
  'hint',
  'required',
  'enabled',
  'tokens',
]);

/** Two-word names that are secret only together (`client_secret` is covered by `secret`). */
const SECRET_PAIRS = new Set(['private key', 'secret key', 'signing key', 'session key', 'access key']);

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
  if (key.length > 128) return false;
  const w = words(key);
  if (w.length === 0 || w.some((x) => ABOUT_WORDS.has(x))) return false;
  if (w.some((x) => SECRET_WORDS.has(x))) return true;
  const last = w[w.length - 1]!;
  if (SECRET_LAST_WORDS.has(last)) {
    if (last !== 'key') return true;
    // `key` alone, or qualified by a word that makes it a credential.
    if (w.length === 1 || KEY_QUALIFIERS.has(w[w.length - 2]!)) return true;
  }
  for (let i = 0; i + 1 < w.length; i++) if (SECRET_PAIRS.has(`${w[i]} ${w[i + 1]}`)) return true;
  return SECRET_WORDS.has(w.join(''));
}

/** Lower-case stems one of which occurs in every secret key name: the keyword prefilter of key=value rules. */
export const SECRET_KEY_STEMS = [
  'pass',
  'pwd',
  'pw',
  'secret',
  'token',
  'key',
  'auth',
  'cookie',
  'cred',
  'bearer',
  'otp',
  'pin',
  'dsn',
];
