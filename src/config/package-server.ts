import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** How a server named by its npm package is started: its command and the arguments before the server's own. */
export interface PackageLaunch {
  command: string;
  args: string[];
}

/**
 * Starts the npm package `spec` (`name@version`): with this Node from a local install, found as Node
 * finds packages (a `node_modules` folder in `from` or above it), so a clone starts its installed
 * servers offline; else with `npx -y name@version`, which fetches the pinned version once and caches it.
 */
export function launchPackage(spec: string, from: string): PackageLaunch {
  const name = spec.slice(0, spec.lastIndexOf('@'));
  const bin = localBin(name, from);
  return bin ? { command: process.execPath, args: [bin] } : { command: 'npx', args: ['-y', spec] };
}

/**
 * The executable script of an installed package: its only `bin`, or the one named after the package
 * (the one `npx` runs); undefined when the package is not installed above `from` or names no such bin.
 */
function localBin(name: string, from: string): string | undefined {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'node_modules', name, 'package.json');
    if (existsSync(manifest)) {
      const { bin } = JSON.parse(readFileSync(manifest, 'utf8')) as { bin?: string | Record<string, string> };
      const bins = typeof bin === 'string' ? [bin] : Object.values(bin ?? {});
      const script =
        bins.length === 1 ? bins[0] : (bin as Record<string, string> | undefined)?.[name.split('/').pop()!];
      return script === undefined ? undefined : path.join(path.dirname(manifest), script);
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}
