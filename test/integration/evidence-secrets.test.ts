import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { digest } from '../../src/evidence/hash.js';
import { readEvidence } from '../../src/evidence/jsonl-store.js';
import type { EvidenceRecord } from '../../src/evidence/types.js';
import { ALL_SECRETS, PLANTED_TEXTS, plantedArguments } from '../fixtures/secret-corpus.js';
import { CLI, REFERENCE_SERVERS, REPO, writeFixture } from '../helpers/fixture.js';
import { runGateway } from '../helpers/gateway-harness.js';

const run = promisify(execFile);

async function mcpgov(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [CLI, ...args], { cwd: REPO, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** Every file under a folder, as text. */
async function filesUnder(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    out.set(file, await readFile(file, 'utf8'));
  }
  return out;
}

/** The secrets found in a text (none, when masking held). */
const leaked = (text: string) => ALL_SECRETS.filter((s) => text.includes(s));

/**
 * Fifty-odd secret shapes planted in arguments, intents (both sources) and tool results, through the
 * gateway over the real reference servers with stage 2 on (its verdicts quote argument text): none
 * may reach the evidence folder, an export in either format, or an evidence pack.
 */
describe('secrets never in evidence', () => {
  let configFile: string;
  let evidenceDir: string;
  let chains: string[];
  let records: EvidenceRecord[];

  beforeAll(async () => {
    const files = await mkdtemp(path.join(tmpdir(), 'mcpgov-secrets-'));
    const secretsFile = path.join(files, 'deploy-notes.txt');
    await writeFile(secretsFile, PLANTED_TEXTS.map((p) => p.text).join('\n'));
    const gw = await runGateway({
      config: {
        mode: 'observe',
        identity: { default_agent: 'dev' },
        servers: {
          everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] },
          fs: { command: 'node', args: [REFERENCE_SERVERS.filesystem, files] },
        },
      },
      tools: {
        tools: [
          {
            name: 'fs__write_file',
            owner: 'p',
            risk_tier: 'medium',
            semantic: 'required',
            outcome: { description: 'the file was written', check: { '!': { var: 'result.isError' } } },
          },
          { name: '*', owner: 'p', risk_tier: 'low', semantic: 'required' },
        ],
        groups: { all: ['*'] },
      },
      agents: { agents: [{ id: 'dev', owner: 'p', tool_groups: ['all'] }] },
    });
    const call = (
      client: Client,
      name: string,
      args: Record<string, unknown>,
      intent?: string,
    ): Promise<CallToolResult> =>
      client.request(
        {
          method: 'tools/call',
          params: { name, arguments: args, ...(intent ? { _meta: { 'mcpgov/intent': intent } } : {}) },
        },
        CallToolResultSchema,
      );

    // Arguments and the host's intent (`_meta`), one shape per call, then all of them in one object.
    const a = await gw.client();
    for (const p of PLANTED_TEXTS) {
      const result = await call(a, 'everything__echo', { message: p.text }, `Echo this for me: ${p.text}`);
      expect(result.isError, p.id).toBeFalsy();
    }
    await call(a, 'everything__echo', plantedArguments());

    // The intent an agent declares with the enforcement point's own tool.
    const b = await gw.client();
    for (const p of PLANTED_TEXTS.slice(0, 12)) {
      await call(b, 'mcpgov__declare_intent', { intent: `The user wants to rotate ${p.text}` });
      await call(b, 'everything__echo', { message: 'ok' });
    }

    // Tool results: a file full of secrets read back (stage 2 keeps results in the session history
    // and may quote them), written again (an outcome record), then referred to by a later call.
    const c = await gw.client();
    const intent = 'tidy up the deploy notes file';
    await call(c, 'fs__read_text_file', { path: secretsFile }, intent);
    await call(
      c,
      'fs__write_file',
      { path: path.join(files, 'copy.txt'), content: PLANTED_TEXTS[4]!.text },
      intent,
    );
    await call(c, 'everything__echo', { message: PLANTED_TEXTS[10]!.text }, intent);

    chains = [a, b, c].map((client) => (client.transport as StreamableHTTPClientTransport).sessionId!);
    for (const client of [a, b, c])
      await (client.transport as StreamableHTTPClientTransport).terminateSession();
    await gw.close();
    configFile = gw.fixture.configFile;
    evidenceDir = gw.fixture.evidenceDir;
    records = (await mcpgov('evidence', 'export', '--format', 'jsonl', '--config', configFile))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as EvidenceRecord);
  });

  it('wrote the records the test relies on', () => {
    const kinds = records.map((r) => r.kind);
    expect(kinds.filter((k) => k === 'decision').length).toBeGreaterThan(PLANTED_TEXTS.length);
    expect(kinds).toContain('outcome');
    // An HTTP caller is no host here, so its `_meta` intents are recorded as ignored: masked all the same.
    const intents = records.filter(
      (r) => r.chain_event?.event === 'intent' || r.chain_event?.event === 'intent_ignored',
    );
    expect(intents.filter((r) => r.chain_event?.source === 'meta').length).toBeGreaterThan(
      PLANTED_TEXTS.length,
    );
    expect(intents.filter((r) => r.chain_event?.source === 'declared').length).toBe(12);
    const planted = intents.filter((r) => r.chain_event?.intent !== 'tidy up the deploy notes file');
    expect(planted.every((r) => r.chain_event?.intent?.includes('[masked]'))).toBe(true);
    expect(records.filter((r) => r.decision?.semantic).length).toBeGreaterThan(PLANTED_TEXTS.length);
  });

  it('keeps no secret in any file of the evidence folder', async () => {
    for (const [file, text] of await filesUnder(evidenceDir)) expect(leaked(text), file).toEqual([]);
  });

  it('keeps no secret in an export, in either format', async () => {
    expect(leaked(await mcpgov('evidence', 'export', '--format', 'jsonl', '--config', configFile))).toEqual(
      [],
    );
    expect(leaked(await mcpgov('evidence', 'export', '--format', 'ocsf', '--config', configFile))).toEqual(
      [],
    );
  });

  it('keeps no secret in an evidence pack of any of the sessions', async () => {
    for (const chain of chains) {
      const out = path.join(await mkdtemp(path.join(tmpdir(), 'mcpgov-pack-')), 'pack');
      await mcpgov('evidence', 'pack', '--chain', chain, '--out', out, '--config', configFile);
      const files = await filesUnder(out);
      expect(files.size).toBeGreaterThan(0);
      for (const [file, text] of files) expect(leaked(text), file).toEqual([]);
    }
  });

  it('lists the masked paths of the object holding every shape', () => {
    const record = records.find((r) => (r.request?.args as { message?: string })?.message === 'hello');
    expect(record?.request?.masked).toEqual(
      expect.arrayContaining(['/pass', '/db_pass', '/passcode', '/ssh_key', '/key', '/creds', '/notes/0']),
    );
  });
});

/**
 * Over stdio the gateway hands the parsed JSON-RPC arguments to the enforcer and on downstream as
 * they are, so a `__proto__` member (an own member after JSON.parse) is forwarded: the decision
 * record must show it and its digest must cover it.
 */
describe('a __proto__ member of the arguments, end to end over stdio', () => {
  it('is recorded as forwarded, with the digest of exactly those arguments', async () => {
    const fixture = await writeFixture({
      config: {
        mode: 'enforce',
        identity: { default_agent: 'dev' },
        servers: { everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] } },
      },
      tools: {
        tools: [{ name: 'everything__*', owner: 'p', risk_tier: 'low' }],
        groups: { all: ['everything__*'] },
      },
      agents: { agents: [{ id: 'dev', owner: 'p', tool_groups: ['all'] }] },
    });
    const client = new Client({ name: 'proto-test', version: '0' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [CLI, 'gateway', '--stdio', '--config', fixture.configFile],
        stderr: 'ignore',
      }),
    );
    const args = JSON.parse('{"message":"p","__proto__":{"path":"/etc/shadow"}}') as Record<string, unknown>;
    const result = await client.request(
      { method: 'tools/call', params: { name: 'everything__echo', arguments: args } },
      CallToolResultSchema,
    );
    expect(result.isError).toBeFalsy();
    await client.close();
    const records = await readEvidence(fixture.evidenceDir);
    const decision = records.find((r) => r.kind === 'decision' && r.request?.tool === 'everything__echo');
    // Records are stored in RFC 8785 order, which puts `__proto__` first.
    expect(JSON.stringify(decision?.request?.args)).toBe(
      '{"__proto__":{"path":"/etc/shadow"},"message":"p"}',
    );
    expect(decision?.request?.args_digest).toBe(digest(args));
    expect(decision?.request?.args_digest).not.toBe(digest({ message: 'p' }));
    const action = records.find((r) => r.action?.decision_id === decision?.decision?.id);
    expect(action?.action?.args_digest).toBe(decision?.request?.args_digest);
  });
});
