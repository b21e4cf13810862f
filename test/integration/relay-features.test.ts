import { mkdtemp, realpath } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
  type CreateMessageRequest,
  type ElicitRequest,
  type LoggingMessageNotification,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readEvidence } from '../../src/evidence/jsonl-store.js';
import { readJwks } from '../../src/evidence/signer.js';
import { verifyLogDir } from '../../src/evidence/verify.js';
import { CLI, REFERENCE_SERVERS, REPO, writeFixture, type FixtureSpec } from '../helpers/fixture.js';
import { callTool, runGateway, textOf, type RunningGateway } from '../helpers/gateway-harness.js';

/**
 * An SDK client as an MCP host would be: it declares roots, sampling and elicitation and answers
 * them (a canned model answer, a canned form), keeping what it was asked and what it was told.
 */
async function hostClient(url: string | Transport, rootDir: string) {
  const sampled: CreateMessageRequest[] = [];
  const elicited: ElicitRequest[] = [];
  const logs: LoggingMessageNotification['params'][] = [];
  const updated: string[] = [];
  const client = new Client(
    { name: 'host', version: '0' },
    { capabilities: { roots: { listChanged: true }, sampling: {}, elicitation: {} } },
  );
  client.setRequestHandler(ListRootsRequestSchema, () => ({
    roots: [{ uri: pathToFileURL(rootDir).href, name: 'workspace' }],
  }));
  client.setRequestHandler(CreateMessageRequestSchema, (request) => {
    sampled.push(request);
    return {
      model: 'host-model',
      role: 'assistant' as const,
      content: { type: 'text' as const, text: 'the host model answered' },
    };
  });
  client.setRequestHandler(ElicitRequestSchema, (request) => {
    elicited.push(request);
    return { action: 'accept' as const, content: { name: 'Ada Lovelace', check: true } };
  });
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    logs.push(n.params);
  });
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
    updated.push(n.params.uri);
  });
  await client.connect(typeof url === 'string' ? new StreamableHTTPClientTransport(new URL(url)) : url);
  return { client, sampled, elicited, logs, updated };
}

/** test/fixtures/growing-server.ts as built: a server whose lists grow when asked. */
const GROWING_SERVER = path.join(REPO, 'dist/test/fixtures/growing-server.js');

/** The gateway's setup: server-everything and server-filesystem (started on `serverDir`), all tools allowed. */
function spec(serverDir: string): FixtureSpec {
  return {
    config: {
      mode: 'enforce',
      identity: { default_agent: 'dev' },
      servers: {
        everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] },
        fs: { command: 'node', args: [REFERENCE_SERVERS.filesystem, serverDir] },
      },
    },
    tools: {
      tools: [
        { name: 'everything__*', owner: 'platform', risk_tier: 'low', scopes: ['demo'] },
        { name: 'fs__*', owner: 'platform', risk_tier: 'low', scopes: ['demo'] },
      ],
      resources: [
        {
          uri: 'demo://resource/static/document/*',
          server: 'everything',
          owner: 'docs',
          risk_tier: 'medium',
          data_classes: ['internal'],
        },
      ],
      groups: { demo: ['everything__*', 'fs__*'] },
    },
    agents: { agents: [{ id: 'dev', owner: 'platform', tool_groups: ['demo'], scopes: ['demo'] }] },
  };
}

describe('MCP features relayed through the gateway', () => {
  let gw: RunningGateway;
  let host: Awaited<ReturnType<typeof hostClient>>;
  let serverDir: string;
  let clientRoot: string;
  const others: Client[] = [];

  beforeAll(async () => {
    serverDir = await realpath(await mkdtemp(path.join(tmpdir(), 'mcpgov-fs-')));
    clientRoot = await realpath(await mkdtemp(path.join(tmpdir(), 'mcpgov-root-')));
    gw = await runGateway(spec(serverDir));
    host = await hostClient(gw.url, clientRoot);
    // server-everything offers its sampling, elicitation and roots tools once it knows its client
    // (the gateway) can answer them, and says so with tools/list_changed.
    await vi.waitFor(
      async () => {
        const { tools } = await host.client.listTools();
        expect(tools.map((t) => t.name)).toContain('everything__trigger-sampling-request');
      },
      { timeout: 20_000, interval: 100 },
    );
  });

  afterAll(async () => {
    await Promise.all([host?.client, ...others].map((c) => c?.close().catch(() => {})));
    await gw?.close();
  });

  it("offers the client's roots to the downstream servers", async () => {
    // server-filesystem replaces the folders given on its command line with its client's roots.
    await vi.waitFor(
      async () => {
        const result = await callTool(host.client, 'fs__list_allowed_directories');
        expect(textOf(result)).toContain(clientRoot);
        expect(textOf(result)).not.toContain(serverDir);
      },
      { timeout: 20_000, interval: 100 },
    );
    const roots = await callTool(host.client, 'everything__get-roots-list');
    expect(textOf(roots)).toContain(pathToFileURL(clientRoot).href);
  });

  it('relays a sampling request to the client whose call is in flight, recorded with the server that asked', async () => {
    const result = await callTool(host.client, 'everything__trigger-sampling-request', {
      prompt: 'summarise the weather',
      maxTokens: 20,
    });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(textOf(result)).toContain('the host model answered');
    expect(host.sampled).toHaveLength(1);
    expect(JSON.stringify(host.sampled[0]!.params.messages)).toContain('summarise the weather');

    const relayed = (await gw.evidence()).filter((r) => r.relay?.method === 'sampling/createMessage');
    expect(relayed.map((r) => r.relay?.event)).toEqual(['requested', 'answered']);
    for (const record of relayed) {
      expect(record.kind).toBe('relay');
      expect(record.relay?.server).toBe('everything');
      expect(record.subject?.agent).toBe('dev');
    }
    expect(relayed[0]!.relay?.message).toContain('summarise the weather');
    expect(relayed[1]!.relay?.model).toBe('host-model');
    // In the chain of the session that made the call.
    const decision = (await gw.evidence()).find(
      (r) => r.kind === 'decision' && r.request?.tool === 'everything__trigger-sampling-request',
    );
    expect(relayed[0]!.chain).toBe(decision?.chain);
  });

  it('relays an elicitation request to the client and its answer back, recorded with the server that asked', async () => {
    const result = await callTool(host.client, 'everything__trigger-elicitation-request');
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(textOf(result)).toContain('Name: Ada Lovelace');
    expect(host.elicited).toHaveLength(1);
    expect(host.elicited[0]!.params.message).toBe('Please provide inputs for the following fields:');

    const relayed = (await gw.evidence()).filter((r) => r.relay?.method === 'elicitation/create');
    expect(relayed.map((r) => [r.relay?.event, r.relay?.server])).toEqual([
      ['requested', 'everything'],
      ['answered', 'everything'],
    ]);
    expect(relayed[1]!.relay?.action).toBe('accept');
  });

  it('refuses a sampling request when the calling client cannot sample, and records the refusal', async () => {
    const plain = new Client({ name: 'plain', version: '0' });
    await plain.connect(new StreamableHTTPClientTransport(new URL(gw.url)));
    others.push(plain);
    const result = await callTool(plain, 'everything__trigger-sampling-request', { prompt: 'x' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('does not support sampling/createMessage');
    const refused = (await gw.evidence()).filter((r) => r.relay?.event === 'refused');
    expect(refused).toHaveLength(1);
    expect(refused[0]!.relay).toMatchObject({
      server: 'everything',
      method: 'sampling/createMessage',
      code: 'client_unsupported',
    });
  });

  it('passes the logging level down and relays log messages named by server, and a subscribed resource update', async () => {
    await host.client.setLoggingLevel('info');
    const { resources } = await host.client.listResources();
    const uri = resources.find((r) => r.uri.startsWith('demo://resource/static/'))?.uri;
    expect(uri).toBeDefined();

    // server-everything logs each subscription at info level, and sends an update at once when told to.
    await host.client.subscribeResource({ uri: uri! });
    await vi.waitFor(() =>
      expect(host.logs.some((l) => l.logger === 'everything' && String(l.data).includes(uri!))).toBe(true),
    );
    const toggled = await callTool(host.client, 'everything__toggle-subscriber-updates');
    expect(textOf(toggled)).toContain('Started simulated resource updated notifications');
    await vi.waitFor(() => expect(host.updated).toContain(uri));

    await host.client.unsubscribeResource({ uri: uri! });
    // A URI no server lists goes to the one server that offers subscriptions (server-filesystem offers none).
    await host.client.subscribeResource({ uri: 'test://watched-resource' });
    await vi.waitFor(() =>
      expect(host.logs.some((l) => String(l.data).includes('test://watched-resource'))).toBe(true),
    );
    await host.client.unsubscribeResource({ uri: 'test://watched-resource' });
    await callTool(host.client, 'everything__toggle-subscriber-updates');
    // A debug message is below the level the client asked for: none was relayed.
    expect(host.logs.every((l) => l.level !== 'debug')).toBe(true);
  });

  it('governs resources/read like a call: decided and recorded, and refused for data the agent is not cleared for', async () => {
    // No resource entry matches: the agent may read it, as it may use the server's tools.
    const uri = 'demo://resource/dynamic/text/7';
    const read = await host.client.readResource({ uri });
    expect(read.contents[0]?.uri).toBe(uri);
    // The static documents are `internal`, and the agent is cleared for nothing.
    const { resources } = await host.client.listResources();
    const doc = resources.find((r) => r.uri.startsWith('demo://resource/static/document/'))!.uri;
    await expect(host.client.readResource({ uri: doc })).rejects.toThrow(/resource_not_cleared/);

    const records = await gw.evidence();
    const decisions = records.filter((r) => r.kind === 'decision' && r.request?.method === 'resources/read');
    expect(decisions.map((r) => [r.request?.tool, r.request?.server, r.decision?.effect])).toEqual([
      [uri, 'everything', 'allow'],
      [doc, 'everything', 'deny'],
    ]);
    expect(decisions[1]!.decision?.reasons[0]).toBe('resource_not_cleared');
    const action = records.find((r) => r.kind === 'action' && r.action?.decision_id === decisions[0]!.id);
    expect(action?.action).toMatchObject({ server: 'everything', forwarded: true, is_error: false });
  });

  it('governs prompts/get like a call, and relays completion for prompts and resource templates', async () => {
    const prompt = await host.client.getPrompt({ name: 'everything__simple-prompt' });
    expect(prompt.messages.length).toBeGreaterThan(0);
    const decision = (await gw.evidence()).find(
      (r) => r.kind === 'decision' && r.request?.method === 'prompts/get',
    );
    expect(decision?.request).toMatchObject({ tool: 'everything__simple-prompt', server: 'everything' });
    expect(decision?.decision?.effect).toBe('allow');

    const departments = await host.client.complete({
      ref: { type: 'ref/prompt', name: 'everything__completable-prompt' },
      argument: { name: 'department', value: 'S' },
    });
    expect(departments.completion.values).toEqual(['Sales', 'Support']);
    const ids = await host.client.complete({
      ref: { type: 'ref/resource', uri: 'demo://resource/dynamic/text/{resourceId}' },
      argument: { name: 'resourceId', value: '12' },
    });
    expect(ids.completion.values).toEqual(['12']);
  });
});

describe('MCP features relayed through a gateway serving stdio', () => {
  it('crosses roots and sampling with the client that launched it', async () => {
    const serverDir = await realpath(await mkdtemp(path.join(tmpdir(), 'mcpgov-fs-')));
    const clientRoot = await realpath(await mkdtemp(path.join(tmpdir(), 'mcpgov-root-')));
    const fixture = await writeFixture(spec(serverDir));
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, 'gateway', '--config', fixture.configFile, '--stdio'],
      stderr: 'ignore',
    });
    const host = await hostClient(transport, clientRoot);
    try {
      await vi.waitFor(
        async () => {
          const result = await callTool(host.client, 'fs__list_allowed_directories');
          expect(textOf(result)).toContain(clientRoot);
        },
        { timeout: 20_000, interval: 100 },
      );
      await vi.waitFor(
        async () => {
          const { tools } = await host.client.listTools();
          expect(tools.map((t) => t.name)).toContain('everything__trigger-sampling-request');
        },
        { timeout: 20_000, interval: 100 },
      );
      const result = await callTool(host.client, 'everything__trigger-sampling-request', {
        prompt: 'over stdio',
      });
      expect(textOf(result)).toContain('the host model answered');
    } finally {
      await host.client.close();
    }
    const relayed = (await readEvidence(fixture.evidenceDir)).filter((r) => r.kind === 'relay');
    expect(relayed.map((r) => [r.relay?.event, r.relay?.server])).toEqual([
      ['requested', 'everything'],
      ['answered', 'everything'],
    ]);
    // The relay records are part of the signed, hash-chained log like every other record.
    const jwks = await readJwks(path.join(fixture.evidenceDir, 'keys/signing-key.jwks.json'));
    const report = await verifyLogDir(fixture.evidenceDir, jwks);
    expect(report.failure).toBeUndefined();
    expect(report.ok).toBe(true);
    expect(report.kinds['relay']).toBe(2);
  });
});

describe('list changes of a downstream server', () => {
  it('reloads the lists and tells the client to list again', async () => {
    const gw = await runGateway({
      config: {
        mode: 'enforce',
        identity: { default_agent: 'dev' },
        servers: { growing: { command: 'node', args: [GROWING_SERVER] } },
      },
      tools: {
        tools: [{ name: 'growing__*', owner: 'platform', risk_tier: 'low' }],
        groups: { all: ['growing__*'] },
      },
      agents: { agents: [{ id: 'dev', owner: 'platform', tool_groups: ['all'] }] },
    });
    try {
      const client = new Client({ name: 'lister', version: '0' });
      const changed = new Set<string>();
      for (const [schema, kind] of [
        [ToolListChangedNotificationSchema, 'tools'],
        [PromptListChangedNotificationSchema, 'prompts'],
        [ResourceListChangedNotificationSchema, 'resources'],
      ] as const) {
        client.setNotificationHandler(schema, () => {
          changed.add(kind);
        });
      }
      await client.connect(new StreamableHTTPClientTransport(new URL(gw.url)));
      // Notifications come on the standalone stream, which the client opened as it initialized.
      const grown = async () =>
        (await client.listTools()).tools.map((t) => t.name).filter((n) => n.startsWith('growing__'));
      expect(await grown()).toEqual(['growing__grow']);
      await callTool(client, 'growing__grow');
      await vi.waitFor(() => expect([...changed].sort()).toEqual(['prompts', 'resources', 'tools']));
      expect((await grown()).sort()).toEqual(['growing__grow', 'growing__grown']);
      expect((await client.listPrompts()).prompts.map((p) => p.name)).toContain('growing__grown-prompt');
      expect((await client.listResources()).resources.map((r) => r.uri)).toContain('grown://note');
      await client.close();
    } finally {
      await gw.close();
    }
  });
});
