import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CancelledNotificationSchema,
  ElicitRequestSchema,
  type ElicitRequest,
  type ElicitResult,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApprovalRequest } from '../../src/approvals/types.js';
import { REFERENCE_SERVERS } from '../helpers/fixture.js';
import { callTool, runGateway, textOf, type RunningGateway } from '../helpers/gateway-harness.js';
import { messagesOf, rawRequest, sessionHeaders } from '../helpers/raw-http.js';

type Answer = ElicitResult['action'];

/**
 * A real SDK client that declares the elicitation capability: it answers each `elicitation/create`
 * with the next of `answers` (as its user would), keeping what it was asked.
 */
async function confirmingClient(
  url: string,
  answers: Answer[],
): Promise<{ client: Client; asked: ElicitRequest[] }> {
  const asked: ElicitRequest[] = [];
  const client = new Client(
    { name: 'confirming-agent', version: '0' },
    { capabilities: { elicitation: {} } },
  );
  client.setRequestHandler(ElicitRequestSchema, (request) => {
    asked.push(request);
    const action = answers.shift() ?? 'cancel';
    return action === 'accept' ? { action, content: {} } : { action };
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return { client, asked };
}

function requestOf(result: { _meta?: Record<string, unknown> }): string | undefined {
  return (result._meta?.['mcpgov/decision'] as { request?: string } | undefined)?.request;
}

describe('user confirmation through MCP elicitation', () => {
  let gw: RunningGateway;
  let demo: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    demo = await mkdtemp(path.join(tmpdir(), 'mcpgov-demo-'));
    await writeFile(path.join(demo, 'a.txt'), 'a');
    await writeFile(path.join(demo, 'b.txt'), 'b');
    await writeFile(path.join(demo, 'c.txt'), 'c');
    gw = await runGateway({
      config: {
        mode: 'enforce',
        identity: { default_agent: 'dev' },
        paths: { demo },
        servers: { fs: { command: 'node', args: [REFERENCE_SERVERS.filesystem, demo] } },
      },
      tools: {
        tools: [
          {
            name: 'fs__move_file',
            owner: 'platform',
            risk_tier: 'medium',
            scopes: ['fs'],
            approval: { when: 'always', user_confirmation: true, mode: 'return' },
          },
          {
            // High tier: a user's confirmation is never enough, whatever the settings say.
            name: 'fs__write_file',
            owner: 'platform',
            risk_tier: 'high',
            scopes: ['fs'],
            approval: { when: 'always', user_confirmation: true, mode: 'return' },
          },
          { name: 'fs__*', owner: 'platform', risk_tier: 'low', scopes: ['fs'] },
        ],
        groups: { fs: ['fs__*'] },
      },
      agents: { agents: [{ id: 'dev', owner: 'platform', tool_groups: ['fs'], scopes: ['fs'] }] },
    });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await gw?.close();
  });

  async function client(answers: Answer[]) {
    const c = await confirmingClient(gw.url, answers);
    clients.push(c.client);
    return c;
  }

  it('asks the user; their acceptance is the approval, recorded as theirs, and the call goes through', async () => {
    const { client: c, asked } = await client(['accept']);
    const source = path.join(demo, 'a.txt');
    const destination = path.join(demo, 'a-moved.txt');
    const result = await callTool(c, 'fs__move_file', { source, destination });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(await readFile(destination, 'utf8')).toBe('a');
    expect(existsSync(source)).toBe(false);

    expect(asked).toHaveLength(1);
    const message = asked[0]!.params.message;
    expect(message).toContain('fs__move_file');
    expect(message).toContain('medium');
    const [request] = (await gw.gateway.approvals.list({ state: 'approved' })).filter(
      (r) => r.binding.tool === 'fs__move_file',
    );
    expect(request?.verdict).toMatchObject({ verdict: 'approve', approver: { via: 'elicitation' } });
    expect(request?.grant?.used_at).toBeDefined();

    const records = await gw.evidence();
    const decided = records.find(
      (r) => r.approval?.event === 'decided' && r.approval.request === request!.id,
    );
    expect(decided?.approval).toMatchObject({ verdict: 'approve', approver: { via: 'elicitation' } });
    expect(
      records.some((r) => r.approval?.event === 'grant_used' && r.approval.request === request!.id),
    ).toBe(true);
  });

  it('refuses the call with approval_denied when the user declines, and does nothing', async () => {
    const { client: c, asked } = await client(['decline']);
    const source = path.join(demo, 'b.txt');
    const result = await callTool(c, 'fs__move_file', {
      source,
      destination: path.join(demo, 'b-moved.txt'),
    });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('approval_denied');
    expect(asked).toHaveLength(1);
    expect(existsSync(source)).toBe(true);
    const request = await gw.gateway.approvals.get(requestOf(result) ?? '');
    expect(request?.state).toBe('denied');
    expect(request?.verdict?.approver.via).toBe('elicitation');
  });

  it('leaves the request to approvers when the user cancels; an approver may still release the call', async () => {
    const { client: c, asked } = await client(['cancel']);
    const source = path.join(demo, 'c.txt');
    const destination = path.join(demo, 'c-moved.txt');
    const held = callTool(c, 'fs__move_file', { source, destination });
    held.catch(() => {});
    let request: ApprovalRequest | undefined;
    while (!request || asked.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      request = (await gw.gateway.approvals.list({ state: 'pending' })).find(
        (r) => r.binding.tool === 'fs__move_file',
      );
    }
    const decided = await gw.gateway.approvals.decide(
      request.id,
      { verdict: 'approve', reason: 'the move is expected', args_digest: request.binding.args_digest },
      { approver: { sub: 'alice', via: 'api' }, teams: [], owners: ['*'], tiers: ['medium'] },
    );
    expect(decided.ok).toBe(true);
    const result = await held;
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(await readFile(destination, 'utf8')).toBe('c');
  });

  it('withdraws the question from the user (notifications/cancelled) when an approver decides first', async () => {
    const asked: (string | number)[] = [];
    const withdrawn = new Set<string | number>();
    const c = new Client({ name: 'slow-user', version: '0' }, { capabilities: { elicitation: {} } });
    // This user never answers: the question stays open until the gateway withdraws it.
    c.setRequestHandler(ElicitRequestSchema, (_request, extra) => {
      asked.push(extra.requestId);
      return new Promise<ElicitResult>((resolve) =>
        extra.signal.addEventListener('abort', () => resolve({ action: 'cancel' })),
      );
    });
    // What the gateway tells the client, read off the wire: the SDK's own handler of this notification
    // skips request id 0 (a falsy check), which is the id of this session's first question.
    c.setNotificationHandler(CancelledNotificationSchema, (n) => {
      if (n.params.requestId !== undefined) withdrawn.add(n.params.requestId);
    });
    await c.connect(new StreamableHTTPClientTransport(new URL(gw.url)));
    clients.push(c);
    const source = path.join(demo, 'd.txt');
    await writeFile(source, 'd');
    const held = callTool(c, 'fs__move_file', { source, destination: path.join(demo, 'd-moved.txt') });
    held.catch(() => {});
    let request: ApprovalRequest | undefined;
    while (!request || asked.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      request = (await gw.gateway.approvals.list({ state: 'pending' })).find(
        (r) => r.binding.tool === 'fs__move_file',
      );
    }
    const decided = await gw.gateway.approvals.decide(
      request.id,
      { verdict: 'deny', reason: 'not today', args_digest: request.binding.args_digest },
      { approver: { sub: 'alice', via: 'api' }, teams: [], owners: ['*'], tiers: ['medium'] },
    );
    expect(decided.ok).toBe(true);
    const result = await held;
    expect(textOf(result)).toContain('approval_denied');
    while (!withdrawn.has(asked[0]!)) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(existsSync(source)).toBe(true);
  });

  it("asks on the call's own response stream, so a client without the optional GET stream is asked too", async () => {
    // A raw Streamable HTTP client that never opens the standalone GET stream (the spec makes it optional).
    const init = await rawRequest(gw.url, {
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-11-25',
          capabilities: { elicitation: {} },
          clientInfo: { name: 'post-only', version: '0' },
        },
      }),
    });
    await init.text();
    const session = init.headers['mcp-session-id'] as string;
    const headers = sessionHeaders(session);
    await (
      await rawRequest(gw.url, {
        headers,
        body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
      })
    ).text();
    const source = path.join(demo, 'e.txt');
    const destination = path.join(demo, 'e-moved.txt');
    await writeFile(source, 'e');
    const call = await rawRequest(gw.url, {
      headers,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'fs__move_file', arguments: { source, destination } },
      }),
    });
    await call.until('elicitation/create');
    const question = messagesOf(call.received()).find(
      (m) => (m as { method?: string }).method === 'elicitation/create',
    ) as { id: number | string };
    const answered = await rawRequest(gw.url, {
      headers,
      body: JSON.stringify({ jsonrpc: '2.0', id: question.id, result: { action: 'accept', content: {} } }),
    });
    await answered.text();
    const result = messagesOf(await call.text()).find((m) => (m as { id?: unknown }).id === 2) as {
      result: { isError?: boolean };
    };
    expect(result.result.isError).toBeFalsy();
    expect(await readFile(destination, 'utf8')).toBe('e');
  });

  it('never asks the user about a high-tier tool', async () => {
    const { client: c, asked } = await client(['accept']);
    const target = path.join(demo, 'written.txt');
    const result = await callTool(c, 'fs__write_file', { path: target, content: 'x' });
    expect(textOf(result)).toContain('approval_pending');
    expect(asked).toHaveLength(0);
    expect(existsSync(target)).toBe(false);
    expect((await gw.gateway.approvals.get(requestOf(result) ?? ''))?.state).toBe('pending');
  });

  it('does not ask a client that did not declare the elicitation capability', async () => {
    const plain = await gw.client();
    const source = path.join(demo, 'b.txt');
    const result = await callTool(plain, 'fs__move_file', {
      source,
      destination: path.join(demo, 'b-2.txt'),
    });
    // Not confirmable here, so the tool's return mode answers at once instead of waiting on the user.
    expect(textOf(result)).toContain('approval_pending');
    expect(existsSync(source)).toBe(true);
    const request = await gw.gateway.approvals.get(requestOf(result) ?? '');
    expect(request?.state).toBe('pending');
    expect(request?.verdict).toBeUndefined();
  });
});
