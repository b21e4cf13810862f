import canonicalize from 'canonicalize';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { digest } from '../../../src/evidence/hash.js';
import { isSecretKey, maskArguments, maskSecrets, maskText } from '../../../src/evidence/mask.js';
import {
  ALL_SECRETS,
  BENIGN_KEYS,
  BENIGN_LOOKALIKES,
  PLANTED_TEXTS,
  SECRET_SHAPES,
  plantedArguments,
} from '../../fixtures/secret-corpus.js';

const independentDigest = (value: unknown) =>
  `sha256:${createHash('sha256').update(canonicalize(value)!).digest('hex')}`;

describe('argument masking', () => {
  it('has a corpus of at least fifty secret shapes', () => {
    expect(SECRET_SHAPES.length).toBeGreaterThanOrEqual(50);
    expect(new Set(SECRET_SHAPES.map((s) => s.id)).size).toBe(SECRET_SHAPES.length);
  });

  it.each(PLANTED_TEXTS)('masks $id wherever it is planted in a string', ({ secret, text }) => {
    const masked = maskSecrets(text);
    expect(masked).not.toContain(secret);
    expect(masked).toContain('[masked]');
    const { args, masked: pointers } = maskArguments({ deep: { list: ['x', text] } });
    expect(JSON.stringify(args)).not.toContain(secret);
    expect(pointers).toEqual(['/deep/list/1']);
  });

  it('keeps what is not secret around a secret: the host of a URL, the name of a header', () => {
    expect(maskSecrets('postgres://app:hunter2-pw@db.internal:5432/orders')).toBe(
      'postgres://app:[masked]@db.internal:5432/orders',
    );
    expect(maskSecrets('https://api.example.com/v2?q=shoes&api_key=Zr81kQ0pLx7vN2mW4tY6&page=2')).toBe(
      'https://api.example.com/v2?q=shoes&api_key=[masked]&page=2',
    );
  });

  it('masks every planted secret in one object, values, lists, nested objects and keyed containers', () => {
    const input = plantedArguments();
    const { args, masked } = maskArguments(input);
    const text = JSON.stringify(args);
    for (const secret of ALL_SECRETS) expect(text).not.toContain(secret);
    for (const shape of SECRET_SHAPES.filter((s) => s.key)) expect(masked).toContain(`/${shape.key}`);
    expect(masked).toEqual(expect.arrayContaining(['/creds', '/credentials', '/nested/deeper/list/0/value']));
    expect((args as Record<string, unknown>)['creds']).toBe('[masked]');
    expect((args as Record<string, unknown>)['message']).toBe('hello');
  });

  it('masks a secret that is a key, listing the masked name', () => {
    const secret = SECRET_SHAPES.find((s) => s.id === 'github-classic-pat')!.secret;
    const { args, masked } = maskArguments({ [secret]: 1, other: 2 });
    expect(JSON.stringify(args)).not.toContain(secret);
    expect(args).toEqual({ '[masked]': 1, other: 2 });
    expect(masked).toEqual(['/[masked]']);
  });

  it.each(BENIGN_LOOKALIKES)('leaves the look-alike %s unmasked', (text) => {
    expect(maskSecrets(text)).toBe(text);
    expect(maskArguments({ value: text }).masked).toEqual([]);
  });

  it('does not mistake ordinary names for secrets', () => {
    for (const key of BENIGN_KEYS) expect(isSecretKey(key), key).toBe(false);
    for (const key of [
      'token',
      'access_token',
      'AWS_SECRET_ACCESS_KEY',
      'privateKey',
      'Authorization',
      'x-api-key',
      'pass',
      'db_pass',
      'passcode',
      'ssh_key',
      'key',
      'creds',
    ]) {
      expect(isSecretKey(key), key).toBe(true);
    }
  });

  it('masks values of secret-looking keys whole, lists and objects included, at any depth', () => {
    const { args, masked } = maskArguments({
      user: 'amy',
      password: 'hunter2',
      nested: { apiKey: 'k', list: [{ client_secret: 's' }], creds: ['a', 'b'] },
    });
    expect(args).toEqual({
      user: 'amy',
      password: '[masked]',
      nested: { apiKey: '[masked]', list: [{ client_secret: '[masked]' }], creds: '[masked]' },
    });
    expect(masked).toEqual(['/password', '/nested/apiKey', '/nested/list/0/client_secret', '/nested/creds']);
  });

  it('reduces long values to a digest without scanning them, and escapes pointer tokens', () => {
    const { args, masked } = maskArguments({ 'a/b~c': 'x'.repeat(5000) });
    expect((args as Record<string, string>)['a/b~c']).toMatch(/^\[digest sha256:[0-9a-f]{64} 5000 bytes\]$/);
    expect(masked).toEqual(['/a~1b~0c']);
  });

  it('reduces a key over the limit to a digest too', () => {
    const { args, masked } = maskArguments({ ['k'.repeat(5000)]: 1 });
    expect(Object.keys(args as object)).toEqual([
      expect.stringMatching(/^\[digest sha256:[0-9a-f]{64} 5000 bytes\]$/),
    ]);
    expect(masked).toHaveLength(1);
  });

  it('never modifies its input', () => {
    const input = plantedArguments();
    const copy = structuredClone(input);
    maskArguments(input);
    expect(input).toEqual(copy);
  });
});

describe('free text masking', () => {
  it('masks secrets in free text and cuts long text at a word boundary', () => {
    const secret = SECRET_SHAPES.find((s) => s.id === 'stripe-live')!.secret;
    expect(maskText(`charge with ${secret} today`)).toBe('charge with [masked] today');
    const long = `${'word '.repeat(500)}${secret}`;
    const cut = maskText(long, 2000);
    expect(cut).not.toContain(secret.slice(0, 12));
    expect(cut).toMatch(/^(word ){399}word \[\.\.\. \d+ more characters\]$/);
  });
});

describe('__proto__ members', () => {
  const parsed = () =>
    JSON.parse('{"message":"p","__proto__":{"path":"/etc/shadow","token":"t0ken-value"}}') as Record<
      string,
      unknown
    >;

  it('keeps a __proto__ member as a member of the masked arguments, masked inside like any other', () => {
    const { args, masked } = maskArguments(parsed());
    expect(Object.keys(args as object)).toEqual(['message', '__proto__']);
    expect(JSON.stringify(args)).toBe(
      '{"message":"p","__proto__":{"path":"/etc/shadow","token":"[masked]"}}',
    );
    expect(masked).toEqual(['/__proto__/token']);
  });

  it('digests a __proto__ member in or out of key order, as an independent RFC 8785 implementation does', () => {
    const outOfOrder = parsed();
    const inOrder = JSON.parse('{"__proto__":{"path":"/etc/shadow","token":"t0ken-value"},"message":"p"}');
    expect(digest(outOfOrder)).toBe(independentDigest(outOfOrder));
    expect(digest(inOrder)).toBe(independentDigest(inOrder));
    expect(digest(outOfOrder)).toBe(digest(inOrder));
    expect(digest(outOfOrder)).not.toBe(digest({ message: 'p' }));
  });
});
