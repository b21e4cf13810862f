import type { ScanRule } from './rules.js';
import { isSecretKey, SECRET_KEY_STEMS } from './secret-keys.js';

/** URL query parameters that carry credentials besides secret-looking names (signed URLs). */
const URL_SECRET_PARAMS = new Set(['sig', 'signature', 'x-amz-signature', 'x-goog-signature', 'code']);

/** Whether a Basic credential decodes to `user:password` (so "basic plan" is not one). */
function isBasicCredential(encoded: string): boolean {
  const decoded = Buffer.from(encoded, 'base64').toString('latin1');
  return decoded.includes(':') && /^[\x20-\x7e]+$/.test(decoded);
}

const hasDigitOrSymbol = (s: string) => /[^A-Za-z]/.test(s);

/**
 * Our own rules, in the same form and engine as gitleaks' (RE2 patterns, keyword prefilter): shapes
 * gitleaks leaves to context that evidence still must not keep, and issuer formats matched more
 * broadly than gitleaks does (its exact lengths and example allowlists suit code review, while a
 * masker errs towards masking). Patterns are RE2 syntax (https://github.com/google/re2/wiki/Syntax).
 */
export const OWN_RULES: readonly ScanRule[] = [
  {
    // RFC 3986 §3.2.1: userinfo `user:password@`; the password is the secret (up to the last `@`).
    id: 'url-userinfo-password',
    regex: String.raw`(?i)\b[a-z][a-z0-9+.-]{0,30}://[^\s/?#@:]{0,256}:([^\s/?#]+)@`,
    secretGroup: 1,
    keywords: ['://'],
  },
  {
    // RFC 3986 §3.4: a query parameter whose name says credential (`?api_key=`, `&token=`, `&sig=`).
    id: 'url-query-secret',
    regex: String.raw`[?&;]([A-Za-z0-9_.\-\[\]]{1,64})=([^&#\s"'<>]+)`,
    secretGroup: 2,
    keywords: ['='],
    check: ({ groups }) => {
      const name = groups[1] ?? '';
      return isSecretKey(name) || URL_SECRET_PARAMS.has(name.toLowerCase());
    },
  },
  {
    // `password=...`, `db_pass: ...`, `"token": "..."` in free text: a secret-looking name, then the value.
    id: 'key-value-secret',
    regex: String.raw`([A-Za-z_][A-Za-z0-9_.\-]{0,63})["']?[ \t]{0,3}[:=][ \t]{0,3}["']?([^\s"',;&]+)`,
    secretGroup: 2,
    keywords: SECRET_KEY_STEMS,
    check: ({ groups }) => isSecretKey(groups[1] ?? ''),
  },
  {
    // Command-line flags: `--password hunter2`, `--api-key=...` (the `=` form is key-value-secret's).
    id: 'flag-secret',
    regex: String.raw`--([A-Za-z][A-Za-z0-9_-]{0,40})[ \t]+([^\s"'\-][^\s"']*)`,
    secretGroup: 2,
    keywords: SECRET_KEY_STEMS,
    check: ({ groups }) => isSecretKey(groups[1] ?? ''),
  },
  {
    // RFC 7617: `Basic base64(user:password)`.
    id: 'basic-auth',
    regex: String.raw`(?i)\bbasic[ \t]+([A-Za-z0-9+/]{4,}={0,2})`,
    secretGroup: 1,
    keywords: ['basic'],
    check: ({ secret }) => isBasicCredential(secret),
  },
  {
    // RFC 6750 §2.1: `Bearer <token>`.
    id: 'bearer-token',
    regex: String.raw`(?i)\bbearer[ \t]+([A-Za-z0-9._~+/=-]{8,})`,
    secretGroup: 1,
    keywords: ['bearer'],
    check: ({ secret }) => hasDigitOrSymbol(secret) || secret.length >= 20,
  },
  {
    // RFC 7468 (PEM) and RFC 4880 §6.2 (PGP armor): the whole block, or to the end when cut short.
    id: 'private-key-block',
    regex: String.raw`-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----(?s:.)*?(?:-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----|\z)`,
    keywords: ['private key'],
    wholeMatch: true,
  },
  {
    // RFC 7519 JWT (and RFC 7515 JWS compact form): three base64url parts, the signature may be empty.
    id: 'jwt',
    regex: String.raw`\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*`,
    keywords: ['eyj'],
    wholeMatch: true,
  },
  {
    id: 'aws-access-key-id',
    regex: String.raw`\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b`,
    keywords: ['akia', 'asia', 'abia', 'acca', 'a3t'],
    wholeMatch: true,
  },
  {
    id: 'github-token',
    regex: String.raw`\b(?:gh[pousr]_[A-Za-z0-9_]{30,}|github_pat_[A-Za-z0-9_]{30,})`,
    keywords: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_'],
    wholeMatch: true,
  },
  {
    id: 'sk-prefixed-key',
    regex: String.raw`\bsk-[A-Za-z0-9_-]{20,}`,
    keywords: ['sk-'],
    wholeMatch: true,
  },
  {
    id: 'stripe-key',
    regex: String.raw`\b[rsp]k_(?:live|test)_[A-Za-z0-9]{16,}`,
    keywords: ['k_live_', 'k_test_'],
    wholeMatch: true,
  },
  {
    id: 'slack-token',
    regex: String.raw`\bxox[abposr]-[A-Za-z0-9-]{10,}`,
    keywords: ['xox'],
    wholeMatch: true,
  },
  {
    id: 'google-api-key',
    regex: String.raw`\bAIza[A-Za-z0-9_-]{30,}`,
    keywords: ['aiza'],
    wholeMatch: true,
  },
  {
    id: 'npm-token',
    regex: String.raw`\bnpm_[A-Za-z0-9]{30,}`,
    keywords: ['npm_'],
    wholeMatch: true,
  },
  {
    id: 'gitlab-token',
    regex: String.raw`\bgl(?:pat|dt|rt|ptt|cbt|soat|ft|imt|agent)-[A-Za-z0-9_-]{20,}`,
    keywords: ['gl'],
    wholeMatch: true,
  },
];
