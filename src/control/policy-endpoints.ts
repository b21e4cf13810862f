import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PolicyNameSchema } from '../config/schema.js';
import { pointerTag } from '../policy/bundle/channel.js';
import type { PolicyControlPlane } from './control-plane.js';
import { readBundleDir } from '../policy/bundle/files.js';
import { bundlePath, pointerPath } from '../policy/release/registry-store.js';
import { encodeBundle } from '../policy/runtime/source.js';
import type { Logger } from '../util/log.js';

/** Largest status report accepted: a report is a few hundred bytes. */
const MAX_REPORT_BYTES = 64 * 1024;

/** What the policy endpoints serve from. */
export interface PolicyEndpointOptions {
  control: PolicyControlPlane;
  /** The local registry folder served at `/policy/registry/`. */
  registry: string;
  log?: Logger;
}

/**
 * The gateway's policy endpoints, beside `/mcp` on the same listener (after its Host and Origin
 * checks):
 *   GET  /policy/status                                 every known PEP's bundle, state and drift
 *   POST /policy/status                                 a PEP's status report (bearer token)
 *   GET  /policy/registry/channels/<name>/<channel>     the signed channel pointer (ETag; bearer token)
 *   GET  /policy/registry/bundles/<name>/<digest hex>   a bundle's files (immutable; bearer token)
 * Returns false for any other path.
 */
export function policyRoutes(opts: PolicyEndpointOptions) {
  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    const parts = url.pathname.split('/').filter(Boolean);
    if (parts[0] !== 'policy') return false;
    if (parts.length === 2 && parts[1] === 'status') {
      if (req.method === 'GET') return send(res, 200, opts.control.view());
      if (req.method === 'POST') {
        const body = await readJson(req);
        if (!body.ok) return send(res, body.status, { error: body.message });
        const outcome = await opts.control.receive(body.value, bearer(req));
        return outcome.ok
          ? send(res, 202, { accepted: true })
          : send(res, outcome.status, { error: outcome.message });
      }
      res.setHeader('allow', 'GET, POST');
      return send(res, 405, { error: `method ${req.method} not allowed` });
    }
    if (parts[1] !== 'registry' || parts.length !== 5 || !validName(parts[3]))
      return send(res, 404, { error: 'not found' });
    if (req.method !== 'GET') {
      res.setHeader('allow', 'GET');
      return send(res, 405, { error: `method ${req.method} not allowed` });
    }
    // Bundles are signed, but they are still the organisation's policy: only known PEPs read them.
    if (!opts.control.tokenKnown(bearer(req))) {
      res.setHeader('www-authenticate', 'Bearer');
      return send(res, 401, { error: 'a reporter bearer token is required' });
    }
    const [, , kind, name, last] = parts as [string, string, string, string, string];
    if (kind === 'channels' && validName(last))
      return sendPointer(req, res, pointerPath(opts.registry, name, last));
    if (kind === 'bundles' && /^[0-9a-f]{64}$/.test(last)) {
      const dir = bundlePath(opts.registry, name, `sha256:${last}`);
      if (!existsSync(dir)) return send(res, 404, { error: 'no such bundle' });
      // Content-addressed and immutable: the digest is the ETag for good.
      res.writeHead(200, {
        'content-type': 'application/json',
        etag: `"${last}"`,
        'cache-control': 'public, max-age=31536000, immutable',
      });
      res.end(encodeBundle(await readBundleDir(dir)));
      return true;
    }
    return send(res, 404, { error: 'not found' });
  };
}

async function sendPointer(req: IncomingMessage, res: ServerResponse, file: string): Promise<boolean> {
  let jws: string;
  try {
    jws = (await readFile(file, 'utf8')).trim();
  } catch {
    return send(res, 404, { error: 'no pointer published on this channel' });
  }
  const etag = `"${pointerTag(jws)}"`;
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, { etag });
    res.end();
    return true;
  }
  res.writeHead(200, { 'content-type': 'application/jose', etag, 'cache-control': 'no-cache' });
  res.end(jws);
  return true;
}

function validName(value: string | undefined): boolean {
  return PolicyNameSchema.safeParse(value).success;
}

function bearer(req: IncomingMessage): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
}

function send(res: ServerResponse, status: number, body: unknown): true {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
  return true;
}

async function readJson(
  req: IncomingMessage,
): Promise<{ ok: true; value: unknown } | { ok: false; status: 400 | 413; message: string }> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Read to the end even past the limit: leaving the loop early would drop the socket before the 413.
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MAX_REPORT_BYTES) chunks.push(chunk);
  }
  if (size > MAX_REPORT_BYTES) return { ok: false, status: 413, message: 'status report too large' };
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch {
    return { ok: false, status: 400, message: 'status report is not JSON' };
  }
}
