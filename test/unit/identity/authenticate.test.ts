import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { AgentsFileSchema } from '../../../src/config/schema.js';
import { Authenticator, type IdentitySettings } from '../../../src/identity/authenticate.js';
import { AgentRegistry } from '../../../src/registry/registries.js';

const ISSUER = 'https://idp.example';
const AUDIENCE = 'https://mcp.example/mcp';
const agents = new AgentRegistry(
  AgentsFileSchema.parse({ agents: [{ id: 'ci', owner: 'platform', sub: 'ci-bot' }] }),
);

let jwks: string;
let ed: CryptoKey;
let ec: CryptoKey;

function sign(key: CryptoKey, alg: string, kid: string, claims: JWTPayload = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload = { scope: 'mcp:tools', iss: ISSUER, aud: AUDIENCE, sub: 'ci-bot', iat: now, exp: now + 300 };
  return new SignJWT({ ...payload, ...claims }).setProtectedHeader({ alg, kid }).sign(key);
}

beforeAll(async () => {
  const edPair = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const ecPair = await generateKeyPair('ES256');
  ed = edPair.privateKey;
  ec = ecPair.privateKey;
  const keys = [
    { ...(await exportJWK(edPair.publicKey)), kid: 'ed', alg: 'EdDSA' },
    { ...(await exportJWK(ecPair.publicKey)), kid: 'ec', alg: 'ES256' },
  ];
  jwks = path.join(await mkdtemp(path.join(tmpdir(), 'mcpgov-authn-')), 'idp.jwks.json');
  await writeFile(jwks, JSON.stringify({ keys }));
});

async function authenticator(settings: Partial<IdentitySettings> = {}): Promise<Authenticator> {
  return Authenticator.create({ jwks, issuer: ISSUER, resource: AUDIENCE, ...settings });
}

describe('authenticator', () => {
  it('accepts only the configured algorithms, even for a published key', async () => {
    const token = await sign(ec, 'ES256', 'ec');
    expect(await (await authenticator()).authenticate(token, agents)).toMatchObject({ ok: true });
    const onlyEd = await authenticator({ algorithms: ['EdDSA'] });
    expect(await onlyEd.authenticate(token, agents)).toMatchObject({ ok: false, code: 'invalid_token' });
  });

  it('binds the audience to the resource when no audience is configured (RFC 8707)', async () => {
    const other = await sign(ed, 'EdDSA', 'ed', { aud: 'https://other.example/mcp' });
    const result = await (await authenticator()).authenticate(other, agents);
    expect(result).toMatchObject({ ok: false, code: 'invalid_token', message: expect.stringMatching(/aud/) });
  });

  it('requires every required scope, from `scope` or an `scp` array', async () => {
    const auth = await authenticator({ required_scopes: ['mcp:tools', 'mcp:call'] });
    const both = await sign(ed, 'EdDSA', 'ed', { scope: undefined, scp: ['mcp:tools', 'mcp:call'] });
    expect(await auth.authenticate(both, agents)).toMatchObject({ ok: true, identity: { agentId: 'ci' } });
    const one = await sign(ed, 'EdDSA', 'ed');
    expect(await auth.authenticate(one, agents)).toEqual({
      ok: false,
      code: 'insufficient_scope',
      message: 'the token lacks scope mcp:call, which this gateway requires',
      scope: ['mcp:tools', 'mcp:call'],
    });
  });

  it('honours the configured clock leeway', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await sign(ed, 'EdDSA', 'ed', { exp: now - 20 });
    expect(await (await authenticator()).authenticate(expired, agents)).toMatchObject({ ok: true });
    const strict = await authenticator({ leeway_seconds: 0 });
    expect(await strict.authenticate(expired, agents)).toMatchObject({ ok: false, code: 'invalid_token' });
  });

  it('reports keys it cannot fetch as unavailable, not as a bad token, and never falls back', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    const auth = await Authenticator.create({
      jwks_uri: `http://127.0.0.1:${port}/jwks`,
      issuer: ISSUER,
      resource: AUDIENCE,
      default_agent: 'ci',
    });
    const result = await auth.authenticate(await sign(ed, 'EdDSA', 'ed'), agents);
    expect(result).toMatchObject({ ok: false, code: 'keys_unavailable' });
  });
});

describe('SPIFFE JWT-SVIDs', () => {
  it('verifies them with the jwt-svid keys of a SPIFFE trust bundle and maps them by spiffe_id', async () => {
    const svid = await generateKeyPair('ES256');
    const root = await generateKeyPair('ES256');
    const bundle = {
      keys: [
        { ...(await exportJWK(svid.publicKey)), kid: 'svid', use: 'jwt-svid' },
        { ...(await exportJWK(root.publicKey)), kid: 'root', use: 'x509-svid' },
      ],
      spiffe_refresh_hint: 300,
    };
    const file = path.join(path.dirname(jwks), 'example.org.bundle.json');
    await writeFile(file, JSON.stringify(bundle));
    const spiffeId = 'spiffe://example.org/ns/agents/sa/reporter';
    const registry = new AgentRegistry(
      AgentsFileSchema.parse({ agents: [{ id: 'reporter', owner: 'data', spiffe_id: spiffeId }] }),
    );
    const auth = await Authenticator.create({ jwks: file, issuer: ISSUER, resource: AUDIENCE });
    const token = await sign(svid.privateKey, 'ES256', 'svid', { sub: spiffeId });
    expect(await auth.authenticate(token, registry)).toMatchObject({
      ok: true,
      identity: { spiffe_id: spiffeId, agentId: 'reporter' },
    });
    const byRoot = await sign(root.privateKey, 'ES256', 'root', { sub: spiffeId });
    expect(await auth.authenticate(byRoot, registry)).toMatchObject({ ok: false, code: 'invalid_token' });
  });
});
