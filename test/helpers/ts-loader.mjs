/**
 * Node module hooks for code that runs outside Vitest's own module runner: the worker thread of the
 * semantic verifier (src/semantic/heuristic/thread.ts) loads its sources with Node's loader, which
 * cannot read TypeScript. A `.js` import that is not there resolves to the `.ts` file beside it (as
 * `tsc` would emit it), and a `.ts` file is transpiled on load. Tests only: the build ships `.js`.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import process from 'node:process';
import { fileURLToPath, URL } from 'node:url';

/**
 * Transpiled files by a digest of their source: each new worker thread has its own loader, and
 * importing the compiler costs more than the verifier's whole start-up.
 */
const CACHE = fileURLToPath(new URL('../../node_modules/.cache/mcpgov-ts-loader/', import.meta.url));
const COMPILER_OPTIONS = { module: 'ESNext', target: 'ES2022', sourceMap: false };
let typescript;

/** `./x.js` that does not exist, but `./x.ts` does: load the TypeScript source. */
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !specifier.endsWith('.js')) throw err;
    const url = new URL(specifier.slice(0, -3) + '.ts', context.parentURL);
    if (url.protocol !== 'file:' || !existsSync(fileURLToPath(url))) throw err;
    return { url: url.href, format: 'module', shortCircuit: true };
  }
}

/** TypeScript sources, transpiled one file at a time (type-only imports are dropped). */
export async function load(url, context, next) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return next(url, context);
  const source = await readFile(fileURLToPath(url), 'utf8');
  const key = createHash('sha256').update(JSON.stringify(COMPILER_OPTIONS)).update(source).digest('hex');
  const cached = `${CACHE}${key}.js`;
  const hit = await readFile(cached, 'utf8').catch(() => undefined);
  if (hit !== undefined) return { format: 'module', source: hit, shortCircuit: true };
  typescript ??= (await import('typescript')).default;
  const { outputText } = typescript.transpileModule(source, {
    fileName: fileURLToPath(url),
    compilerOptions: typescript.convertCompilerOptionsFromJson(COMPILER_OPTIONS, '.').options,
  });
  // Written aside and renamed: two threads filling the same entry never leave half a file.
  await mkdir(CACHE, { recursive: true });
  const aside = `${cached}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  await writeFile(aside, outputText);
  await rename(aside, cached);
  return { format: 'module', source: outputText, shortCircuit: true };
}
