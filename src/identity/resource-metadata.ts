import type { OAuthProtectedResourceMetadata } from '@modelcontextprotocol/sdk/shared/auth.js';

/** RFC 9728 §3: the well-known URI suffix of protected-resource metadata. */
export const METADATA_SUFFIX = '/.well-known/oauth-protected-resource';

/** What the metadata document is built from (the identity config). */
export interface ResourceSettings {
  issuer?: string;
  authorization_servers?: string[];
  required_scopes?: string[];
  scopes_supported?: string[];
}

/**
 * RFC 9728 §3.1: the metadata URL of a resource puts the well-known suffix between the host and the
 * resource's path (`https://h/mcp` → `https://h/.well-known/oauth-protected-resource/mcp`).
 */
export function metadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return new URL(`${METADATA_SUFFIX}${path}${url.search}`, url.origin).href;
}

/**
 * The protected-resource metadata document (RFC 9728 §2). MCP authorization requires at least one
 * authorization server in it; tokens are presented in the Authorization header only (never the query).
 */
export function resourceMetadata(
  resource: string,
  settings: ResourceSettings,
): OAuthProtectedResourceMetadata {
  const scopes = settings.scopes_supported ?? settings.required_scopes ?? [];
  return {
    resource,
    authorization_servers: settings.authorization_servers ?? (settings.issuer ? [settings.issuer] : []),
    ...(scopes.length > 0 ? { scopes_supported: scopes } : {}),
    bearer_methods_supported: ['header'],
    resource_name: 'mcpgov gateway',
  };
}

/** A Bearer challenge's parameters (RFC 6750 §3, RFC 9728 §5.1). */
export interface Challenge {
  /** RFC 6750 §3.1 error code; absent when the request carried no credentials (§3). */
  error?: 'invalid_request' | 'invalid_token' | 'insufficient_scope';
  description?: string;
  scope?: string[];
  resourceMetadata?: string;
}

/** The `WWW-Authenticate` value for a refused request. */
export function bearerChallenge(challenge: Challenge): string {
  const params: string[] = [];
  if (challenge.error) params.push(`error="${challenge.error}"`);
  if (challenge.description) params.push(`error_description="${headerSafe(challenge.description)}"`);
  if (challenge.scope && challenge.scope.length > 0) params.push(`scope="${challenge.scope.join(' ')}"`);
  if (challenge.resourceMetadata) params.push(`resource_metadata="${challenge.resourceMetadata}"`);
  return params.length > 0 ? `Bearer ${params.join(', ')}` : 'Bearer';
}

/** RFC 6750 §3: error_description holds %x20-21 / %x23-5B / %x5D-7E only (no `"` or `\`). */
function headerSafe(text: string): string {
  return text.replace(/["\\]/g, "'").replace(/[^\x20-\x7E]/g, ' ');
}

/** Whether tokens are verified at all: only then is this a protected resource with metadata. */
export function verifiesTokens(settings: { jwks?: string; jwks_uri?: string; discovery?: boolean }): boolean {
  return settings.jwks !== undefined || settings.jwks_uri !== undefined || settings.discovery === true;
}

/**
 * The gateway's resource identifier: `resource` as configured; else the audience when it is a URL
 * (RFC 8707 makes them one); else the URL the listener serves at.
 */
export function resourceUrl(settings: { resource?: string; audience?: string }, listenerUrl: string): string {
  if (settings.resource !== undefined) return settings.resource;
  if (settings.audience !== undefined && /^https?:\/\//i.test(settings.audience)) return settings.audience;
  return listenerUrl;
}
