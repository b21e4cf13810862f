import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where the sources come from in git, when they are in a repository. */
export interface GitSource {
  commit: string;
  /** True when the source paths differ from the commit (uncommitted or untracked changes). */
  dirty: boolean;
  repo?: string;
  /** The repository's top folder, to name the sources relative to it. */
  root: string;
}

/**
 * The commit the sources were built from, or undefined outside a repository (or without git): the
 * bundle's revision then says `unversioned`, and nothing pretends otherwise.
 */
export async function gitSource(cwd: string, paths: readonly string[]): Promise<GitSource | undefined> {
  const git = async (...args: string[]) => (await run('git', ['-C', cwd, ...args])).stdout.trim();
  try {
    const commit = await git('rev-parse', 'HEAD');
    const root = await git('rev-parse', '--show-toplevel');
    const status = await git('status', '--porcelain', '--untracked-files=all', '--', ...paths);
    const repo = await git('config', '--get', 'remote.origin.url').catch(() => '');
    return { commit, dirty: status !== '', root, ...(repo ? { repo } : {}) };
  } catch {
    return undefined;
  }
}
