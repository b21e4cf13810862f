import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ASYMMETRIC_ALGORITHMS } from '../../../src/config/identity-schema.js';
import { loadConfig } from '../../../src/config/load-config.js';
import { ConfigSchema } from '../../../src/config/schema.js';
import { ConfigError, formatProblem, YamlFile } from '../../../src/config/yaml-file.js';

function problemsOf(identity: string): string[] {
  const { yaml, problems } = YamlFile.parse('/r/mcpgov.yaml', `identity:\n${identity}`);
  if (!yaml) return problems.map(formatProblem);
  return yaml.validate(ConfigSchema).problems.map(formatProblem);
}

const VERIFIED =
  '  issuer: https://idp.example\n  jwks_uri: https://idp.example/jwks\n  audience: https://mcp.example/mcp\n';

describe('identity config', () => {
  it('accepts a complete resource-server setup and fills in the defaults', () => {
    expect(problemsOf(VERIFIED)).toEqual([]);
    const config = ConfigSchema.parse({});
    expect(config.identity).toMatchObject({
      discovery: false,
      algorithms: [...ASYMMETRIC_ALGORITHMS],
      leeway_seconds: 30,
      required_scopes: [],
    });
  });

  it('refuses "none" and shared-secret algorithms, naming the line', () => {
    const problems = problemsOf(`${VERIFIED}  algorithms: [EdDSA, HS256, none, XS1]\n`);
    expect(problems).toEqual([
      expect.stringMatching(
        /^\/r\/mcpgov\.yaml:5: identity\.algorithms\[1\]: HS256 is a shared-secret algorithm/,
      ),
      expect.stringMatching(/identity\.algorithms\[2\]: "none" is never accepted/),
      expect.stringMatching(/identity\.algorithms\[3\]: unknown algorithm/),
    ]);
  });

  it('refuses two key sources, and discovery without an https issuer', () => {
    expect(problemsOf(`${VERIFIED}  jwks: ./idp.jwks.json\n`).join('\n')).toMatch(
      /identity\.jwks_uri: choose one key source: jwks and jwks_uri are both set/,
    );
    expect(
      problemsOf('  discovery: true\n  audience: a\n  authorization_servers: [https://a.example]\n'),
    ).toEqual([expect.stringMatching(/identity\.discovery: needs identity\.issuer/)]);
    expect(problemsOf('  discovery: true\n  issuer: http://idp.example\n  audience: a\n').join('\n')).toMatch(
      /identity\.issuer: discovery needs an https issuer URL/,
    );
    expect(problemsOf('  discovery: true\n  issuer: http://127.0.0.1:9000\n  audience: a\n')).toEqual([]);
  });

  it('refuses a JWKS URL over plain http from another host', () => {
    const text = '  issuer: https://idp.example\n  jwks_uri: http://idp.example/jwks\n  audience: a\n';
    expect(problemsOf(text).join('\n')).toMatch(/identity\.jwks_uri: must be an https URL/);
  });

  it('requires an audience (or the resource) when tokens are verified, per RFC 8707', () => {
    const text = '  issuer: https://idp.example\n  jwks_uri: https://idp.example/jwks\n';
    expect(problemsOf(text)).toEqual([
      expect.stringMatching(/identity\.audience: required with token verification/),
    ]);
    expect(problemsOf(`${text}  resource: https://mcp.example/mcp\n`)).toEqual([]);
    expect(problemsOf(`${text}  resource: https://mcp.example/mcp#x\n`).join('\n')).toMatch(/fragment/);
  });

  it('requires an authorization server for the metadata when the issuer is not a URL', () => {
    const text = '  issuer: spire\n  jwks: ./bundle.jwks.json\n  audience: gw\n';
    expect(problemsOf(text)).toEqual([expect.stringMatching(/identity\.authorization_servers: required/)]);
    expect(problemsOf(`${text}  authorization_servers: [https://oidc.example]\n`)).toEqual([]);
  });

  it('refuses token settings without a key source, and scopes that cannot sit in a header', () => {
    expect(problemsOf('  issuer: https://idp.example\n  required_scopes: [mcp]\n')).toEqual([
      expect.stringMatching(/identity\.issuer: has no effect without a key source/),
      expect.stringMatching(/identity\.required_scopes: has no effect without a key source/),
    ]);
    expect(problemsOf(`${VERIFIED}  required_scopes: ['a b']\n`).join('\n')).toMatch(
      /identity\.required_scopes\[0\]: a scope is one token/,
    );
  });

  it('is what mcpgov validate and the gateway load, with file and line', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-identity-'));
    const file = path.join(dir, 'mcpgov.yaml');
    await writeFile(file, `mode: observe\nidentity:\n${VERIFIED}  algorithms: [HS256]\n`);
    const error = await loadConfig(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map(formatProblem)).toEqual([
      expect.stringMatching(new RegExp(`^${file}:6: identity\\.algorithms\\[0\\]: HS256 is a shared-secret`)),
    ]);
  });
});
