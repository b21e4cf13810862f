import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder holding mcpgov's package.json, found upward from this module (works from src/ and dist/). */
export const PACKAGE_ROOT: string = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'mcpgov')
      return dir;
    const parent = path.dirname(dir);
    if (parent === dir)
      throw new Error('mcpgov package.json not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
})();

/** mcpgov's version, from its package.json. */
export const VERSION: string = (
  JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }
).version;
