import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig, type ResolvedConfig } from '../../src/config/load-config.js';
import { silentLogger } from '../../src/util/log.js';
import { startGateway, type Gateway } from '../../mcp-gateway/gateway.js';
import {
  demoSources,
  lifecyclePolicies,
  makeKeys,
  publishToProd,
  releaseBundle,
  type LifecycleKeys,
} from '../helpers/policy-lifecycle.js';

/**
 * Two gateways: A follows channel prod from its local registry and serves it; B follows the same
 * channel through A's registry endpoint (with its bearer token and ETag polling), reports its status
 * to A, and starts from its cached last good bundle when A is gone.
 */
describe('a gateway following a channel over HTTP', () => {
  let dir: string;
  let keys: LifecycleKeys;
  let configA: ResolvedConfig;
  let a: Gateway | undefined;
  let b: Gateway | undefined;
  const token = randomBytes(24).toString('hex');
  const digests: string[] = [];

  const startB = async () => {
    await writeFile(
      path.join(dir, 'b.yaml'),
      stringify({
        identity: { default_agent: 'local-dev' },
        evidence: { dir: './evidence-b' },
        pep: { id: 'gateway-b' },
        policies: lifecyclePolicies({
          bundle: `${a?.httpUrl?.replace(/\/mcp$/, '') ?? 'http://127.0.0.1:9'}/policy/registry`,
          channel: 'prod',
          cache: './cache-b',
          poll_seconds: 0.1,
          report: `${a?.httpUrl?.replace(/\/mcp$/, '') ?? 'http://127.0.0.1:9'}/policy/status`,
          token_env: 'MCPGOV_TEST_GATEWAY_B_TOKEN',
        }),
      }),
    );
    return startGateway({
      config: await loadConfig(path.join(dir, 'b.yaml')),
      http: '127.0.0.1:0',
      log: silentLogger,
    });
  };
  const bInA = () => a!.fleet.plane.view().peps.find((p) => p.id === 'gateway-b');

  beforeAll(async () => {
    process.env['MCPGOV_TEST_GATEWAY_B_TOKEN'] = token;
    dir = await demoSources();
    keys = await makeKeys(dir);
    await writeFile(
      path.join(dir, 'a.yaml'),
      stringify({
        identity: { default_agent: 'local-dev' },
        evidence: { dir: './evidence-a' },
        pep: { id: 'gateway-a' },
        policies: lifecyclePolicies({
          channel: 'prod',
          cache: './cache-a',
          poll_seconds: 0.1,
          reporters: {
            'gateway-b': { token_sha256: `sha256:${createHash('sha256').update(token).digest('hex')}` },
          },
        }),
      }),
    );
    configA = await loadConfig(path.join(dir, 'a.yaml'));
    const first = await releaseBundle(dir, keys, { out: 'b1', seq: 1 });
    digests.push(first.digest);
    await publishToProd(configA, keys, first.files);
    a = await startGateway({ config: configA, http: '127.0.0.1:0', log: silentLogger });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    delete process.env['MCPGOV_TEST_GATEWAY_B_TOKEN'];
  });

  it('loads the channel bundle from the registry endpoint and reports in sync', async () => {
    b = await startB();
    expect(b.policy.status().policy).toMatchObject({
      channel: 'prod',
      active: { digest: digests[0], channel_seq: 1, from: 'source' },
    });
    await vi.waitFor(() => expect(bInA()?.state).toBe('in_sync'), { timeout: 10_000, interval: 50 });
  });

  it('follows a new publish, both gateways switching', async () => {
    const rules = path.join(dir, 'policies/demo.yaml');
    await writeFile(
      rules,
      (await readFile(rules, 'utf8')).replace(
        'more than five entities',
        'more than five entities (reviewed)',
      ),
    );
    const second = await releaseBundle(dir, keys, { out: 'b2', seq: 2, approvers: ['grc', 'secarch'] });
    digests.push(second.digest);
    await publishToProd(configA, keys, second.files);
    await vi.waitFor(
      () => {
        expect(a!.policy.status().policy.active?.digest).toBe(digests[1]);
        expect(b!.policy.status().policy.active?.digest).toBe(digests[1]);
        expect(b!.enforcer.policy.bundle.digest).toBe(digests[1]);
        expect(bInA()?.state).toBe('in_sync');
      },
      { timeout: 10_000, interval: 50 },
    );
  });

  it('starts from its cached bundle when the registry is unreachable', async () => {
    await b!.close();
    await a!.close();
    a = undefined;
    b = await startB();
    expect(b.policy.status().policy).toMatchObject({
      active: { digest: digests[1], channel_seq: 2, from: 'cache' },
      last_error: { code: 'source_unavailable' },
    });
    expect(b.enforcer.policy.bundle.digest).toBe(digests[1]);
  });
});
