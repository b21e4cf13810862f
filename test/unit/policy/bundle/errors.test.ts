import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUNDLE_ERRORS } from '../../../../src/policy/bundle/errors.js';
import { REPO } from '../../../helpers/fixture.js';

describe('bundle refusal codes', () => {
  it('are documented in the README exactly as defined in code', () => {
    const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
    const table = /<!-- bundle-errors:start -->([\s\S]*?)<!-- bundle-errors:end -->/.exec(readme)?.[1] ?? '';
    const documented = [...table.matchAll(/^\|\s*`([a-z_]+)`\s*\|(.*)\|$/gm)].map((m) => [
      m[1],
      m[2]?.trim(),
    ]);
    expect(documented).toEqual(Object.entries(BUNDLE_ERRORS));
  });
});
