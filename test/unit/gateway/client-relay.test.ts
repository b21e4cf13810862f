import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CreateMessageRequestSchema,
  LoggingMessageNotificationSchema,
  type LoggingMessageNotification,
} from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Identity } from '../../../src/core/identity.js';
import type { Session } from '../../../src/pep/enforcer.js';
import { silentLogger } from '../../../src/util/log.js';
import { ClientRelay, type Peer } from '../../../mcp-gateway/client-relay.js';
import { Downstream } from '../../../mcp-gateway/downstream.js';
import { memorySink } from '../../helpers/memory-sink.js';

const SAMPLE = {
  method: 'sampling/createMessage' as const,
  params: { messages: [{ role: 'user', content: { type: 'text', text: 'hello' } }], maxTokens: 5 },
};

/** A gateway session's SDK server linked in memory to a client with the given capabilities. */
async function linked(name: string, capabilities: Record<string, object>) {
  const server = new Server({ name: 'gw', version: '0' }, { capabilities: { logging: {} } });
  const client = new Client({ name, version: '0' }, { capabilities });
  const logs: LoggingMessageNotification['params'][] = [];
  if (capabilities['sampling']) {
    client.setRequestHandler(CreateMessageRequestSchema, () => ({
      model: `${name}-model`,
      role: 'assistant' as const,
      content: { type: 'text' as const, text: `from ${name}` },
    }));
  }
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    logs.push(n.params);
  });
  const [a, b] = InMemoryTransport.createLinkedPair();
  await Promise.all([server.connect(a), client.connect(b)]);
  const session: Session = {
    identity: { agentId: name, verified: false } as unknown as Identity,
    host: false,
    received: 0,
    state: { id: `session-${name}`, callCount: 0, tools: [], history: [] },
  };
  return { server, client, session, logs };
}

describe('relaying between the gateway clients and a shared downstream server', () => {
  const opened: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((c) => c.close()));
  });

  async function setup() {
    const ds = new Downstream('docs', { command: 'true', args: [] } as never, { log: silentLogger });
    const sink = memorySink();
    const relay = new ClientRelay(
      new Map([['docs', ds]]),
      sink,
      { id: 't', kind: 'gateway', version: '0' },
      silentLogger,
    );
    const peers: (Peer & { logs: LoggingMessageNotification['params'][] })[] = [];
    for (const [name, caps, visible] of [
      ['alice', { sampling: {} }, ['docs']],
      ['bob', { sampling: {} }, ['docs']],
      ['carol', {}, []],
    ] as const) {
      const { server, client, session, logs } = await linked(name, caps);
      opened.push(client, server);
      const peer = relay.attach({ server, session, visible: async () => new Set<string>(visible) });
      peers.push(Object.assign(peer, { logs }));
    }
    const ask = () => ds.clientRequests!('docs', SAMPLE, new AbortController().signal);
    return { ds, sink, relay, peers, ask };
  }

  it('relays a sampling request to the one session with a call in flight, recorded with the server', async () => {
    const { relay, peers, sink, ask } = await setup();
    const done = relay.calling(peers[1]!, 'docs', 7);
    const result = await ask();
    done();
    expect(result).toMatchObject({ model: 'bob-model' });
    expect(sink.records.map((r) => [r.kind, r.chain, r.relay?.event, r.relay?.server])).toEqual([
      ['relay', 'session-bob', 'requested', 'docs'],
      ['relay', 'session-bob', 'answered', 'docs'],
    ]);
    expect(sink.records[0]!.relay?.message).toBe('hello');
  });

  it('refuses, and records, a request when no session or several have a call in flight', async () => {
    const { relay, peers, sink, ask } = await setup();
    await expect(ask()).rejects.toThrow(/none is in flight to docs/);
    relay.calling(peers[0]!, 'docs', 1);
    relay.calling(peers[1]!, 'docs', 1);
    await expect(ask()).rejects.toThrow(/several sessions have calls in flight/);
    expect(sink.records.map((r) => [r.chain, r.relay?.event, r.relay?.code])).toEqual([
      ['relay', 'refused', 'no_caller'],
      ['relay', 'refused', 'caller_ambiguous'],
    ]);
  });

  it('refuses a request the calling client cannot answer', async () => {
    const { relay, peers, sink, ask } = await setup();
    relay.calling(peers[2]!, 'docs', 1);
    await expect(ask()).rejects.toThrow(/does not support sampling/);
    expect(sink.records[0]!.relay).toMatchObject({ event: 'refused', code: 'client_unsupported' });
  });

  it("sends a server's log message, named by server, to the sessions that may use it at their level", async () => {
    const { ds, relay, peers } = await setup();
    await relay.setLevel(peers[1]!, 'error');
    ds.emit('log', { level: 'info', logger: 'index', data: 'indexed' });
    ds.emit('log', { level: 'error', data: 'disk full' });
    await vi.waitFor(() => expect(peers[0]!.logs).toHaveLength(2));
    await vi.waitFor(() => expect(peers[1]!.logs).toHaveLength(1));
    expect(peers[0]!.logs).toEqual([
      { level: 'info', logger: 'docs/index', data: 'indexed' },
      { level: 'error', logger: 'docs', data: 'disk full' },
    ]);
    expect(peers[1]!.logs).toEqual([{ level: 'error', logger: 'docs', data: 'disk full' }]);
    // Carol's agent may use none of the server's tools: her session is never sent its logs.
    await peers[2]!.server.ping();
    expect(peers[2]!.logs).toEqual([]);
  });

  it("answers a server's roots/list with every session's roots, once each", async () => {
    const { ds, peers } = await setup();
    peers[0]!.roots = [{ uri: 'file:///a' }, { uri: 'file:///shared' }];
    peers[1]!.roots = [{ uri: 'file:///shared' }];
    const answer = await ds.clientRequests!('docs', { method: 'roots/list' }, new AbortController().signal);
    expect(answer).toEqual({ roots: [{ uri: 'file:///a' }, { uri: 'file:///shared' }] });
  });
});
