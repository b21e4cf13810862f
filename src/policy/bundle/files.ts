import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, realpath, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { canonicalJson, sha256Hex } from '../../evidence/hash.js';
import { APPROVALS_FILE, BundlePathSchema, SIGNATURES_FILE, type FileEntry } from './schema.js';

/** A bundle as bytes by relative name (forward slashes): how bundles travel between folders and HTTP. */
export type BundleFiles = Map<string, Buffer>;

/** Files that sign the content rather than being part of it: never listed in the signature. */
export const SIGNING_FILES: ReadonlySet<string> = new Set([SIGNATURES_FILE, APPROVALS_FILE]);

/**
 * Reads every file under `dir` (recursively) into memory; bundles are small. A deployed bundle is often
 * a symlink swapped to each new release: it is resolved once, so one read never mixes two releases.
 */
export async function readBundleDir(at: string): Promise<BundleFiles> {
  const dir = await realpath(at);
  const files: BundleFiles = new Map();
  const walk = async (rel: string) => {
    for (const entry of await readdir(path.join(dir, rel), { withFileTypes: true })) {
      const name = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(name);
      else files.set(name, await readFile(path.join(dir, name)));
    }
  };
  await walk('');
  return files;
}

/**
 * Writes a bundle into a folder that must not exist yet: into a temporary sibling first, renamed into
 * place at the end, so a reader never sees half a bundle.
 */
export async function writeBundleDir(dir: string, files: BundleFiles): Promise<void> {
  for (const name of files.keys()) {
    // Names may come from the network: never let one climb out of the bundle folder.
    if (!BundlePathSchema.safeParse(name).success) throw new Error(`unsafe file name in bundle: ${name}`);
  }
  const tmp = `${dir}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    for (const [name, bytes] of files) {
      const target = path.join(tmp, ...name.split('/'));
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, bytes);
    }
    await mkdir(path.dirname(dir), { recursive: true });
    await rename(tmp, dir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Replaces one file of a bundle folder atomically (write to a temporary name, then rename). */
export async function replaceFile(file: string, bytes: string | Buffer): Promise<void> {
  const tmp = `${file}.tmp-${randomBytes(6).toString('hex')}`;
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(tmp, bytes);
  await rename(tmp, file);
}

/** The signed file list of a bundle: every content file with its SHA-256, sorted by name. */
export function fileEntries(files: BundleFiles): FileEntry[] {
  return [...files.keys()]
    .filter((name) => !SIGNING_FILES.has(name))
    .sort()
    .map((name) => ({ algorithm: 'SHA-256' as const, hash: sha256Hex(files.get(name)!), name }));
}

/**
 * A bundle's content address: `sha256:` over the RFC 8785 form of its file list. It names the bundle
 * in decision records, approvals and channel pointers, whoever signed it and whenever.
 */
export function bundleDigest(entries: readonly FileEntry[]): string {
  return `sha256:${sha256Hex(canonicalJson(entries))}`;
}

/** The canonical JSON bytes a bundle stores for a value (RFC 8785, no trailing newline). */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}

/** The hex part of a `sha256:` digest, used as a folder name. */
export function digestHex(digest: string): string {
  return digest.replace(/^sha256:/, '');
}
