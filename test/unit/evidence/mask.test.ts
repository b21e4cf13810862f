import { describe, expect, it } from 'vitest';
import { isSecretKey, maskArguments } from '../../../src/evidence/mask.js';

describe('argument masking', () => {
  it('masks values of secret-looking keys, at any depth, and lists their JSON Pointers', () => {
    const args = {
      user: 'amy',
      password: 'hunter2',
      nested: { apiKey: 'k', list: [{ client_secret: 's' }] },
    };
    const { args: masked, masked: pointers } = maskArguments(args);
    expect(masked).toEqual({
      user: 'amy',
      password: '[masked]',
      nested: { apiKey: '[masked]', list: [{ client_secret: '[masked]' }] },
    });
    expect(pointers).toEqual(['/password', '/nested/apiKey', '/nested/list/0/client_secret']);
  });

  it('does not mistake ordinary names for secrets', () => {
    for (const key of ['author', 'tokenizer_name', 'path', 'pinned_version', 'description', 'keyword']) {
      expect(isSecretKey(key), key).toBe(false);
    }
    for (const key of [
      'token',
      'access_token',
      'AWS_SECRET_ACCESS_KEY',
      'privateKey',
      'Authorization',
      'x-api-key',
    ]) {
      expect(isSecretKey(key), key).toBe(true);
    }
  });

  it('masks credential-shaped values under any key', () => {
    const values = [
      '-----BEGIN PRIVATE KEY-----\nMIIB...',
      'Authorization: Bearer abcdefghijklmnopqrstuvwxyz',
      'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
      'AKIAIOSFODNN7EXAMPLE',
      'ghp_abcdefghijklmnopqrstuvwxyz0123456789',
      'sk-proj-abcdefghijklmnopqrstuvwx',
    ];
    const { args, masked } = maskArguments({ notes: values });
    expect(args).toEqual({ notes: values.map(() => '[masked]') });
    expect(masked).toHaveLength(values.length);
  });

  it('reduces long values to a digest and escapes pointer tokens', () => {
    const { args, masked } = maskArguments({ 'a/b~c': 'x'.repeat(5000) });
    expect((args as Record<string, string>)['a/b~c']).toMatch(/^\[digest sha256:[0-9a-f]{64} 5000 bytes\]$/);
    expect(masked).toEqual(['/a~1b~0c']);
  });

  it('never modifies its input', () => {
    const input = { token: 't', deep: { password: 'p' } };
    const copy = structuredClone(input);
    maskArguments(input);
    expect(input).toEqual(copy);
  });
});
