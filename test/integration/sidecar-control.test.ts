import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { WebSocket } from 'ws';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { loadConfig, type ResolvedConfig } from '../../src/config/load-config.js';
import { sha256Hex } from '../../src/evidence/hash.js';
import { readEvidence } from '../../src/evidence/jsonl-store.js';
import { readJwks, writeKeyPair } from '../../src/evidence/signer.js';
import { verifyLogDir } from '../../src/evidence/verify.js';
import { bundlePath } from '../../src/policy/release/registry-store.js';
import { silentLogger } from '../../src/util/log.js';
import { startGateway, type Gateway } from '../../mcp-gateway/gateway.js';
import { LineStdioClientTransport } from '../../src/transport/stdio-client.js';
import { startSidecar, type Sidecar } from '../../mcp-sidecar/sidecar.js';
import { CLI, REFERENCE_SERVERS } from '../helpers/fixture.js';
import { callTool, textOf } from '../helpers/gateway-harness.js';
import {
  demoSources,
  lifecyclePolicies,
  makeKeys,
  publishToProd,
  releaseBundle,
  type LifecycleKeys,
} from '../helpers/policy-lifecycle.js';

const run = promisify(execFile);
const TOKEN = 'sidecar-1-control-token';

/** Polls `check` until it holds (the sidecar reconnects with jittered backoff; no fixed sleeps). */
async function until(check: () => Promise<boolean> | boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A gateway following channel `prod` of its registry, and a sidecar around the real filesystem
 * server that follows the same channel over the control channel and forwards its evidence.
 */
describe('sidecar control channel', () => {
  let dir: string;
  let keys: LifecycleKeys;
  let gatewayConfig: ResolvedConfig;
  let gateway: Gateway;
  let port: number;
  let sidecar: Sidecar;
  let client: Client;
  let v1: string;
  const demo = () => path.join(dir, 'demo');
  const replicaDir = () => path.join(dir, 'gw-evidence/peps/sidecar-1');

  const startGw = async (listen: string) =>
    startGateway({ config: gatewayConfig, http: listen, log: silentLogger });

  beforeAll(async () => {
    dir = await demoSources();
    keys = await makeKeys(dir);
    await writeKeyPair(path.join(dir, 'keys'), 'sidecar');
    await mkdir(demo());
    await writeFile(path.join(demo(), 'notes.txt'), 'notes');
    await writeFile(
      path.join(dir, 'gateway.yaml'),
      stringify({
        mode: 'enforce',
        identity: { default_agent: 'local-dev' },
        paths: { demo: './demo' },
        evidence: { dir: './gw-evidence' },
        policies: lifecyclePolicies({
          channel: 'prod',
          poll_seconds: 0.2,
          reporters: {
            'sidecar-1': {
              token_sha256: `sha256:${sha256Hex(TOKEN)}`,
              evidence_jwks: './keys/sidecar.jwks.json',
            },
          },
        }),
      }),
    );
    await writeFile(
      path.join(dir, 'sidecar.yaml'),
      stringify({
        mode: 'enforce',
        pep: { id: 'sidecar-1' },
        identity: { default_agent: 'local-dev' },
        paths: { demo: './demo' },
        evidence: { dir: './sc-evidence', key: './keys/sidecar.private.jwk' },
        policies: lifecyclePolicies({ channel: 'prod', cache: './sc-cache', poll_seconds: 0.2 }),
        control: { gateway: 'ws://127.0.0.1:1/control', token_env: 'SC_TOKEN' },
      }),
    );
    gatewayConfig = await loadConfig(path.join(dir, 'gateway.yaml'));
    const released = await releaseBundle(dir, keys, { out: 'bundle-v1', seq: 1 });
    v1 = released.digest;
    await publishToProd(gatewayConfig, keys, released.files);
    gateway = await startGw('127.0.0.1:0');
    port = Number(new URL(gateway.httpUrl!).port);

    sidecar = await startSidecar({
      config: await loadConfig(path.join(dir, 'sidecar.yaml')),
      gateway: `ws://127.0.0.1:${port}/control`,
      log: silentLogger,
      env: { SC_TOKEN: TOKEN },
    });
    client = new Client({ name: 'agent', version: '0' });
    await client.connect(
      await sidecar.govern(
        new LineStdioClientTransport({
          command: process.execPath,
          args: [REFERENCE_SERVERS.filesystem, demo()],
        }),
        { server: 'fs', prefix: true },
      ),
    );
  });

  afterAll(async () => {
    await client?.close();
    await sidecar?.close();
    await gateway?.close();
  });

  const decide = async () => {
    const read = await callTool(client, 'fs__read_text_file', { path: path.join(demo(), 'notes.txt') });
    const write = await callTool(client, 'fs__write_file', {
      path: path.join(dir, 'outside.txt'),
      content: 'x',
    });
    return { read: textOf(read), write: textOf(write) };
  };

  it('starts on the bundle the gateway relays, and forwards its evidence to a verified replica', async () => {
    expect(sidecar.policy.status().policy.active).toMatchObject({ digest: v1, from: 'source' });
    const answers = await decide();
    expect(answers.read).toBe('notes');
    expect(answers.write).toMatch(/reason: write_outside_demo/);
    await sidecar.evidence.flush();
    await until(
      async () => (await readEvidence(replicaDir()).catch(() => [])).length === sidecar.evidence.count,
      'replication',
    );
    await until(
      () =>
        gateway.fleet.plane.view().peps.find((p) => p.id === 'sidecar-1')?.status?.policy.active?.digest ===
        v1,
      'the sidecar status report',
    );
  });

  it('refuses a control connection from an unknown PEP or with a wrong token', async () => {
    const status = (pep: string, token: string) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/control`, {
          headers: { authorization: `Bearer ${token}`, 'x-mcpgov-pep': pep },
        });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => {
          ws.close();
          resolve(101);
        });
        ws.on('error', () => {});
      });
    expect(await status('laptop-x', TOKEN)).toBe(403);
    expect(await status('sidecar-1', 'not-the-token')).toBe(401);
  });

  it('keeps enforcing with the gateway down, and the spooled records arrive once each after it restarts', async () => {
    await gateway.close();
    const offline = await decide();
    expect(offline.read).toBe('notes');
    expect(offline.write).toMatch(/Denied by policy: .*write_outside_demo/);
    expect(existsSync(path.join(dir, 'outside.txt'))).toBe(false);
    const decisions = (await readEvidence(path.join(dir, 'sc-evidence'))).filter(
      (r) => r.kind === 'decision',
    );
    expect(decisions.slice(-2).every((d) => d.decision?.bundle.digest === v1)).toBe(true);

    gateway = await startGw(`127.0.0.1:${port}`);
    await sidecar.evidence.flush();
    await until(
      async () => (await readEvidence(replicaDir()).catch(() => [])).length === sidecar.evidence.count,
      'the spooled records',
    );
    const replica = await readEvidence(replicaDir());
    const own = await readEvidence(path.join(dir, 'sc-evidence'));
    expect(replica.map((r) => r.id)).toEqual(own.map((r) => r.id));
    expect(new Set(replica.map((r) => r.id)).size).toBe(replica.length);
  });

  it('refuses a pushed bundle with a bad signature, reports it, and keeps deciding with the old one', async () => {
    const released = await releaseBundle(dir, keys, { out: 'bundle-v2', seq: 2 });
    await publishToProd(gatewayConfig, keys, released.files);
    // The registry is not trusted: a signature altered after publishing is relayed as it is.
    const signatures = path.join(
      bundlePath(gatewayConfig.policy.registry, 'demo', released.digest),
      '.signatures.json',
    );
    const doc = JSON.parse(await readFile(signatures, 'utf8')) as { signatures: string[] };
    const jws = doc.signatures[0]!;
    doc.signatures[0] = `${jws.slice(0, -4)}${jws.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    await writeFile(signatures, JSON.stringify(doc));

    await until(() => sidecar.policy.status().policy.last_error !== null, 'the refusal');
    expect(sidecar.policy.status().policy.last_error?.code).toMatch(/signature/);
    await until(
      () =>
        gateway.fleet.plane.view().peps.find((p) => p.id === 'sidecar-1')?.status?.policy.last_error != null,
      'the refusal reported to the gateway',
    );
    await decide();
    const decisions = (await readEvidence(path.join(dir, 'sc-evidence'))).filter(
      (r) => r.kind === 'decision',
    );
    expect(decisions.at(-1)?.decision?.bundle.digest).toBe(v1);
    const refusals = (await readEvidence(path.join(dir, 'sc-evidence'))).filter(
      (r) => r.kind === 'policy' && r.policy_event?.event === 'refused',
    );
    expect(refusals.length).toBeGreaterThan(0);
  });

  it('leaves a gateway evidence folder that verifies with the gateway and sidecar keys pinned', async () => {
    await client.close();
    await sidecar.close();
    await until(
      async () =>
        (await readEvidence(replicaDir())).length ===
        (await readEvidence(path.join(dir, 'sc-evidence'))).length,
      'the last records',
    );
    await gateway.close();
    const gatewayKeys = await readJwks(path.join(dir, 'gw-evidence/keys/signing-key.jwks.json'));
    const sidecarKeys = await readJwks(path.join(dir, 'keys/sidecar.jwks.json'));
    const pinned = path.join(dir, 'pinned.jwks.json');
    await writeFile(pinned, JSON.stringify({ keys: [...gatewayKeys.keys, ...sidecarKeys.keys] }));
    expect(await verifyLogDir(replicaDir(), sidecarKeys)).toMatchObject({ ok: true });
    const { stdout } = await run(process.execPath, [
      CLI,
      'evidence',
      'verify',
      path.join(dir, 'gw-evidence'),
      '--jwks',
      pinned,
    ]);
    expect(stdout).toMatch(/^ok: .*gw-evidence: /m);
    expect(stdout).toMatch(/^ok: .*peps\/sidecar-1: /m);
  });
});
