import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { readEvidence } from '../../src/evidence/jsonl-store.js';
import { LocalEd25519Signer } from '../../src/evidence/signer.js';
import type { EvidenceRecord } from '../../src/evidence/types.js';
import { signPointer } from '../../src/policy/bundle/channel.js';
import type { ControlPlaneView } from '../../src/control/control-plane.js';
import { readBundleDir, replaceFile } from '../../src/policy/bundle/files.js';
import { RegistryStore } from '../../src/policy/release/registry-store.js';
import { REFERENCE_SERVERS } from '../helpers/fixture.js';
import { textOf } from '../helpers/gateway-harness.js';
import {
  demoSources,
  lifecyclePolicies,
  makeKeys,
  mcpgov,
  spawnGateway,
  type GatewayProcess,
  type LifecycleKeys,
} from '../helpers/policy-lifecycle.js';

const git = promisify(execFile);

/** The rule the second release removes, and its policy test. */
const ECHO_RULE = {
  rules: [
    {
      id: 'echo-no-classified',
      description: 'the word "classified" may not be echoed',
      when: { '===': [{ var: 'call.arguments.message' }, 'classified'] },
      effect: 'deny',
      reason: 'echo_classified',
    },
  ],
};
const ECHO_TEST = {
  cases: [
    {
      note: 'echoing "classified" is denied',
      input: { agent: 'local-dev', tool: 'everything__echo', arguments: { message: 'classified' } },
      expect: { effect: 'deny', reason: 'echo_classified' },
    },
  ],
};

/**
 * The whole lifecycle through the built CLI and real gateway processes over the demo policy: test,
 * build, sign, verify, approve, publish; a gateway on the channel switches to a new release with
 * calls in flight; rollback; a replayed pointer and an under-approved pointer refused; a second
 * gateway on an unapproved bundle shows up as drift.
 */
describe('policy lifecycle', { timeout: 120_000 }, () => {
  let dir: string;
  let keys: LifecycleKeys;
  let gateway: GatewayProcess;
  let other: GatewayProcess | undefined;
  let client: Client;
  const token = randomBytes(24).toString('hex');
  const cli = (...args: string[]) => mcpgov(dir, ...args);
  const digests: string[] = [];
  let savedPointer = '';

  const commit = async (message: string) => {
    const env = {
      ...process.env,
      GIT_AUTHOR_NAME: 'ci',
      GIT_AUTHOR_EMAIL: 'ci@example.org',
      GIT_COMMITTER_NAME: 'ci',
      GIT_COMMITTER_EMAIL: 'ci@example.org',
    };
    await git('git', ['-C', dir, 'add', '-A', 'policies', 'registries'], { env });
    await git('git', ['-C', dir, '-c', 'commit.gpgsign=false', 'commit', '-qm', message], { env });
    return (await git('git', ['-C', dir, 'rev-parse', 'HEAD'])).stdout.trim();
  };
  /** build, sign, approve by the given approvers; returns the folder and digest. */
  const release = async (out: string, approvers: ('ciso' | 'grc' | 'secarch')[]) => {
    const built = await cli('policy', 'build', '--out', out, '--json');
    expect(built.code, built.stderr).toBe(0);
    const info = JSON.parse(built.stdout) as { digest: string; seq: number; revision: string };
    expect((await cli('policy', 'sign', out, '--key', keys.build.privateKey)).code).toBe(0);
    for (const who of approvers) {
      const approved = await cli('policy', 'approve', out, '--key', keys[who].privateKey, '--as', who);
      expect(approved.code, approved.stderr).toBe(0);
    }
    return info;
  };
  const status = async (): Promise<ControlPlaneView> =>
    (await fetch(`${gateway.base}/policy/status`)).json() as Promise<ControlPlaneView>;
  const self = async () => (await status()).peps.find((p) => p.id === 'gateway-a')!;
  const call = (name: string, args: Record<string, unknown>): Promise<CallToolResult> =>
    client.request({ method: 'tools/call', params: { name, arguments: args } }, CallToolResultSchema, {
      timeout: 60_000,
    });
  const evidence = (): Promise<EvidenceRecord[]> => readEvidence(path.join(dir, 'evidence'));
  const lastDecision = async () => (await evidence()).findLast((r) => r.kind === 'decision')!;
  const pointerFile = () => path.join(dir, 'registry/channels/demo/prod.jws');

  beforeAll(async () => {
    dir = await demoSources();
    keys = await makeKeys(dir);
    await writeFile(path.join(dir, 'policies/echo.yaml'), stringify(ECHO_RULE));
    await writeFile(path.join(dir, 'policies/tests/echo.yaml'), stringify(ECHO_TEST));
    await git('git', ['-C', dir, 'init', '-q']);
    await writeFile(
      path.join(dir, 'mcpgov.yaml'),
      stringify({
        mode: 'enforce',
        identity: { default_agent: 'local-dev' },
        evidence: { dir: './evidence', checkpoint: { every_records: 10, every_seconds: 1 } },
        pep: { id: 'gateway-a' },
        policies: lifecyclePolicies({
          channel: 'prod',
          poll_seconds: 0.2,
          reporters: {
            'gateway-b': { token_sha256: `sha256:${createHash('sha256').update(token).digest('hex')}` },
          },
          drift: { grace_seconds: 1, stale_seconds: 600 },
        }),
        servers: { everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] } },
      }),
    );
  });
  afterAll(async () => {
    await client?.close().catch(() => {});
    await other?.stop();
    await gateway?.stop();
  });

  it('tests, builds at the git commit, signs and verifies the demo policy', async () => {
    const sha = await commit('demo policy');
    const tested = await cli('policy', 'test');
    expect(tested.code, tested.stderr).toBe(0);
    expect(tested.stdout).toMatch(/^(\d+) of \1 policy tests passed$/m);

    const first = await release('b1', []);
    expect(first).toMatchObject({ seq: 1, revision: sha });
    digests.push(first.digest);
    const verified = await cli('policy', 'verify', 'b1', '--jwks', keys.build.publicJwks);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toContain(`demo@1 revision ${sha}, digest ${first.digest}`);
    const wrongKey = await cli('policy', 'verify', 'b1', '--jwks', keys.release.publicJwks);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(/^refused: bundle_unknown_key: bundle signed by an unpinned key/);
  });

  it('publishes only with the approvals the channel demands', async () => {
    expect((await cli('policy', 'approve', 'b1', '--key', keys.ciso.privateKey, '--as', 'ciso')).code).toBe(
      0,
    );
    const impostor = await cli('policy', 'approve', 'b1', '--key', keys.ciso.privateKey, '--as', 'grc');
    expect(impostor.code).toBe(1);
    expect(impostor.stderr).toContain(
      `this key (kid ${keys.ciso.kid}) is not the pinned key of approver "grc"`,
    );
    const tooFew = await cli(
      'policy',
      'publish',
      'b1',
      '--channel',
      'prod',
      '--key',
      keys.release.privateKey,
    );
    expect(tooFew.code).toBe(1);
    expect(tooFew.stderr.trim()).toBe(
      'refused: approvals_insufficient: 1 of 2 required approvals from ciso, grc, secarch: valid ciso',
    );

    expect((await cli('policy', 'approve', 'b1', '--key', keys.grc.privateKey, '--as', 'grc')).code).toBe(0);
    const published = await cli(
      'policy',
      'publish',
      'b1',
      '--channel',
      'prod',
      '--key',
      keys.release.privateKey,
    );
    expect(published.code, published.stderr).toBe(0);
    expect(published.stdout).toContain(
      `published demo@1 ${digests[0]} to channel prod (channel_seq 1, approved by ciso, grc`,
    );
  });

  it('starts a gateway on the channel, deciding with the published bundle', async () => {
    const validated = await cli('validate');
    expect(validated.code, validated.stderr).toBe(0);
    expect(validated.stdout).toContain(`(bundle demo@1 ${digests[0]})`);
    gateway = await spawnGateway(path.join(dir, 'mcpgov.yaml'));
    client = new Client({ name: 'test-agent', version: '0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gateway.base}/mcp`)));
    const denied = await call('everything__echo', { message: 'classified' });
    expect(textOf(denied)).toMatch(/reason: echo_classified/);
    expect((await lastDecision()).decision?.bundle).toMatchObject({ name: 'demo', digest: digests[0] });
    expect(await self()).toMatchObject({
      state: 'in_sync',
      status: { policy: { active: { digest: digests[0], seq: 1, channel_seq: 1 } } },
    });
  });

  it('switches to a new release with calls in flight, none failing, each citing the bundle it started under', async () => {
    await unlink(path.join(dir, 'policies/echo.yaml'));
    await unlink(path.join(dir, 'policies/tests/echo.yaml'));
    const sha = await commit('allow echoing anything');
    const second = await release('b2', ['ciso', 'secarch']);
    expect(second).toMatchObject({ seq: 2, revision: sha });
    digests.push(second.digest);

    const long = call('everything__trigger-long-running-operation', { duration: 8, steps: 8 });
    let stop = false;
    const echoes: Promise<CallToolResult[]> = (async () => {
      const results: CallToolResult[] = [];
      while (!stop) results.push(await call('everything__echo', { message: `hello ${results.length}` }));
      return results;
    })();
    const published = await cli(
      'policy',
      'publish',
      'b2',
      '--channel',
      'prod',
      '--key',
      keys.release.privateKey,
    );
    expect(published.code, published.stderr).toBe(0);
    savedPointer = await readFile(pointerFile(), 'utf8');
    await vi.waitFor(async () => expect((await self()).status?.policy.active?.digest).toBe(digests[1]), {
      timeout: 20_000,
      interval: 100,
    });
    stop = true;
    const results = await echoes;
    expect(results.length).toBeGreaterThan(0);
    expect(results.filter((r) => r.isError)).toEqual([]);
    const longResult = await long;
    expect(longResult.isError).toBeFalsy();
    expect(textOf(longResult)).toContain('Long running operation completed');

    expect((await call('everything__echo', { message: 'classified' })).isError).toBeFalsy();
    const records = await evidence();
    expect(records.findLast((r) => r.kind === 'decision')?.decision?.bundle.digest).toBe(digests[1]);
    const longDecision = records.find(
      (r) => r.kind === 'decision' && r.request?.tool === 'everything__trigger-long-running-operation',
    )!;
    const longAction = records.find((r) => r.kind === 'action' && r.action?.decision_id === longDecision.id)!;
    const switched = records.find(
      (r) =>
        r.kind === 'policy' &&
        r.policy_event?.event === 'activated' &&
        r.policy_event.bundle?.digest === digests[1],
    )!;
    // Decided under the first bundle, still in flight when the second activated, and completed.
    expect(longDecision.decision?.bundle.digest).toBe(digests[0]);
    expect(longDecision.seq).toBeLessThan(switched.seq);
    expect(switched.seq).toBeLessThan(longAction.seq);
    expect(longAction.action).toMatchObject({ forwarded: true, is_error: false });
    expect(switched.policy_event).toMatchObject({
      channel_seq: 2,
      approved_by: ['ciso', 'secarch'],
      bundle: { revision: sha, seq: 2 },
    });
  });

  it('rolls back to the first release under a higher channel_seq', async () => {
    const rolled = await cli(
      'policy',
      'rollback',
      '--channel',
      'prod',
      '--to',
      digests[0]!,
      '--key',
      keys.release.privateKey,
    );
    expect(rolled.code, rolled.stderr).toBe(0);
    expect(rolled.stdout).toContain(`rolled back to demo@1 ${digests[0]} to channel prod (channel_seq 3`);
    await vi.waitFor(
      async () =>
        expect((await self()).status?.policy.active).toMatchObject({ digest: digests[0], channel_seq: 3 }),
      { timeout: 20_000, interval: 100 },
    );
    expect(textOf(await call('everything__echo', { message: 'classified' }))).toMatch(
      /reason: echo_classified/,
    );
  });

  it('refuses a replayed older pointer and keeps deciding with the rollback', async () => {
    const current = await readFile(pointerFile(), 'utf8');
    // Swapped in atomically, as publish does: a poll must never read a half-written pointer.
    await replaceFile(pointerFile(), savedPointer);
    await vi.waitFor(
      async () => expect((await self()).status?.policy.last_error?.code).toBe('pointer_replayed'),
      { timeout: 20_000, interval: 100 },
    );
    const view = await self();
    expect(view.status?.policy.last_error?.message).toBe(
      'channel_seq 2 is lower than the active channel_seq 3',
    );
    expect(view.status?.policy.active?.digest).toBe(digests[0]);
    expect(textOf(await call('everything__echo', { message: 'classified' }))).toMatch(
      /reason: echo_classified/,
    );
    // Swapped in atomically, as publish does: a poll must never read a half-written pointer.
    await replaceFile(pointerFile(), current);
    await vi.waitFor(async () => expect((await self()).status?.policy.last_error).toBeNull(), {
      timeout: 20_000,
      interval: 100,
    });
  });

  it('refuses a pointer the release key signed for a bundle with too few approvals', async () => {
    const third = await release('b3', ['grc']);
    const files = await readBundleDir(path.join(dir, 'b3'));
    const store = await RegistryStore.open(path.join(dir, 'registry'));
    await store.storeBundle(files, { name: 'demo', revision: third.revision, seq: third.seq });
    const current = await readFile(pointerFile(), 'utf8');
    const iat = Math.floor(Date.now() / 1000);
    const forged = await signPointer(
      {
        approved_by: ['grc', 'ciso'],
        bundle_digest: third.digest,
        channel: 'prod',
        channel_seq: 4,
        exp: iat + 3600,
        iat,
        name: 'demo',
        revision: third.revision,
        scope: 'demo',
        seq: third.seq,
      },
      await LocalEd25519Signer.fromFile(keys.release.privateKey),
    );
    // Swapped in atomically, as publish does: a poll must never read a half-written pointer.
    await replaceFile(pointerFile(), forged);
    await vi.waitFor(
      async () => expect((await self()).status?.policy.last_error?.code).toBe('approvals_insufficient'),
      { timeout: 20_000, interval: 100 },
    );
    expect((await self()).status?.policy.last_error?.message).toBe(
      '1 of 2 required approvals from ciso, grc, secarch: valid grc',
    );
    expect((await status()).approved?.bundle_digest).toBe(digests[0]);
    expect(textOf(await call('everything__echo', { message: 'classified' }))).toMatch(
      /reason: echo_classified/,
    );
    // Swapped in atomically, as publish does: a poll must never read a half-written pointer.
    await replaceFile(pointerFile(), current);
    const refusals = (await evidence()).filter(
      (r) => r.kind === 'policy' && r.policy_event?.event === 'refused',
    );
    expect(refusals.map((r) => r.policy_event?.code)).toEqual(['pointer_replayed', 'approvals_insufficient']);
  });

  it('shows a gateway running an unapproved bundle as drift, in status and in evidence', async () => {
    const config = path.join(dir, 'gateway-b.yaml');
    await writeFile(
      config,
      stringify({
        identity: { default_agent: 'local-dev' },
        evidence: { dir: './evidence-b' },
        pep: { id: 'gateway-b' },
        policies: lifecyclePolicies({
          bundle: './b3',
          cache: './cache-b',
          poll_seconds: 0.2,
          report: `${gateway.base}/policy/status`,
          token_env: 'GATEWAY_B_TOKEN',
        }),
      }),
    );
    other = await spawnGateway(config, { GATEWAY_B_TOKEN: token });
    await vi.waitFor(
      async () => expect((await status()).peps.find((p) => p.id === 'gateway-b')?.state).toBe('drift'),
      { timeout: 20_000, interval: 100 },
    );

    const shown = await cli('policy', 'status', '--url', `${gateway.base}/policy/status`);
    expect(shown.code).toBe(1);
    expect(shown.stdout).toMatch(/^gateway-a\s+in_sync\s+sha256:/m);
    expect(shown.stdout).toMatch(/^gateway-b\s+drift\s+sha256:\S+\s+3\s+\S+\s+0\s+digest_mismatch since /m);
    expect(shown.stdout).toMatch(
      /channel_seq 3 {2}seq 1 {2}sha256:\S+ {2}\S+ {2}approved by ciso, grc {2}\(rollback\)/,
    );
    expect(shown.stderr).toContain('drift: gateway-b');

    await vi.waitFor(
      async () => {
        const drift = (await evidence()).find((r) => r.kind === 'drift');
        expect(drift?.drift).toMatchObject({
          pep: 'gateway-b',
          cause: 'digest_mismatch',
          channel: 'prod',
          expected_digest: digests[0],
        });
      },
      { timeout: 10_000, interval: 100 },
    );
  });

  it('refuses status reports from unknown PEPs and with a wrong token, and registry reads without one', async () => {
    const report = (id: string, bearer: string) =>
      fetch(`${gateway.base}/policy/status`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
        body: JSON.stringify({
          pep: { id, kind: 'sidecar', version: '0' },
          policy: {
            name: 'demo',
            channel: null,
            source: 'x',
            active: null,
            last_check: null,
            last_error: null,
          },
        }),
      });
    expect((await report('intruder', token)).status).toBe(403);
    expect((await report('gateway-b', 'not-the-token')).status).toBe(401);
    expect((await fetch(`${gateway.base}/policy/registry/channels/demo/prod`)).status).toBe(401);
    const pointer = await fetch(`${gateway.base}/policy/registry/channels/demo/prod`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(pointer.status).toBe(200);
    const again = await fetch(`${gateway.base}/policy/registry/channels/demo/prod`, {
      headers: { authorization: `Bearer ${token}`, 'if-none-match': pointer.headers.get('etag')! },
    });
    expect(again.status).toBe(304);
  });

  it('leaves an evidence log that verifies, with the policy and drift records in it', async () => {
    await other?.stop();
    other = undefined;
    await client.close();
    await gateway.stop();
    const verified = await cli(
      'evidence',
      'verify',
      path.join(dir, 'evidence'),
      '--jwks',
      path.join(dir, 'evidence/keys/signing-key.jwks.json'),
    );
    expect(verified.code, verified.stderr).toBe(0);
    const kinds = new Set((await evidence()).map((r) => r.kind));
    expect([...kinds].sort()).toEqual(['action', 'chain', 'decision', 'drift', 'policy']);
    const out = path.join(dir, 'ocsf.jsonl');
    const exported = await cli('evidence', 'export', '--format', 'ocsf', '--out', out);
    expect(exported.code, exported.stderr).toBe(0);
    const findings = (await readFile(out, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { class_uid: number; finding_info?: { title: string; desc: string } })
      .filter((e) => e.class_uid === 2004)
      .map((e) => `${e.finding_info?.title}: ${e.finding_info?.desc}`);
    expect(findings).toEqual([
      'Policy bundle refused: pointer_replayed: channel_seq 2 is lower than the active channel_seq 3',
      expect.stringMatching(/^Policy bundle refused: approvals_insufficient: 1 of 2 required approvals/),
      expect.stringMatching(
        /^Policy drift: gateway-b runs sha256:\S+ instead of the approved sha256:\S+ since /,
      ),
    ]);
  });
});
