import { cp, readFile, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load-config.js';
import { readEvidence } from '../../src/evidence/jsonl-store.js';
import { LocalEd25519Signer } from '../../src/evidence/signer.js';
import type { EvidenceRecord } from '../../src/evidence/types.js';
import { buildBundle } from '../../src/policy/release/build.js';
import type { BundleErrorCode } from '../../src/policy/bundle/errors.js';
import { readBundleDir } from '../../src/policy/bundle/files.js';
import { signBundle, writeSignature } from '../../src/policy/release/sign.js';
import { silentLogger } from '../../src/util/log.js';
import { startGateway, type Gateway } from '../../mcp-gateway/gateway.js';
import { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { REFERENCE_SERVERS } from '../helpers/fixture.js';
import { callTool, textOf } from '../helpers/gateway-harness.js';
import { demoSources, lifecyclePolicies, makeKeys, type LifecycleKeys } from '../helpers/policy-lifecycle.js';

const DAY = 24 * 3600 * 1000;

/** A rule the second bundle drops, so which bundle decides is visible in every answer. */
const ECHO_RULE = {
  rules: [
    {
      id: 'echo-no-secrets',
      description: 'the word "classified" may not be echoed',
      when: { '===': [{ var: 'call.arguments.message' }, 'classified'] },
      effect: 'deny',
      reason: 'echo_classified',
    },
  ],
};

/**
 * A gateway on one bundle folder (`policies.bundle`), re-read every 100 ms. The folder is a symlink
 * swapped atomically to each candidate: every bad one must be refused with its own code while the
 * first bundle keeps deciding.
 */
describe('a gateway refusing bad bundles', () => {
  let dir: string;
  let keys: LifecycleKeys;
  let gateway: Gateway;
  let client: Client;
  let first: { dir: string; digest: string };
  let second: { dir: string; digest: string };
  const deployed = () => path.join(dir, 'deployed');

  const build = async (name: string, seq: number) => {
    const built = await buildBundle(
      { registries: path.join(dir, 'registries'), policies: path.join(dir, 'policies'), name: 'demo' },
      { out: path.join(dir, name), seq },
    );
    await sign(built.dir);
    return { dir: built.dir, digest: built.digest };
  };
  const sign = async (bundle: string, opts: { key?: string; expires?: number } = {}) => {
    const signer = await LocalEd25519Signer.fromFile(opts.key ?? keys.build.privateKey);
    const jws = await signBundle(await readBundleDir(bundle), signer, {
      scope: 'demo',
      expires: new Date(opts.expires ?? Date.now() + 30 * DAY),
    });
    await writeSignature(bundle, jws);
  };
  /** A copy of the second bundle, changed by `change`. */
  const variant = async (name: string, change: (dir: string) => Promise<void>) => {
    const target = path.join(dir, `variant-${name}`);
    await cp(second.dir, target, { recursive: true });
    await change(target);
    return target;
  };
  /** Points the deployed symlink at a folder in one rename. */
  const deploy = async (target: string) => {
    const tmp = `${deployed()}.next`;
    await symlink(target, tmp);
    await rename(tmp, deployed());
  };
  const status = () => gateway.policy.status().policy;
  const echo = (message: string) => callTool(client, 'everything__echo', { message });
  const evidence = async (): Promise<EvidenceRecord[]> => {
    await gateway.evidence.flush();
    return readEvidence(path.join(dir, 'evidence'));
  };

  beforeAll(async () => {
    dir = await demoSources();
    keys = await makeKeys(dir);
    await writeFile(path.join(dir, 'policies/echo.yaml'), stringify(ECHO_RULE));
    first = await build('first', 1);
    await unlink(path.join(dir, 'policies/echo.yaml'));
    second = await build('second', 2);
    await symlink(first.dir, deployed());
    await writeFile(
      path.join(dir, 'mcpgov.yaml'),
      stringify({
        mode: 'enforce',
        identity: { default_agent: 'local-dev' },
        evidence: { dir: './evidence' },
        policies: lifecyclePolicies({ bundle: './deployed', poll_seconds: 0.1 }),
        servers: { everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] } },
      }),
    );
    gateway = await startGateway({
      config: await loadConfig(path.join(dir, 'mcpgov.yaml')),
      http: '127.0.0.1:0',
      log: silentLogger,
    });
    client = new McpClient({ name: 'test-agent', version: '0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.httpUrl!)));
  });
  afterAll(async () => {
    await client?.close();
    await gateway?.close();
  });

  it('decides with the first bundle and cites it', async () => {
    expect(status().active).toMatchObject({ digest: first.digest, seq: 1 });
    const denied = await echo('classified');
    expect(textOf(denied)).toMatch(
      /^Denied by policy: the word "classified" may not be echoed \(reason: echo_classified/,
    );
    const decision = (await evidence()).findLast((r) => r.kind === 'decision');
    expect(decision?.decision?.bundle).toEqual({
      name: 'demo',
      revision: 'unversioned',
      digest: first.digest,
    });
  });

  const cases: [string, BundleErrorCode, RegExp, (dir: string) => Promise<void>][] = [
    [
      'one changed byte',
      'bundle_hash_mismatch',
      /^registries\/tools\.json: SHA-256 [0-9a-f]{64} is not the signed [0-9a-f]{64}$/,
      async (d) => {
        const file = path.join(d, 'registries/tools.json');
        const bytes = await readFile(file);
        const at = bytes.indexOf('"critical"') + 1;
        bytes[at] = 'C'.charCodeAt(0); // "critical" -> "Critical": one byte
        await writeFile(file, bytes);
      },
    ],
    [
      'a missing file',
      'bundle_file_missing',
      /^signed file tests\/report\.json is missing$/,
      (d) => rm(path.join(d, 'tests/report.json')),
    ],
    [
      'an extra file',
      'bundle_file_unexpected',
      /^file rules\/allow-all\.json is not listed in the signature$/,
      (d) => writeFile(path.join(d, 'rules/allow-all.json'), '{"rules":[]}'),
    ],
    [
      'a wrong key',
      'bundle_unknown_key',
      /^bundle signed by an unpinned key: kid \S+ is not pinned$/,
      (d) => sign(d, { key: keys.grc.privateKey }),
    ],
    [
      'an expired signature',
      'bundle_expired',
      /^bundle signature expired at \d{4}-\d\d-\d\dT/,
      (d) => sign(d, { expires: Date.now() - 60_000 }),
    ],
  ];
  for (const [what, code, message, change] of cases) {
    it(`refuses a bundle with ${what} (${code}) and keeps deciding with the first`, async () => {
      await deploy(await variant(code, change));
      await vi.waitFor(() => expect(status().last_error?.code).toBe(code), { timeout: 10_000, interval: 50 });
      expect(status().last_error?.message).toMatch(message);
      expect(status().active?.digest).toBe(first.digest);
      expect(textOf(await echo('classified'))).toMatch(/reason: echo_classified/);
      const records = await evidence();
      const refusal = records.findLast((r) => r.kind === 'policy' && r.policy_event?.code === code);
      expect(refusal?.policy_event).toMatchObject({
        event: 'refused',
        from: 'source',
        active: { digest: first.digest },
        bundle: { name: 'demo', seq: 2 },
      });
      expect(records.findLast((r) => r.kind === 'decision')?.decision?.bundle.digest).toBe(first.digest);
    });
  }

  it('activates the good second bundle, then refuses the first again as a lower seq', async () => {
    await deploy(second.dir);
    await vi.waitFor(() => expect(status().active?.digest).toBe(second.digest), {
      timeout: 10_000,
      interval: 50,
    });
    expect(status().last_error).toBeNull();
    const allowed = await echo('classified');
    expect(allowed.isError).toBeFalsy();
    expect((await evidence()).findLast((r) => r.kind === 'decision')?.decision?.bundle.digest).toBe(
      second.digest,
    );

    await deploy(first.dir);
    await vi.waitFor(() => expect(status().last_error?.code).toBe('bundle_seq_lower'), {
      timeout: 10_000,
      interval: 50,
    });
    expect(status().last_error?.message).toBe('seq 1 is lower than the active seq 2');
    expect((await echo('classified')).isError).toBeFalsy();
  });
});
