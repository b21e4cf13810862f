import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OAuthProtectedResourceMetadata } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { Identity } from '../core/identity.js';
import { digest } from '../evidence/hash.js';
import type { AuthResult } from '../identity/authenticate.js';
import { bearerChallenge, METADATA_SUFFIX, metadataUrl } from '../identity/resource-metadata.js';
import type { Logger } from '../util/log.js';
import type { HttpAuthResult } from './http-upstream.js';

/** What the HTTP listener's authentication needs from the enforcement point. */
export interface BearerAuthOptions {
  authenticate(token: string | undefined): Promise<AuthResult>;
  /** The protected-resource metadata URL every challenge names (RFC 9728 §5.1), once known. */
  metadataUrl(): string | undefined;
  log?: Logger;
}

/** Claims that change when a token is refreshed; every other claim binds a session (see bindingOf). */
const REFRESHED_CLAIMS = new Set(['exp', 'iat', 'nbf', 'jti']);

/**
 * Authenticates each HTTP request by its `Authorization: Bearer` token (RFC 6750 §2.1; MCP
 * authorization: never the query string), answering as an OAuth 2.1 resource server: 401 with a
 * challenge naming the resource metadata, 403 `insufficient_scope` naming the scopes needed.
 */
export function bearerAuth(opts: BearerAuthOptions): (req: IncomingMessage) => Promise<HttpAuthResult> {
  return async (req) => {
    const header = req.headers.authorization;
    const token = header === undefined ? undefined : /^Bearer +([\w.~+/-]+=*)$/i.exec(header)?.[1];
    const resourceMetadata = opts.metadataUrl();
    if (header !== undefined && token === undefined) {
      // Credentials of another scheme, or a malformed token, are refused, never read as "no token".
      const wwwAuthenticate = bearerChallenge({ error: 'invalid_request', resourceMetadata });
      return { ok: false, status: 401, message: 'Authorization must be "Bearer <token>"', wwwAuthenticate };
    }
    const result = await opts.authenticate(token);
    if (result.ok) return { ok: true, principal: result.identity, binding: bindingOf(result.identity) };
    const { code, message } = result;
    if (code === 'keys_unavailable') {
      opts.log?.('warn', 'token keys unavailable', { error: message });
      return { ok: false, status: 503, message };
    }
    if (code === 'insufficient_scope') {
      const wwwAuthenticate = bearerChallenge({
        error: 'insufficient_scope',
        description: message,
        scope: result.scope,
        resourceMetadata,
      });
      return { ok: false, status: 403, message, wwwAuthenticate };
    }
    // RFC 6750 §3.1: a request without a token gets a challenge with no error code.
    const error = code === 'invalid_token' ? 'invalid_token' : undefined;
    const wwwAuthenticate = bearerChallenge({ error, description: error && message, resourceMetadata });
    return { ok: false, status: 401, message, wwwAuthenticate };
  };
}

/**
 * What a session is bound to: the same caller with the same claims. A client may present a refreshed
 * token in the session (MCP clients do on a 401), but not another caller's, or one with other scopes
 * or claims than the session was opened with (rules and evidence use those).
 */
export function bindingOf(identity: Identity): string {
  if (!identity.verified) return `unverified:${identity.agentId ?? ''}`;
  const claims = Object.fromEntries(
    Object.entries(identity.claims).filter(([k]) => !REFRESHED_CLAIMS.has(k)),
  );
  return digest({ agent: identity.agentId ?? null, claims });
}

/**
 * Serves the protected-resource metadata (RFC 9728 §3) at the well-known URL of the resource and of
 * the listener's `endpoint`, and at the bare well-known URL, which clients try as a fallback. `metadata()` is undefined when tokens
 * are not verified: then there is no such document and the answer is false (not served).
 */
export function metadataRoute(
  endpoint: string,
  metadata: () => OAuthProtectedResourceMetadata | undefined,
): (req: IncomingMessage, res: ServerResponse, url: URL) => boolean {
  return (req, res, url) => {
    if (!url.pathname.startsWith(METADATA_SUFFIX)) return false;
    const doc = metadata();
    if (!doc) return false;
    const served = [
      METADATA_SUFFIX,
      `${METADATA_SUFFIX}${endpoint}`,
      new URL(metadataUrl(doc.resource)).pathname,
    ];
    if (!served.includes(url.pathname)) return false;
    // Browser-based clients on allowed origins read it cross-origin (RFC 9728 §3: publicly readable).
    res.setHeader('access-control-allow-origin', '*');
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'access-control-allow-methods': 'GET', 'access-control-allow-headers': '*' });
      res.end();
      return true;
    }
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET, OPTIONS' });
      res.end();
      return true;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
    res.end(JSON.stringify(doc));
    return true;
  };
}
