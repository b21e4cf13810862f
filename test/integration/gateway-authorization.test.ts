import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  discoverOAuthServerInfo,
  extractWWWAuthenticateParams,
  selectResourceURL,
  type OAuthClientProvider,
} from '@modelcontextprotocol/sdk/client/auth.js';
import { OAuthProtectedResourceMetadataSchema } from '@modelcontextprotocol/sdk/shared/auth.js';
import { base64url, decodeJwt, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { REFERENCE_SERVERS, type FixtureSpec } from '../helpers/fixture.js';
import { callTool, runGateway, textOf, type RunningGateway } from '../helpers/gateway-harness.js';
import { newSigningKey, startIdentityProvider, type IdentityProvider } from '../helpers/identity-provider.js';
import { startRecordingServer, type RecordingServer } from '../helpers/recording-server.js';
import { freePort } from '../helpers/demo-copy.js';

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
};

/** A raw MCP POST, as any client sends it. */
async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: JSON.stringify(body),
  });
  await res.text();
  return res;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Every byte the gateway wrote under its evidence folder. */
async function evidenceText(dir: string): Promise<string> {
  const files = await readdir(dir, { recursive: true, withFileTypes: true });
  const texts = await Promise.all(
    files.filter((f) => f.isFile()).map((f) => readFile(path.join(f.parentPath, f.name), 'utf8')),
  );
  return texts.join('\n');
}

const SPIFFE_ID = 'spiffe://example.org/ns/agents/sa/reporter';

function spec(identity: Record<string, unknown>, servers: Record<string, unknown>): FixtureSpec {
  return {
    config: { mode: 'enforce', identity, servers },
    tools: { tools: [{ name: '*', owner: 'platform', risk_tier: 'low' }], groups: { all: ['*'] } },
    agents: {
      agents: [
        { id: 'ci', owner: 'platform', tool_groups: ['all'], sub: 'ci-bot' },
        { id: 'reporter', owner: 'data', tool_groups: ['all'], spiffe_id: SPIFFE_ID },
      ],
    },
    rules: [
      {
        id: 'sum-needs-attested-workload',
        description: 'get-sum runs only for workloads attested on a confidential VM',
        when: {
          and: [
            { '===': [{ var: 'call.name' }, 'everything__get-sum'] },
            { '!==': [{ var: 'identity.claims.attestation.tee' }, 'sev-snp'] },
          ],
        },
        effect: 'deny',
        reason: 'unattested_workload',
      },
    ],
  };
}

describe('the gateway as an MCP authorization resource server', () => {
  let idp: IdentityProvider;
  let web: RecordingServer;
  let gw: RunningGateway;
  let url: string;
  let metadataUrl: string;

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}/mcp`;
    metadataUrl = `http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp`;
    idp = await startIdentityProvider(url);
    web = await startRecordingServer();
    const identity = {
      issuer: idp.issuer,
      jwks_uri: idp.jwksUri,
      resource: url,
      required_scopes: ['mcp:tools'],
    };
    const servers = {
      everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] },
      web: { url: web.url, headers: { 'x-api-key': 'downstream-key' } },
    };
    gw = await runGateway(spec(identity, servers), undefined, `127.0.0.1:${port}`);
  });
  afterAll(async () => {
    await gw?.close();
    await web?.close();
    await idp?.close();
  });

  it('serves its protected-resource metadata at the well-known URLs (RFC 9728)', async () => {
    for (const at of [metadataUrl, new URL('/.well-known/oauth-protected-resource', url).href]) {
      const res = await fetch(at);
      expect(res.status).toBe(200);
      expect(OAuthProtectedResourceMetadataSchema.parse(await res.json())).toEqual({
        resource: url,
        authorization_servers: [idp.issuer],
        scopes_supported: ['mcp:tools'],
        bearer_methods_supported: ['header'],
        resource_name: 'mcpgov gateway',
      });
    }
    expect((await fetch(new URL('/.well-known/oauth-protected-resource/other', url))).status).toBe(404);
  });

  it('answers a caller without a token 401 naming the metadata, from which an SDK client finds where to get a token', async () => {
    const res = await post(url, INITIALIZE);
    expect(res.status).toBe(401);
    // RFC 6750 §3.1: no error code when the request had no credentials.
    expect(res.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${metadataUrl}"`);
    const challenge = extractWWWAuthenticateParams(res);
    expect(challenge.resourceMetadataUrl?.href).toBe(metadataUrl);
    const info = await discoverOAuthServerInfo(url, { resourceMetadataUrl: challenge.resourceMetadataUrl });
    expect(info.authorizationServerUrl).toBe(idp.issuer);
    expect(info.authorizationServerMetadata?.jwks_uri).toBe(idp.jwksUri);
    // The RFC 8707 resource the client asks the authorization server for: this gateway's URL.
    expect((await selectResourceURL(url, {} as OAuthClientProvider, info.resourceMetadata))?.href).toBe(url);
    await expect(gw.client()).rejects.toMatchObject({ code: 401 });
  });

  it('maps a valid token to its agent and records issuer, subject, client, scopes and the jti digest, never the token', async () => {
    const token = await idp.sign({ sub: 'ci-bot' });
    const client = await gw.client(token);
    expect(textOf(await callTool(client, 'everything__echo', { message: 'hi' }))).toBe('Echo: hi');
    const records = await gw.evidence();
    const jti = decodeJwt(token).jti ?? '';
    const subject = {
      verified: true,
      agent: 'ci',
      iss: idp.issuer,
      sub: 'ci-bot',
      client_id: 'test-client',
      scopes: ['mcp:tools'],
      token_jti_sha256: `sha256:${createHash('sha256').update(jti).digest('hex')}`,
    };
    expect(records.findLast((r) => r.kind === 'decision')?.subject).toEqual(subject);
    expect(records.findLast((r) => r.kind === 'chain' && r.subject)?.subject).toEqual(subject);
    const text = await evidenceText(gw.fixture.evidenceDir);
    expect(text).not.toContain(token.split('.')[2]);
    expect(text).not.toContain(jti);
  });

  it('maps a SPIFFE JWT-SVID subject to the agent registered with that spiffe_id', async () => {
    const client = await gw.client(await idp.sign({ sub: SPIFFE_ID }));
    expect(textOf(await callTool(client, 'everything__echo', { message: 'svid' }))).toBe('Echo: svid');
    const decision = (await gw.evidence()).findLast((r) => r.kind === 'decision');
    expect(decision?.subject).toMatchObject({ agent: 'reporter', spiffe_id: SPIFFE_ID, sub: SPIFFE_ID });
  });

  it('lets rules read attestation claims of the token as identity.claims', async () => {
    const attested = await gw.client(await idp.sign({ claims: { attestation: { tee: 'sev-snp' } } }));
    expect(textOf(await callTool(attested, 'everything__get-sum', { a: 1, b: 2 }))).toMatch(/3/);
    const plain = await gw.client(await idp.sign());
    const denied = await callTool(plain, 'everything__get-sum', { a: 1, b: 2 });
    expect(denied.isError).toBe(true);
    expect(textOf(denied)).toContain('reason: unattested_workload');
  });

  it('accepts a token that expired within the clock leeway (30 s by default)', async () => {
    const res = await post(url, INITIALIZE, bearer(await idp.sign({ expiresIn: -10 })));
    expect(res.status).toBe(200);
  });

  const refused: [string, (idp: IdentityProvider) => Promise<string>][] = [
    ['a token for another resource (RFC 8707)', (p) => p.sign({ aud: 'http://127.0.0.1:1/mcp' })],
    ['an expired token, past the leeway', (p) => p.sign({ expiresIn: -120 })],
    ['a token not valid yet, past the leeway', (p) => p.sign({ notBefore: 120 })],
    ['a token from another issuer', (p) => p.sign({ iss: 'https://idp.evil.example' })],
    [
      'a token signed by a key the issuer does not publish',
      async (p) => p.sign({ key: await newSigningKey() }),
    ],
    [
      'a token naming the right kid, signed by another key',
      async (p) => p.sign({ key: await newSigningKey(), kid: p.current.kid }),
    ],
    [
      'an unsigned token (alg none)',
      async (p) => {
        const claims = decodeJwt(await p.sign());
        const part = (v: unknown) => base64url.encode(JSON.stringify(v));
        return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
      },
    ],
    [
      'HS256 signed with the public key as the secret',
      async (p) => {
        const claims = decodeJwt(await p.sign());
        return new SignJWT(claims)
          .setProtectedHeader({ alg: 'HS256', kid: p.current.kid })
          .sign(new TextEncoder().encode(JSON.stringify(p.current.publicJwk)));
      },
    ],
  ];

  it.each(refused)('refuses %s with 401 invalid_token and the metadata URL', async (_name, mint) => {
    const res = await post(url, INITIALIZE, bearer(await mint(idp)));
    expect(res.status).toBe(401);
    const header = res.headers.get('www-authenticate') ?? '';
    expect(header).toMatch(/^Bearer error="invalid_token", error_description="[^"]+", /);
    expect(header).toContain(`resource_metadata="${metadataUrl}"`);
  });

  it('refuses credentials of another scheme, and a token in the query string, with 401', async () => {
    const basic = await post(url, INITIALIZE, { authorization: 'Basic Y2k6Ym90' });
    expect(basic.status).toBe(401);
    expect(basic.headers.get('www-authenticate')).toBe(
      `Bearer error="invalid_request", resource_metadata="${metadataUrl}"`,
    );
    const query = await post(`${url}?access_token=${await idp.sign()}`, INITIALIZE);
    expect(query.status).toBe(401);
  });

  it('answers a valid token without the required scope 403 insufficient_scope, naming the scope', async () => {
    const res = await post(url, INITIALIZE, bearer(await idp.sign({ scope: 'mcp:read' })));
    expect(res.status).toBe(403);
    const challenge = extractWWWAuthenticateParams(res);
    expect(challenge).toMatchObject({ error: 'insufficient_scope', scope: 'mcp:tools' });
    expect(challenge.resourceMetadataUrl?.href).toBe(metadataUrl);
  });

  it('never passes the caller token to a downstream server, only the headers configured for it', async () => {
    const token = await idp.sign({ sub: 'ci-bot' });
    const client = await gw.client(token);
    expect(textOf(await callTool(client, 'web__echo', { message: 'downstream' }))).toBe('Echo: downstream');
    expect(web.seen.some((r) => r.method === 'tools/call')).toBe(true);
    for (const { headers } of web.seen) {
      expect(headers['authorization']).toBeUndefined();
      expect(headers['x-api-key']).toBe('downstream-key');
      expect(JSON.stringify(headers)).not.toContain(token.split('.')[2]);
    }
  });

  describe('within a session', () => {
    async function openSession(token: string): Promise<string> {
      const res = await post(url, INITIALIZE, bearer(token));
      expect(res.status).toBe(200);
      const session = res.headers.get('mcp-session-id') ?? '';
      const initialized = { jsonrpc: '2.0', method: 'notifications/initialized' };
      expect((await post(url, initialized, { ...bearer(token), 'mcp-session-id': session })).status).toBe(
        202,
      );
      return session;
    }
    const listTools = { jsonrpc: '2.0', id: 2, method: 'tools/list' };

    it('accepts a refreshed token of the same caller, and refuses another caller with 401', async () => {
      const session = await openSession(await idp.sign({ sub: 'ci-bot' }));
      const refreshed = await idp.sign({ sub: 'ci-bot' });
      expect((await post(url, listTools, { ...bearer(refreshed), 'mcp-session-id': session })).status).toBe(
        200,
      );
      const other = await post(url, listTools, {
        ...bearer(await idp.sign({ sub: SPIFFE_ID })),
        'mcp-session-id': session,
      });
      expect(other.status).toBe(401);
      expect(extractWWWAuthenticateParams(other)).toMatchObject({ error: 'invalid_token' });
      expect(extractWWWAuthenticateParams(other).resourceMetadataUrl?.href).toBe(metadataUrl);
      const wider = await idp.sign({ sub: 'ci-bot', scope: 'mcp:tools mcp:admin' });
      expect((await post(url, listTools, { ...bearer(wider), 'mcp-session-id': session })).status).toBe(401);
    });

    it('refuses the session token once it has expired (every request is authenticated)', async () => {
      const token = await idp.sign({ expiresIn: 60 });
      const session = await openSession(token);
      expect((await post(url, listTools, { ...bearer(token), 'mcp-session-id': session })).status).toBe(200);
      vi.useFakeTimers({ toFake: ['Date'] });
      try {
        vi.setSystemTime(Date.now() + 120_000);
        const res = await post(url, listTools, { ...bearer(token), 'mcp-session-id': session });
        expect(res.status).toBe(401);
        expect(extractWWWAuthenticateParams(res)).toMatchObject({ error: 'invalid_token' });
      } finally {
        vi.useRealTimers();
      }
    });
  });
});

describe('identity keys from issuer discovery, rotated at the identity provider', () => {
  const AUDIENCE = 'https://mcp.example.test/mcp';
  let idp: IdentityProvider;
  let gw: RunningGateway;

  beforeAll(async () => {
    idp = await startIdentityProvider(AUDIENCE);
    const identity = { issuer: idp.issuer, discovery: true, audience: AUDIENCE };
    const servers = { everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] } };
    gw = await runGateway(spec(identity, servers));
  });
  afterAll(async () => {
    vi.useRealTimers();
    await gw?.close();
    await idp?.close();
  });

  it('finds the JWKS through the OpenID configuration, fetches it once and caches it', async () => {
    for (const sub of ['ci-bot', SPIFFE_ID]) {
      const client = await gw.client(await idp.sign({ sub }));
      expect(textOf(await callTool(client, 'everything__echo', { message: sub }))).toBe(`Echo: ${sub}`);
    }
    expect(idp.hits.get('/.well-known/openid-configuration')).toBe(1);
    expect(idp.hits.get('/jwks')).toBe(1);
    const metadata = await (await fetch(new URL('/.well-known/oauth-protected-resource/mcp', gw.url))).json();
    expect(metadata).toMatchObject({ resource: AUDIENCE, authorization_servers: [idp.issuer] });
  });

  it('picks up a rotated key without a restart, and refuses tokens of the removed key', async () => {
    const old = idp.current;
    await idp.rotate();
    vi.useFakeTimers({ toFake: ['Date'] });
    // jose fetches the JWKS again for an unknown kid at most every 30 s.
    vi.setSystemTime(Date.now() + 31_000);
    const fetched = idp.hits.get('/jwks') ?? 0;
    const client = await gw.client(await idp.sign());
    expect(textOf(await callTool(client, 'everything__echo', { message: 'new key' }))).toBe('Echo: new key');
    expect(idp.hits.get('/jwks')).toBe(fetched + 1);
    const res = await post(gw.url, INITIALIZE, bearer(await idp.sign({ key: old })));
    expect(res.status).toBe(401);
    vi.useRealTimers();
  });

  it('answers 503 while the keys cannot be fetched, asks again only after 5 s, then recovers', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    // Past jose's 10-minute cache, the keys are fetched again before any token is verified.
    vi.setSystemTime(Date.now() + 11 * 60_000);
    idp.down = true;
    const token = await idp.sign();
    const before = idp.hits.get('/jwks') ?? 0;
    expect((await post(gw.url, INITIALIZE, bearer(token))).status).toBe(503);
    expect((await post(gw.url, INITIALIZE, bearer(token))).status).toBe(503);
    expect(idp.hits.get('/jwks')).toBe(before + 1);
    idp.down = false;
    expect((await post(gw.url, INITIALIZE, bearer(token))).status).toBe(503);
    vi.setSystemTime(Date.now() + 6_000);
    expect((await post(gw.url, INITIALIZE, bearer(token))).status).toBe(200);
    expect(idp.hits.get('/jwks')).toBe(before + 2);
    vi.useRealTimers();
  });
});
