#!/usr/bin/env node
// `npm start` runs this first: it builds only when a source is newer than the last build, so a start
// on an unchanged tree takes no TypeScript build. The last build is dist/src/cli/bin-mcpgov.js,
// which every `tsc -p tsconfig.build.json` run rewrites.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import process from 'node:process';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const built = path.join(root, 'dist/src/cli/bin-mcpgov.js');
const SOURCES = ['src', 'mcp-gateway', 'mcp-sidecar', 'test/bench', 'test/helpers', 'test/fixtures'];
const CONFIGS = ['tsconfig.json', 'tsconfig.build.json', 'package.json'];

/** The newest modification time under a file or folder (0 when it is not there). */
function newest(file) {
  let stat;
  try {
    stat = statSync(file);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(file).map((name) => newest(path.join(file, name))));
}

const builtAt = newest(built);
const sourcesAt = Math.max(...[...SOURCES, ...CONFIGS].map((f) => newest(path.join(root, f))));
if (builtAt > sourcesAt) {
  process.stderr.write('dist/ is current: skipping the build (npm run build forces one)\n');
} else {
  execFileSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build'], {
    cwd: root,
    stdio: 'inherit',
  });
}
