import { execFile } from 'node:child_process';
import { access, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { ApprovalRequest, Waiver } from '../../src/approvals/types.js';
import { loadConfig } from '../../src/config/load-config.js';
import { generatedKeyPaths } from '../../src/pep/open-evidence.js';
import { silentLogger } from '../../src/util/log.js';
import { startGateway } from '../../mcp-gateway/gateway.js';
import { APPROVER_ISSUER, approverKeys, type ApproverKeys } from '../helpers/approver-tokens.js';
import { CLI, REFERENCE_SERVERS, REPO, type Fixture } from '../helpers/fixture.js';
import { callTool, runGateway, textOf, type RunningGateway } from '../helpers/gateway-harness.js';

const run = promisify(execFile);

/** Runs the built CLI; resolves with exit code and output instead of throwing on a non-zero exit. */
async function mcpgov(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { cwd: REPO });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** A loopback port nothing listens on once this returns. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

function pendingRequest(result: CallToolResult): string {
  const meta = result._meta?.['mcpgov/decision'] as { reason?: string; request?: string } | undefined;
  expect(meta?.reason, textOf(result)).toBe('approval_pending');
  return meta?.request ?? '';
}

let keys: ApproverKeys;
let fixture: Fixture;
let root: string;
let config: string;
/** The same setup without the admin listener: the CLI can only work on the local store. */
let noAdmin: string;
/** The same setup with local_dev off: a token must be given. */
let noLocalDev: string;
let adminPort: number;
let files = 0;

async function newMove(): Promise<{ source: string; destination: string }> {
  const n = ++files;
  const source = path.join(root, `file-${n}.txt`);
  await writeFile(source, `content ${n}\n`);
  return { source, destination: path.join(root, `moved-${n}.txt`) };
}

/** Starts the fixture's gateway (its admin listener on `adminPort`), runs `body` with a client, and closes it. */
async function withGateway<T>(body: (client: Client) => Promise<T>): Promise<T> {
  const gateway = await startGateway({
    config: await loadConfig(config),
    http: '127.0.0.1:0',
    log: silentLogger,
  });
  const client = new Client({ name: 'test-agent', version: '0' });
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.httpUrl ?? '')));
    return await body(client);
  } finally {
    await client.close().catch(() => {});
    await gateway.close();
  }
}

beforeAll(async () => {
  keys = await approverKeys();
  root = await mkdtemp(path.join(tmpdir(), 'mcpgov-cli-root-'));
  adminPort = await closedPort();
  // A first run writes the fixture (and creates the state folder and the local development key).
  const first: RunningGateway = await runGateway({
    config: {
      mode: 'enforce',
      identity: { default_agent: 'dev' },
      servers: { fs: { command: 'node', args: [REFERENCE_SERVERS.filesystem, root], roots: [root] } },
      admin: { http: `127.0.0.1:${adminPort}` },
      approvals: {
        jwks: keys.jwks,
        issuer: APPROVER_ISSUER,
        approvers: [
          { sub: 'alice', teams: ['security'] },
          { sub: 'bob', teams: ['dev-team'] },
        ],
        step_up: { amr: ['mfa'] },
        local_dev: { enabled: true, tiers: ['low', 'medium', 'high', 'critical'] },
      },
    },
    tools: {
      tools: [
        { name: 'fs__move_file', owner: 'storage', risk_tier: 'high' },
        { name: 'fs__*', owner: 'storage', risk_tier: 'low' },
      ],
      groups: { fs: ['fs__*'] },
    },
    agents: { agents: [{ id: 'dev', owner: 'dev-team', tool_groups: ['fs'] }] },
    rules: [
      {
        id: 'moves-need-approval',
        description: 'a person approves each move',
        when: { '===': [{ var: 'call.name' }, 'fs__move_file'] },
        effect: 'escalate',
        reason: 'move_needs_approval',
        approval: { mode: 'return' },
      },
    ],
  });
  fixture = first.fixture;
  config = fixture.configFile;
  await first.close();
  const yaml = parse(await readFile(config, 'utf8')) as Record<string, Record<string, unknown>>;
  noAdmin = path.join(fixture.dir, 'no-admin.yaml');
  await writeFile(noAdmin, stringify({ ...yaml, admin: undefined }));
  noLocalDev = path.join(fixture.dir, 'no-local-dev.yaml');
  await writeFile(
    noLocalDev,
    stringify({
      ...yaml,
      admin: undefined,
      approvals: { ...yaml['approvals'], local_dev: { enabled: false } },
    }),
  );
}, 60_000);

// Each CLI run is a node process of its own: generous timeouts for a loaded machine.
describe('mcpgov approvals and waivers on the local store (no gateway running)', { timeout: 120_000 }, () => {
  let moves: { source: string; destination: string }[];
  let ids: string[];

  beforeAll(async () => {
    moves = [await newMove(), await newMove()];
    ids = await withGateway(async (client) => {
      const out: string[] = [];
      for (const move of moves) out.push(pendingRequest(await callTool(client, 'fs__move_file', move)));
      return out;
    });
  }, 60_000);

  it('lists pending requests as JSON and as a table, and shows one', async () => {
    const listed = await mcpgov('approvals', 'list', '--state', 'pending', '--json', '--config', config);
    expect(listed.code, listed.stderr).toBe(0);
    const requests = (JSON.parse(listed.stdout) as { requests: ApprovalRequest[] }).requests;
    expect(requests.map((r) => r.id).sort()).toEqual([...ids].sort());

    const table = await mcpgov('approvals', 'list', '--config', config);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^ID +STATE +TIER +AGENT +TOOL +AGE +EXPIRES +REASONS$/m);
    expect(table.stdout).toMatch(
      new RegExp(`^${ids[0]} +pending +high +dev +fs__move_file .*move_needs_approval$`, 'm'),
    );

    const shown = await mcpgov('approvals', 'show', ids[0] ?? '', '--config', config);
    expect(shown.code).toBe(0);
    const request = requests.find((r) => r.id === ids[0]);
    expect(shown.stdout).toContain(`state     pending (expires ${request?.expires_at})`);
    expect(shown.stdout).toContain(`args      ${request?.binding.args_digest}`);
    expect(shown.stdout).toContain('reasons   move_needs_approval');
    expect(shown.stdout).toContain('arguments (masked):');
    expect(shown.stdout).toContain(`"source": "${moves[0]?.source}"`);
  });

  it('approves as the local development approver; the gateway then moves the file once', async () => {
    const [id, other] = ids as [string, string];
    const [move] = moves as [{ source: string; destination: string }];
    const wrong = await mcpgov(
      'approvals',
      'approve',
      id,
      '--reason',
      'ok',
      '--args-digest',
      `sha256:${'0'.repeat(64)}`,
      '--config',
      config,
    );
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/refused \(binding_changed\): request .* is bound to arguments sha256:/);

    const approved = await mcpgov(
      'approvals',
      'approve',
      id,
      '--reason',
      'expected move',
      '--config',
      config,
    );
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toContain(`approved request ${id} as local-dev-approver (the approval store in `);

    const again = await mcpgov('approvals', 'approve', id, '--reason', 'twice', '--config', config);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`refused (not_pending): request ${id} is already approved`);

    const denied = await mcpgov('approvals', 'deny', other, '--reason', 'not this one', '--config', config);
    expect(denied.code).toBe(0);
    expect(denied.stdout).toContain(`denied request ${other} as local-dev-approver`);

    const shown = await mcpgov('approvals', 'show', id, '--json', '--config', config);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      request: {
        state: 'approved',
        verdict: { reason: 'expected move', approver: { sub: 'local-dev-approver', via: 'cli' } },
      },
    });

    await withGateway(async (client) => {
      const first = await callTool(client, 'fs__move_file', move);
      expect(first.isError, textOf(first)).toBeFalsy();
      await writeFile(move.source, 'again\n');
      pendingRequest(await callTool(client, 'fs__move_file', move));
    });
    expect(await exists(move.source)).toBe(true);
    expect(await readFile(move.destination, 'utf8')).toBe('content 1\n');

    const jwks = generatedKeyPaths(fixture.evidenceDir).publicJwks;
    const verified = await mcpgov('evidence', 'verify', fixture.evidenceDir, '--jwks', jwks);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/^ok: /);
  });

  it('adds, lists and revokes waivers', async () => {
    const added = await mcpgov(
      'waivers',
      'add',
      '--agent',
      'dev',
      '--tool',
      'fs__move_file',
      '--args-match',
      '{"in": ["reorg", {"var": "call.arguments.source"}]}',
      '--until',
      '2h',
      '--reason',
      'folder reorganisation',
      '--compensating',
      'reviewed in tomorrow’s evidence export',
      '--config',
      config,
    );
    expect(added.code, added.stderr).toBe(0);
    const id = /created waiver (\S+):/.exec(added.stdout)?.[1] ?? '';
    expect(id).not.toBe('');

    const listed = await mcpgov('waivers', 'list', '--json', '--config', config);
    const waivers = (JSON.parse(listed.stdout) as { waivers: Waiver[] }).waivers;
    expect(waivers).toHaveLength(1);
    expect(waivers[0]).toMatchObject({ id, agent: 'dev', by: { sub: 'local-dev-approver', via: 'cli' } });
    const table = await mcpgov('waivers', 'list', '--config', config);
    expect(table.stdout).toMatch(new RegExp(`^${id} +active +dev +fs__move_file \\(args_match\\) `, 'm'));

    const revoked = await mcpgov('waivers', 'revoke', id, '--reason', 'finished', '--config', config);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect((await mcpgov('waivers', 'list', '--config', config)).stdout).toContain('no waivers');
    const all = await mcpgov('waivers', 'list', '--all', '--json', '--config', config);
    expect((JSON.parse(all.stdout) as { waivers: Waiver[] }).waivers[0]).toMatchObject({
      id,
      revoked: { reason: 'finished' },
    });
    const twice = await mcpgov('waivers', 'revoke', id, '--reason', 'again', '--config', config);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain('refused (unknown_waiver)');
  });

  it('refuses bad input with exit 1 (refusals) or 2 (usage), changing nothing', async () => {
    const before = await readFile(path.join(fixture.dir, 'state', 'approvals.json'), 'utf8');
    const refusals: [string[], RegExp][] = [
      [
        ['approvals', 'approve', 'no-such-id', '--reason', 'x'],
        /refused \(unknown_request\): no approval request no-such-id/,
      ],
      [
        [
          'waivers',
          'add',
          '--agent',
          'dev',
          '--tool',
          'fs__*',
          '--until',
          '90d',
          '--reason',
          'r',
          '--compensating',
          'c',
        ],
        /refused \(too_long\): a waiver may last at most 30 days/,
      ],
      [
        [
          'approvals',
          'approve',
          'no-such-id',
          '--reason',
          'x',
          '--token',
          await keys.tokenFile(await keys.sign({ expiresIn: -3600 })),
        ],
        /refused \(invalid_token\): the approver token expired/,
      ],
      [
        [
          'approvals',
          'approve',
          'no-such-id',
          '--reason',
          'x',
          '--token',
          await keys.tokenFile(await keys.sign({ aud: 'elsewhere' })),
        ],
        /refused \(invalid_token\): the approver token is for audience "elsewhere"/,
      ],
      [
        [
          'approvals',
          'approve',
          'no-such-id',
          '--reason',
          'x',
          '--token',
          await keys.tokenFile(await keys.signWithUnknownKey()),
        ],
        /refused \(invalid_token\): .*unknown key/,
      ],
      [
        [
          'waivers',
          'add',
          '--agent',
          'dev',
          '--tool',
          't',
          '--until',
          '1h',
          '--reason',
          'r',
          '--compensating',
          'c',
          '--token',
          await keys.tokenFile(await keys.sign({ amr: [] })),
        ],
        /refused \(step_up_required\): a waiver needs what a critical approval needs/,
      ],
    ];
    for (const [args, message] of refusals) {
      const res = await mcpgov(...args, '--config', config);
      expect(res.code, `${args.join(' ')}: ${res.stderr}`).toBe(1);
      expect(res.stderr).toMatch(message);
    }
    const usage: [string[], RegExp][] = [
      [['approvals', 'approve', 'x'], /approvals approve needs --reason TEXT/],
      [['approvals', 'approve', '--reason', 'x'], /missing required argument "id"/],
      [['approvals', 'list', '--state', 'maybe'], /--state must be one of pending, approved/],
      [['approvals', 'list', '--reason', 'x'], /approvals list: unknown option "--reason"/],
      [
        ['approvals', 'approve', 'x', '--reason', 'y', '--args-digest', 'abc'],
        /--args-digest must be sha256/,
      ],
      [['approvals', 'frobnicate'], /unknown subcommand "frobnicate"/],
      [['waivers', 'add', '--agent', 'dev'], /waivers add needs --tool, --until, --reason, --compensating/],
      [
        [
          'waivers',
          'add',
          '--agent',
          'a',
          '--tool',
          't',
          '--until',
          '1h',
          '--reason',
          'r',
          '--compensating',
          'c',
          '--args-match',
          '{bad',
        ],
        /--args-match is not JSON/,
      ],
      [['waivers', 'revoke', 'x'], /waivers revoke needs --reason R/],
    ];
    for (const [args, message] of usage) {
      const res = await mcpgov(...args, '--config', config);
      expect(res.code, `${args.join(' ')}: ${res.stderr}`).toBe(2);
      expect(res.stderr).toMatch(message);
    }
    const noToken = await mcpgov('approvals', 'approve', 'x', '--reason', 'y', '--config', noLocalDev);
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toContain(
      'an approver token is needed: give --token FILE (approvals.local_dev is off',
    );
    expect(await readFile(path.join(fixture.dir, 'state', 'approvals.json'), 'utf8')).toBe(before);
  });

  it('prints help for both commands', async () => {
    for (const command of ['approvals', 'waivers']) {
      const res = await mcpgov(command, '--help');
      expect(res.code).toBe(0);
      expect(res.stdout).toMatch(new RegExp(`^Usage: mcpgov ${command} <subcommand>`));
    }
    expect((await mcpgov('--help')).stdout).toMatch(/approvals +list, show, approve and deny/);
  });

  it('prints a local development approver token, only while local_dev is enabled', async () => {
    const minted = await mcpgov('approvals', 'token', '--ttl', '30m', '--config', config);
    expect(minted.code, minted.stderr).toBe(0);
    expect(minted.stdout).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const off = await mcpgov('approvals', 'token', '--config', noLocalDev);
    expect(off.code).toBe(1);
    expect(off.stderr).toMatch(/approvals\.local_dev is off/);
  });
});

describe('mcpgov approvals against a running gateway', { timeout: 120_000 }, () => {
  it('uses the admin API when it answers, with the local dev token or --token, and refuses what it refuses', async () => {
    await withGateway(async (client) => {
      const move = await newMove();
      const id = pendingRequest(await callTool(client, 'fs__move_file', move));
      const admin = `http://127.0.0.1:${adminPort}`;

      // admin.http answers: the CLI goes through the API.
      const listed = await mcpgov('approvals', 'list', '--state', 'pending', '--json', '--config', config);
      expect(listed.code, listed.stderr).toBe(0);
      expect(
        (JSON.parse(listed.stdout) as { requests: ApprovalRequest[] }).requests.map((r) => r.id),
      ).toContain(id);

      // Without the admin API, the local store is locked by the gateway: said clearly.
      const locked = await mcpgov('approvals', 'approve', id, '--reason', 'ok', '--config', noAdmin);
      expect(locked.code).toBe(1);
      expect(locked.stderr).toMatch(
        /refused \(gateway_running\): the evidence folder .* is in use by gateway@.*: a gateway is running on this config, so decide through its admin API/,
      );

      const bob = await keys.tokenFile(await keys.sign({ sub: 'bob' }));
      const separated = await mcpgov(
        'approvals',
        'approve',
        id,
        '--reason',
        'ok',
        '--token',
        bob,
        '--gateway',
        admin,
        '--config',
        config,
      );
      expect(separated.code).toBe(1);
      expect(separated.stderr).toMatch(
        /refused \(not_allowed\): separation of duties: bob belongs to dev-team/,
      );

      const stale = await keys.tokenFile(
        await keys.sign({ auth_time: Math.floor(Date.now() / 1000) - 3600 }),
      );
      const old = await mcpgov(
        'approvals',
        'approve',
        id,
        '--reason',
        'ok',
        '--token',
        stale,
        '--gateway',
        admin,
        '--config',
        config,
      );
      expect(old.code).toBe(1);
      expect(old.stderr).toMatch(
        /refused \(step_up_required\): high-tier approvals need a step-up authentication within the last 300 s/,
      );

      const shown = await mcpgov('approvals', 'show', id, '--json', '--gateway', admin, '--config', config);
      const request = (JSON.parse(shown.stdout) as { request: ApprovalRequest }).request;
      expect(request.state).toBe('pending');
      expect(await exists(move.source)).toBe(true);

      const alice = await keys.tokenFile(await keys.sign());
      const approved = await mcpgov(
        'approvals',
        'approve',
        id,
        '--reason',
        'fine',
        '--args-digest',
        request.binding.args_digest,
        '--token',
        alice,
        '--gateway',
        admin,
        '--config',
        config,
      );
      expect(approved.code, approved.stderr).toBe(0);
      expect(approved.stdout).toContain(`approved request ${id} as alice (the admin API at ${admin})`);
      const moved = await callTool(client, 'fs__move_file', move);
      expect(moved.isError, textOf(moved)).toBeFalsy();
      expect(await exists(move.destination)).toBe(true);

      // Waivers over the API too, as the local development approver (whose key the gateway holds).
      const added = await mcpgov(
        'waivers',
        'add',
        '--agent',
        '*',
        '--tool',
        'fs__move_file',
        '--until',
        '1h',
        '--reason',
        'r',
        '--compensating',
        'c',
        '--config',
        config,
      );
      expect(added.code, added.stderr).toBe(0);
      expect(added.stdout).toContain(`(the admin API at ${admin})`);
      const waiverId = /created waiver (\S+):/.exec(added.stdout)?.[1] ?? '';
      const revoked = await mcpgov('waivers', 'revoke', waiverId, '--reason', 'done', '--config', config);
      expect(revoked.code, revoked.stderr).toBe(0);

      const unreachable = await mcpgov(
        'approvals',
        'list',
        '--gateway',
        `http://127.0.0.1:${await closedPort()}`,
        '--config',
        config,
      );
      expect(unreachable.code).toBe(1);
      expect(unreachable.stderr).toMatch(
        /refused \(unreachable\): cannot reach the admin API at http:\/\/127\.0\.0\.1:\d+/,
      );
    });
  });
});
