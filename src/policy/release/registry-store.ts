import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Low } from 'lowdb';
import { JSONFile } from 'lowdb/node';
import { z } from 'zod';
import { PolicyNameSchema } from '../../config/schema.js';
import {
  bundleDigest,
  digestHex,
  fileEntries,
  readBundleDir,
  replaceFile,
  writeBundleDir,
  type BundleFiles,
} from '../bundle/files.js';
import { DigestSchema } from '../bundle/schema.js';

const BundleEntrySchema = z.strictObject({
  name: PolicyNameSchema,
  digest: DigestSchema,
  revision: z.string(),
  seq: z.number().int(),
  stored_at: z.string(),
});
/** A bundle held in the registry. */
export type BundleEntry = z.infer<typeof BundleEntrySchema>;

const PublicationSchema = z.strictObject({
  name: PolicyNameSchema,
  channel: PolicyNameSchema,
  channel_seq: z.number().int().positive(),
  digest: DigestSchema,
  revision: z.string(),
  seq: z.number().int(),
  approved_by: z.array(z.string()),
  rollback: z.boolean(),
  published_at: z.string(),
  exp: z.string(),
  /** SHA-256 of the pointer JWS, to match a pointer seen elsewhere with this entry. */
  pointer_sha256: z.string(),
});
/** One pointer published to a channel: the channel's history, oldest first. */
export type Publication = z.infer<typeof PublicationSchema>;

const IndexSchema = z.strictObject({
  bundles: z.array(BundleEntrySchema),
  history: z.array(PublicationSchema),
});
type Index = z.infer<typeof IndexSchema>;

/** Where a registry folder keeps a bundle: the same path its HTTP endpoint serves it under. */
export function bundlePath(registry: string, name: string, digest: string): string {
  return path.join(registry, 'bundles', name, digestHex(digest));
}

/** Where a registry folder keeps a channel's current pointer. */
export function pointerPath(registry: string, name: string, channel: string): string {
  return path.join(registry, 'channels', name, `${channel}.jws`);
}

/**
 * The local policy registry: immutable bundles under `bundles/<name>/<digest hex>/`, each channel's
 * current pointer at `channels/<name>/<channel>.jws` (the same paths the gateway's registry endpoint
 * serves), and a lowdb index for listing and history. The pointer files are the source of truth for
 * enforcement points; the index is for people.
 */
export class RegistryStore {
  private constructor(
    readonly dir: string,
    private readonly db: Low<Index>,
  ) {}

  /** Opens (creating if needed) the registry in `dir`. */
  static async open(dir: string): Promise<RegistryStore> {
    await mkdir(dir, { recursive: true });
    // Not JSONFilePreset: under NODE_ENV=test it silently keeps the data in memory.
    const db = new Low<Index>(new JSONFile<Index>(path.join(dir, 'index.json')), {
      bundles: [],
      history: [],
    });
    await db.read();
    const parsed = IndexSchema.safeParse(db.data);
    if (!parsed.success)
      throw new Error(
        `${path.join(dir, 'index.json')}: ${parsed.error.issues[0]?.message ?? 'invalid index'}`,
      );
    db.data = parsed.data;
    return new RegistryStore(dir, db);
  }

  /** Folder of a stored bundle. */
  bundleDir(name: string, digest: string): string {
    return bundlePath(this.dir, name, digest);
  }

  /** File of a channel's current pointer. */
  pointerFile(name: string, channel: string): string {
    return pointerPath(this.dir, name, channel);
  }

  /**
   * Stores a bundle under its digest. Storing the same content again is a no-op (its signature and
   * approvals as first stored are kept: a bundle in the registry never changes).
   */
  async storeBundle(files: BundleFiles, info: Omit<BundleEntry, 'stored_at' | 'digest'>): Promise<string> {
    const digest = bundleDigest(fileEntries(files));
    const dir = this.bundleDir(info.name, digest);
    if (!existsSync(dir)) await writeBundleDir(dir, files);
    if (!this.db.data.bundles.some((b) => b.name === info.name && b.digest === digest)) {
      this.db.data.bundles.push({ ...info, digest, stored_at: new Date().toISOString() });
      await this.db.write();
    }
    return digest;
  }

  /** A stored bundle's files, or undefined when the registry does not hold it. */
  async readBundle(name: string, digest: string): Promise<BundleFiles | undefined> {
    const dir = this.bundleDir(name, digest);
    return existsSync(dir) ? readBundleDir(dir) : undefined;
  }

  /** A channel's current pointer JWS, or undefined before the first publish. */
  async readPointer(name: string, channel: string): Promise<string | undefined> {
    try {
      return (await readFile(this.pointerFile(name, channel), 'utf8')).trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Replaces a channel's pointer atomically and appends it to the channel's history. */
  async writePointer(jws: string, entry: Publication): Promise<void> {
    await replaceFile(this.pointerFile(entry.name, entry.channel), `${jws}\n`);
    this.db.data.history.push(entry);
    await this.db.write();
  }

  /** Bundles stored under a name, oldest first. */
  bundles(name: string): BundleEntry[] {
    return this.db.data.bundles.filter((b) => b.name === name);
  }

  /** A channel's published pointers, oldest first. */
  history(name: string, channel: string): Publication[] {
    return this.db.data.history.filter((h) => h.name === name && h.channel === channel);
  }

  /** Every channel with a history, by bundle name. */
  channels(): { name: string; channel: string }[] {
    const seen = new Map<string, { name: string; channel: string }>();
    for (const h of this.db.data.history)
      seen.set(`${h.name}/${h.channel}`, { name: h.name, channel: h.channel });
    return [...seen.values()];
  }

  /** The highest seq stored under a name (0 when none): the next build takes the one after. */
  maxSeq(name: string): number {
    return Math.max(0, ...this.bundles(name).map((b) => b.seq));
  }
}
