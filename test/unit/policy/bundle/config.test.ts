import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../../src/config/load-config.js';
import { ConfigSchema } from '../../../../src/config/schema.js';
import { formatProblem, YamlFile } from '../../../../src/config/yaml-file.js';
import { checkPoliciesConfig, usesBundles } from '../../../../src/config/check-policies.js';

const resolve = (policies: unknown) =>
  resolveConfig(ConfigSchema.parse({ policies }), '/etc/mcpgov/mcpgov.yaml');

describe('the policies setting', () => {
  it('takes a sources folder, as before, and enforces the sources', () => {
    const config = resolve('./rules');
    expect(config.policies).toBe('/etc/mcpgov/rules');
    expect(config.policy).toMatchObject({ sources: '/etc/mcpgov/rules', name: 'mcpgov', scope: 'default' });
    expect(usesBundles(config.policy)).toBe(false);
  });

  it('takes the lifecycle settings, resolving paths and leaving URLs alone', () => {
    const local = resolve({
      channel: 'prod',
      keys: { signers: 'k/b.jwks.json', approvers: { ciso: 'k/c.jwks.json' } },
    });
    expect(local.policies).toBe('/etc/mcpgov/policies');
    expect(local.policy).toMatchObject({
      registry: '/etc/mcpgov/.mcpgov/policy-registry',
      cache: '/etc/mcpgov/.mcpgov/policy-cache',
      keys: { signers: '/etc/mcpgov/k/b.jwks.json', approvers: { ciso: '/etc/mcpgov/k/c.jwks.json' } },
    });
    expect(usesBundles(local.policy)).toBe(true);
    expect(resolve({ bundle: 'http://gw:8787/policy/registry', channel: 'prod' }).policy.bundle).toBe(
      'http://gw:8787/policy/registry',
    );
    expect(resolve({ bundle: './b' }).policy.bundle).toBe('/etc/mcpgov/b');
  });

  it('names the line of an unknown key inside it', () => {
    const { yaml } = YamlFile.parse('/r/mcpgov.yaml', 'policies:\n  channel: prod\n  chanels: {}\n');
    expect(yaml!.validate(ConfigSchema).problems.map(formatProblem)).toEqual([
      '/r/mcpgov.yaml:3: policies.chanels: unknown key',
    ]);
  });

  it('reports what a bundle source lacks', () => {
    const problems = (policies: unknown) =>
      checkPoliciesConfig(resolve(policies).policy, '/etc/mcpgov/mcpgov.yaml').map(
        (p) => `${p.path}: ${p.message}`,
      );
    expect(problems({ channel: 'prod' })).toEqual([
      'policies.keys.signers: required to verify bundles (the build keys, a JWKS file)',
      'policies.keys.publishers: required to verify channel pointers (the release keys, a JWKS file)',
    ]);
    expect(problems({ bundle: 'https://gw/policy/registry', report: 'https://gw/policy/status' })).toEqual([
      'policies.keys.signers: required to verify bundles (the build keys, a JWKS file)',
      'policies.bundle: an http(s) registry needs policies.channel',
      'policies.token_env: required to authenticate to the gateway (registry endpoint and status reports)',
    ]);
    expect(
      problems({ keys: { approvers: {} }, channels: { prod: { approvals: 2, approvers: ['ciso'] } } }),
    ).toEqual([
      'policies.channels.prod.approvers[0]: approver "ciso" has no key under policies.keys.approvers',
      'policies.channels.prod.approvals: 2 approvals required but only 1 approvers can give one',
    ]);
    expect(problems({ keys: { signers: '/nonexistent/build.jwks.json' } })).toEqual([
      'policies.keys.signers: file not found: /nonexistent/build.jwks.json',
    ]);
  });
});
