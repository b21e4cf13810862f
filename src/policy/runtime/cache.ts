import { existsSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { Low } from 'lowdb';
import { JSONFile } from 'lowdb/node';
import { z } from 'zod';
import {
  bundleDigest,
  digestHex,
  fileEntries,
  readBundleDir,
  writeBundleDir,
  type BundleFiles,
} from '../bundle/files.js';
import { DigestSchema } from '../bundle/schema.js';

const StateSchema = z.strictObject({
  digest: DigestSchema.nullable(),
  /** Folder under `bundles/` holding it: a new one per save, so a crash never leaves half a bundle. */
  folder: z
    .string()
    .regex(/^[0-9a-f]{64}\.\d+$/)
    .nullable(),
  /** The channel pointer the bundle was activated under: it also carries the channel_seq floor. */
  pointer: z.string().nullable(),
  saved_at: z.string().nullable(),
});
type State = z.infer<typeof StateSchema>;

/**
 * An enforcement point's last good bundle on disk (OPA's `persist`), so it starts from it when its
 * source is unreachable. What is cached is re-verified at start like any candidate, so a tampered
 * cache is refused, not trusted.
 */
export class PolicyCache {
  constructor(readonly dir: string) {}

  private async db(): Promise<Low<State>> {
    await mkdir(this.dir, { recursive: true });
    // Not JSONFilePreset: under NODE_ENV=test it silently keeps the data in memory.
    const db = new Low<State>(new JSONFile<State>(path.join(this.dir, 'state.json')), {
      digest: null,
      folder: null,
      pointer: null,
      saved_at: null,
    });
    await db.read();
    db.data = StateSchema.parse(db.data);
    return db;
  }

  /** The cached bundle and pointer, or undefined when nothing was cached yet. */
  async load(): Promise<{ files: BundleFiles; pointer?: string } | undefined> {
    if (!existsSync(path.join(this.dir, 'state.json'))) return undefined;
    const { data } = await this.db();
    if (data.folder === null) return undefined;
    const dir = path.join(this.dir, 'bundles', data.folder);
    if (!existsSync(dir)) return undefined;
    return { files: await readBundleDir(dir), pointer: data.pointer ?? undefined };
  }

  /** Keeps a bundle that was just activated; older cached bundles are removed. */
  async save(files: BundleFiles, pointer: string | undefined, now: number): Promise<void> {
    const digest = bundleDigest(fileEntries(files));
    const bundles = path.join(this.dir, 'bundles');
    const db = await this.db();
    let stamp = now;
    while (existsSync(path.join(bundles, `${digestHex(digest)}.${stamp}`))) stamp += 1;
    const folder = `${digestHex(digest)}.${stamp}`;
    await writeBundleDir(path.join(bundles, folder), files);
    db.data = { digest, folder, pointer: pointer ?? null, saved_at: new Date(now).toISOString() };
    await db.write();
    // Only after the state names the new folder do older ones go.
    for (const entry of await readdir(bundles)) {
      if (entry !== folder) await rm(path.join(bundles, entry), { recursive: true, force: true });
    }
  }
}
