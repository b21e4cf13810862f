// `npm start` runs this first: the TypeScript build runs only when a source file of the build (or a
// tsconfig) is newer than the oldest output of a source, or an output is missing; otherwise dist/ is
// current and the gateway starts at once. tsc rewrites every output on each build, so the oldest
// output is as old as the last build.
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const configFile = path.join(root, 'tsconfig.build.json');
const { config, error } = ts.readConfigFile(configFile, ts.sys.readFile);
if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
const { fileNames, options } = ts.parseJsonConfigFileContent(config, ts.sys, root);
const sources = fileNames.filter((f) => !f.endsWith('.d.ts'));

/** The emitted JavaScript of a source file, under outDir as tsc lays it out (rootDir-relative). */
const outputOf = (file) =>
  path.join(options.outDir, path.relative(options.rootDir, file)).replace(/\.(m?)ts$/, '.$1js');
const mtime = (file) => {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
};

const newestSource = Math.max(...[...sources, configFile, path.join(root, 'tsconfig.json')].map(mtime));
const outputs = sources.map((f) => mtime(outputOf(f)));
const stale = outputs.includes(undefined) || newestSource > Math.min(...outputs);
if (!stale) {
  process.stderr.write('dist/ is newer than every source file: build skipped\n');
  process.exit(0);
}
const build = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
process.exit(build.status ?? 1);
