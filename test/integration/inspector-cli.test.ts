import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEvidence } from '../../src/evidence/jsonl-store.js';
import { CLI, REFERENCE_SERVERS, REPO, writeFixture, type FixtureSpec } from '../helpers/fixture.js';
import { runGateway, type RunningGateway } from '../helpers/gateway-harness.js';
import { startIdentityProvider, type IdentityProvider } from '../helpers/identity-provider.js';

/** The MCP Inspector's CLI, pinned at 0.15.0 (a devDependency), as `npx @modelcontextprotocol/inspector@0.15.0` runs it. */
const INSPECTOR = path.join(REPO, 'node_modules/@modelcontextprotocol/inspector/cli/build/cli.js');
const AUDIENCE = 'https://mcp.example.test/mcp';

async function inspector(
  args: string[],
  cwd = REPO,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [INSPECTOR, '--cli', ...args], {
      cwd,
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('the MCP Inspector CLI (0.15.0) against a gateway that requires tokens', () => {
  let idp: IdentityProvider;
  let gw: RunningGateway;
  let spec: FixtureSpec;

  beforeAll(async () => {
    idp = await startIdentityProvider(AUDIENCE);
    spec = {
      config: {
        identity: { issuer: idp.issuer, jwks_uri: idp.jwksUri, audience: AUDIENCE },
        servers: { everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] } },
      },
      tools: { tools: [{ name: '*', owner: 'platform', risk_tier: 'low' }], groups: { all: ['*'] } },
      agents: { agents: [{ id: 'ci', owner: 'platform', tool_groups: ['all'], sub: 'ci-bot' }] },
    };
    gw = await runGateway(spec);
  });
  afterAll(async () => {
    await gw?.close();
    await idp?.close();
  });

  it('gets 401 over Streamable HTTP without a token', async () => {
    const run = await inspector([gw.url, '--method', 'tools/list']);
    expect(run.code).toBe(1);
    // It prints the body of the refusal; the status is 401 (the gateway answers this message with no other).
    expect(run.stdout + run.stderr).toContain('a bearer token is required');
    const res = await fetch(gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '0' } },
      }),
    });
    expect(res.status).toBe(401);
  });

  // 0.15.0's CLI has no option to send an HTTP header (its transport takes the URL only), so the
  // token goes the way a stdio client presents one: MCPGOV_TOKEN in the gateway's environment. The
  // Inspector keeps `--config` for itself: the gateway reads mcpgov.yaml from its working folder.
  it('lists the tools with a token, presented over stdio', async () => {
    const fixture = await writeFixture(spec);
    const token = await idp.sign({ sub: 'ci-bot' });
    const run = await inspector(
      ['-e', `MCPGOV_TOKEN=${token}`, process.execPath, CLI, 'gateway', '--stdio', '--method', 'tools/list'],
      fixture.dir,
    );
    expect(run.code, run.stderr).toBe(0);
    const { tools } = JSON.parse(run.stdout) as { tools: { name: string }[] };
    expect(tools.map((t) => t.name)).toContain('everything__echo');
    const opened = (await readEvidence(fixture.evidenceDir)).find((r) => r.kind === 'chain' && r.subject);
    expect(opened?.subject).toMatchObject({ verified: true, agent: 'ci', sub: 'ci-bot', iss: idp.issuer });
  });

  // The same HTTP gateway, with the token in an Authorization header: the Inspector speaks stdio to
  // `mcpgov connect`, which relays to the gateway's endpoint and presents the token there.
  it('calls a tool on the HTTP gateway with a token in a header, through mcpgov connect', async () => {
    const token = await idp.sign({ sub: 'ci-bot' });
    const call = ['--method', 'tools/call', '--tool-name', 'everything__echo', '--tool-arg', 'message=hi'];
    const run = await inspector([
      '-e',
      `MCPGOV_TOKEN=${token}`,
      process.execPath,
      CLI,
      'connect',
      gw.url,
      ...call,
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('Echo: hi');
    const records = await gw.evidence();
    const decision = records.findLast((r) => r.kind === 'decision' && r.request?.tool === 'everything__echo');
    expect(decision?.decision?.effect).toBe('allow');
    const opened = records.find((r) => r.kind === 'chain' && r.chain === decision?.chain && r.subject);
    expect(opened?.subject).toMatchObject({ verified: true, agent: 'ci', sub: 'ci-bot' });
    expect(JSON.stringify(records)).not.toContain(token.split('.')[2]);

    // Without the token, the same relay gets the gateway's refusal as a JSON-RPC error.
    const refused = await inspector([process.execPath, CLI, 'connect', gw.url, ...call]);
    expect(refused.code).toBe(1);
    expect(refused.stdout + refused.stderr).toMatch(/401|a bearer token is required/);
  });
});
