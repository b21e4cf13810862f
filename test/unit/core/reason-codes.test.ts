import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REASON_CODES } from '../../../src/core/reason-codes.js';
import { REPO } from '../../helpers/fixture.js';

describe('reason codes', () => {
  it('are documented in the README exactly as defined in code, with which ones hide the tool', () => {
    const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
    const table = /<!-- reason-codes:start -->([\s\S]*?)<!-- reason-codes:end -->/.exec(readme)?.[1] ?? '';
    const documented = [...table.matchAll(/^\| `([a-z_]+)` +\| ([^|]*[^| ]) +\| (yes)? *\|$/gm)].map((m) => [
      m[1],
      m[2],
      m[3] === 'yes',
    ]);
    expect(documented).toEqual(
      Object.entries(REASON_CODES).map(([code, info]) => [code, info.meaning, 'hidden' in info]),
    );
  });
});
