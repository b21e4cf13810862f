import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverJwksUri, KeysUnavailableError } from '../../../src/identity/keys.js';

/** An issuer's metadata server on 127.0.0.1 whose answers each test sets. */
let server: Server;
let base: string;
let routes: Record<string, (base: string) => { status: number; body?: unknown; location?: string }>;

beforeAll(async () => {
  server = createServer((req, res) => {
    const route = routes[new URL(req.url ?? '/', 'http://x').pathname];
    const answer = route?.(base) ?? { status: 404 };
    res.writeHead(answer.status, {
      'content-type': 'application/json',
      ...(answer.location ? { location: answer.location } : {}),
    });
    res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

describe('issuer discovery', () => {
  it('reads jwks_uri from the OpenID configuration under the issuer path (OIDC Discovery §4)', async () => {
    routes = {
      '/realms/agents/.well-known/openid-configuration': (b) => ({
        status: 200,
        body: { issuer: `${b}/realms/agents`, jwks_uri: `${b}/realms/agents/certs` },
      }),
    };
    expect((await discoverJwksUri(`${base}/realms/agents`)).href).toBe(`${base}/realms/agents/certs`);
  });

  it('falls back to RFC 8414 metadata, the well-known segment before the issuer path', async () => {
    routes = {
      '/.well-known/oauth-authorization-server/tenant': (b) => ({
        status: 200,
        body: { issuer: `${b}/tenant`, jwks_uri: `${b}/tenant/jwks` },
      }),
    };
    expect((await discoverJwksUri(`${base}/tenant`)).href).toBe(`${base}/tenant/jwks`);
  });

  it('refuses metadata that names another issuer (mix-up, RFC 8414 §3.3)', async () => {
    routes = {
      '/.well-known/openid-configuration': () => ({
        status: 200,
        body: { issuer: 'https://evil.example', jwks_uri: 'https://evil.example/jwks' },
      }),
    };
    await expect(discoverJwksUri(base)).rejects.toThrow(/names issuer "https:\/\/evil\.example"/);
  });

  it('refuses a jwks_uri over plain http from another host, and does not follow redirects', async () => {
    routes = {
      '/.well-known/openid-configuration': (b) => ({
        status: 200,
        body: { issuer: b, jwks_uri: 'http://keys.example/jwks' },
      }),
    };
    await expect(discoverJwksUri(base)).rejects.toThrow(/must be https/);
    routes = {
      '/.well-known/openid-configuration': () => ({ status: 302, location: 'https://evil.example/x' }),
    };
    const err = await discoverJwksUri(base).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeysUnavailableError);
    expect((err as Error).message).toMatch(/answered HTTP 302/);
  });

  it('reports an issuer without metadata as unavailable', async () => {
    routes = {};
    await expect(discoverJwksUri(base)).rejects.toThrow(/no issuer metadata at/);
  });
});
