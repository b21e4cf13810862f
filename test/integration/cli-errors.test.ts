import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mcpgov, type CliRun } from '../helpers/cli.js';
import { REFERENCE_SERVERS, writeFixture, type FixtureSpec } from '../helpers/fixture.js';

const minimal: FixtureSpec = {
  config: {
    identity: { default_agent: 'dev' },
    servers: { everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] } },
  },
  tools: {
    tools: [{ name: 'everything__*', owner: 'platform', risk_tier: 'low' }],
    groups: { all: ['everything__*'] },
  },
  agents: { agents: [{ id: 'dev', owner: 'platform', tool_groups: ['all'] }] },
};

/** An expected error: exactly one line on stderr, no stack frame, this exit code. */
function expectOneLine(run: CliRun, code: 1 | 2, message: string | RegExp): void {
  const lines = run.stderr.split('\n').filter((l) => l !== '');
  expect(lines, run.stderr).toHaveLength(1);
  expect(run.stderr).not.toMatch(/^ {4}at /m);
  expect(run.code, run.stderr).toBe(code);
  if (typeof message === 'string') expect(lines[0]).toContain(message);
  else expect(lines[0]).toMatch(message);
}

describe('mcpgov expected errors', { timeout: 120_000 }, () => {
  const servers: Server[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  it('refuses "gateway --http notaport" as usage, before anything starts', async () => {
    const fixture = await writeFixture(minimal);
    const run = await mcpgov(['gateway', '-c', fixture.configFile, '--http', 'notaport']);
    expectOneLine(run, 2, /^mcpgov gateway: option "--http <host:port>" argument "notaport" is invalid/);
    expect(existsSync(fixture.evidenceDir)).toBe(false);
  });

  it('says a port is in use in one line, with the option to pass, before any server starts', async () => {
    const fixture = await writeFixture(minimal);
    const taken = createServer();
    servers.push(taken);
    const port = await new Promise<number>((resolve) =>
      taken.listen(0, '127.0.0.1', () => resolve((taken.address() as { port: number }).port)),
    );
    const run = await mcpgov(['gateway', '-c', fixture.configFile, '--http', `127.0.0.1:${port}`]);
    expectOneLine(run, 1, `mcpgov gateway: port ${port} is in use; pass --http HOST:PORT`);
    expect(existsSync(fixture.evidenceDir)).toBe(false);
  });

  it('refuses "keys generate" into a folder that already holds the key, overwriting nothing', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-keys-'));
    expect((await mcpgov(['keys', 'generate', '--out', dir])).code).toBe(0);
    const privateKey = path.join(dir, 'signing-key.private.jwk');
    const before = await readFile(privateKey, 'utf8');
    const run = await mcpgov(['keys', 'generate', '--out', dir]);
    expectOneLine(run, 1, `${dir} already holds a key named "signing-key"; nothing was written`);
    expect(await readFile(privateKey, 'utf8')).toBe(before);
  });

  it('names a sidecar command that does not exist, in one line', async () => {
    const fixture = await writeFixture(minimal);
    const run = await mcpgov(['sidecar', '-c', fixture.configFile, '--', 'mcpgov-no-such-server', '--flag']);
    expectOneLine(run, 1, 'mcpgov sidecar: cannot run "mcpgov-no-such-server": no such command');
  });

  it('names the missing key, the file and the line of a server without command or url', async () => {
    const fixture = await writeFixture(minimal);
    await writeFile(
      fixture.configFile,
      'identity: { default_agent: dev }\nservers:\n  fs:\n    args: [server.js]\n',
    );
    const expected = `${fixture.configFile}:3: servers.fs: missing required key "command" (or "package" or "url")`;
    expectOneLine(await mcpgov(['gateway', '-c', fixture.configFile, '--stdio']), 1, expected);
    const validated = await mcpgov(['validate', '-c', fixture.configFile]);
    expect(validated.code).toBe(1);
    expect(validated.stderr.split('\n')[0]).toBe(expected);
  });

  it('suggests the command or option meant', async () => {
    expectOneLine(await mcpgov(['polcy']), 2, 'mcpgov: unknown command "polcy" (did you mean policy?)');
    expectOneLine(
      await mcpgov(['policy', 'sgn']),
      2,
      'mcpgov policy: unknown subcommand "sgn" (did you mean sign?)',
    );
    expectOneLine(
      await mcpgov(['gateway', '--htp', '127.0.0.1:0']),
      2,
      'mcpgov gateway: unknown option "--htp" (did you mean --http?)',
    );
    expectOneLine(await mcpgov(['frobnicate']), 2, 'mcpgov: unknown command "frobnicate"');
  });

  it('checks numbers, choices and required options before running anything', async () => {
    const cases: [string[], RegExp][] = [
      [['policy', 'build', '--seq', '0'], /--seq <n>" argument "0" is invalid/],
      [['approvals', 'list', '--limit', 'many'], /--limit <n>" argument "many" is invalid/],
      [['evals', 'run', '--failures', '-1'], /--failures <n>" argument "-1" is invalid/],
      [['evals', 'run', '--stage', 'everything'], /Allowed choices are deterministic, semantic, pipeline/],
      [['report', '--format', 'pdf'], /Allowed choices are json, html/],
      [['keys', 'generate'], /required option "--out <dir>" not specified/],
      [['evidence', 'verify', '--jwks', 'k.json'], /missing required argument "path"/],
      [['policy', 'sign', 'bundle', '--key', 'k', 'extra'], /too many arguments/],
      [['connect', 'ftp://x'], /not an http\(s\) URL: ftp:\/\/x/],
      [['completion', 'fish'], /Allowed choices are bash, zsh/],
    ];
    const runs = await Promise.all(cases.map(([args]) => mcpgov(args)));
    runs.forEach((run, i) => expectOneLine(run, 2, cases[i]![1]));
  });

  it('reports a usage error found by the command itself in one line, with where to look', async () => {
    const fixture = await writeFixture(minimal);
    const run = await mcpgov(['waivers', 'revoke', 'w1', '-c', fixture.configFile]);
    expectOneLine(
      run,
      2,
      'mcpgov waivers revoke: waivers revoke needs --reason R (see "mcpgov waivers revoke --help")',
    );
  });
});
