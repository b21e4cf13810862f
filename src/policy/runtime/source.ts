import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { PoliciesConfig } from '../../config/schema.js';
import { digestHex, readBundleDir, type BundleFiles } from '../bundle/files.js';
import { bundlePath, pointerPath } from '../release/registry-store.js';
import { BundlePathSchema } from '../bundle/schema.js';

/**
 * Where an enforcement point gets bundles (a `BundleSource`). A channel
 * source serves a signed pointer and bundles by digest; a folder source serves one bundle. Sources
 * only fetch bytes: every check happens in the manager, whatever the source.
 */
export interface BundleSource {
  /** Where bundles come from, for status and messages. */
  readonly location: string;
  /** The channel followed, for channel sources. */
  readonly channel?: string;
  /** The channel's current pointer JWS (undefined before the first publish); only channel sources. */
  readPointer?(): Promise<string | undefined>;
  /** A bundle's files: by digest from a registry, or the one folder of a folder source. */
  readBundle(digest?: string): Promise<BundleFiles>;
  /** Calls `listener` when the source knows it has something new (a pushed pointer), besides polling. */
  onChange?(listener: () => void): void;
}

/** How a bundle travels over HTTP: every file's bytes, base64, by name. */
export const BundleTransferSchema = z.strictObject({ files: z.record(BundlePathSchema, z.base64()) });

/**
 * The source a config describes: a channel of a registry folder or HTTP registry, or a bundle folder.
 * `token` is the bearer token an HTTP registry requires.
 */
export function createBundleSource(
  policy: PoliciesConfig,
  token?: string,
  fetchImpl: typeof fetch = fetch,
): BundleSource {
  const where = policy.bundle ?? policy.registry;
  if (policy.channel !== undefined) {
    if (/^https?:/i.test(where))
      return new HttpRegistrySource(where, policy.name, policy.channel, token, fetchImpl);
    return new FolderRegistrySource(toPath(where), policy.name, policy.channel);
  }
  if (/^https?:/i.test(where)) throw new Error('an http(s) bundle source needs policies.channel');
  return new FolderBundleSource(toPath(where));
}

function toPath(where: string): string {
  return /^file:/i.test(where) ? fileURLToPath(where) : where;
}

/** One bundle folder, re-read on every check (a changed folder is a new candidate). */
export class FolderBundleSource implements BundleSource {
  constructor(readonly location: string) {}

  readBundle(): Promise<BundleFiles> {
    if (!existsSync(this.location)) throw new Error(`bundle folder not found: ${this.location}`);
    return readBundleDir(this.location);
  }
}

/** A channel of a registry folder (what `mcpgov policy publish` writes). */
export class FolderRegistrySource implements BundleSource {
  constructor(
    readonly location: string,
    private readonly name: string,
    readonly channel: string,
  ) {}

  async readPointer(): Promise<string | undefined> {
    try {
      return (await readFile(pointerPath(this.location, this.name, this.channel), 'utf8')).trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  readBundle(digest?: string): Promise<BundleFiles> {
    const dir = bundlePath(this.location, this.name, digest ?? '');
    if (!existsSync(dir)) throw new Error(`registry holds no bundle ${digest}`);
    return readBundleDir(dir);
  }
}

/** Largest pointer or bundle accepted over HTTP: bundles are policy, not data. */
const MAX_HTTP_BYTES = 16 * 1024 * 1024;
const HTTP_TIMEOUT_MS = 10_000;

/**
 * A channel of a gateway's registry endpoint: the pointer is polled with `If-None-Match` (a 304
 * reuses the pointer already fetched), bundles are fetched by digest and are immutable.
 */
export class HttpRegistrySource implements BundleSource {
  private etag?: string;
  private pointer?: string;
  readonly location: string;

  constructor(
    base: string,
    private readonly name: string,
    readonly channel: string,
    private readonly token: string | undefined,
    private readonly fetchImpl: typeof fetch,
  ) {
    this.location = base.replace(/(?<!\/)\/+$/, '');
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.token === undefined ? extra : { ...extra, authorization: `Bearer ${this.token}` };
  }

  async readPointer(): Promise<string | undefined> {
    const url = `${this.location}/channels/${this.name}/${this.channel}`;
    const headers = this.headers(this.etag ? { 'if-none-match': this.etag } : {});
    const res = await this.fetchImpl(url, { headers, signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
    if (res.status === 304 && this.pointer !== undefined) return this.pointer;
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
    const text = (await boundedText(res, url)).trim();
    this.pointer = text;
    this.etag = res.headers.get('etag') ?? undefined;
    return text;
  }

  async readBundle(digest?: string): Promise<BundleFiles> {
    const url = `${this.location}/bundles/${this.name}/${digestHex(digest ?? '')}`;
    const res = await this.fetchImpl(url, {
      headers: this.headers(),
      signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
    if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
    const parsed = BundleTransferSchema.safeParse(JSON.parse(await boundedText(res, url)));
    if (!parsed.success) throw new Error(`GET ${url}: not a bundle transfer document`);
    return new Map(
      Object.entries(parsed.data.files).map(([name, b64]) => [name, Buffer.from(b64, 'base64')]),
    );
  }
}

async function boundedText(res: Response, url: string): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > MAX_HTTP_BYTES)
    throw new Error(`GET ${url}: response too large`);
  const text = await res.text();
  if (Buffer.byteLength(text) > MAX_HTTP_BYTES) throw new Error(`GET ${url}: response too large`);
  return text;
}

/** Encodes a bundle for the registry endpoint. */
export function encodeBundle(files: BundleFiles): string {
  return JSON.stringify({
    files: Object.fromEntries([...files].map(([name, bytes]) => [name, bytes.toString('base64')])),
  });
}
