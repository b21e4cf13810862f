import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DirectRequestTransport } from '../../../src/transport/direct-requests.js';

/** A direct-request transport whose peer (the "server") records what it receives. */
async function harness() {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const direct = new DirectRequestTransport(clientSide);
  const atServer: JSONRPCMessage[] = [];
  const passedOn: JSONRPCMessage[] = [];
  serverSide.onmessage = (m) => atServer.push(m);
  direct.onmessage = (m) => passedOn.push(m);
  await serverSide.start();
  await direct.start();
  return { direct, serverSide, atServer, passedOn };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('direct requests on a downstream connection', () => {
  afterEach(() => vi.useRealTimers());

  it('resolves with the result as received and hides the answer from the SDK client', async () => {
    const h = await harness();
    const pending = h.direct.request('tools/call', { name: 'echo' }, { timeoutMs: 1000 });
    await tick();
    const sent = h.atServer[0] as { id: string };
    expect(sent).toMatchObject({ jsonrpc: '2.0', method: 'tools/call', params: { name: 'echo' } });
    const result = { content: [{ type: 'text', text: 'hi' }], extra: { kept: true } };
    await h.serverSide.send({ jsonrpc: '2.0', id: sent.id, result });
    expect(await pending).toEqual(result);
    expect(h.passedOn).toEqual([]);
  });

  it('passes the SDK client its own answers and notifications', async () => {
    const h = await harness();
    await h.serverSide.send({ jsonrpc: '2.0', id: 1, result: {} });
    await h.serverSide.send({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
    await tick();
    expect(h.passedOn).toHaveLength(2);
  });

  it('rejects with the server error code and message', async () => {
    const h = await harness();
    const pending = h.direct.request('tools/call', { name: 'x' }, { timeoutMs: 1000 });
    await tick();
    const { id } = h.atServer[0] as { id: string };
    await h.serverSide.send({ jsonrpc: '2.0', id, error: { code: -32602, message: 'Unknown tool: x' } });
    await expect(pending).rejects.toMatchObject({
      code: -32602,
      message: expect.stringMatching(/Unknown tool/),
    });
  });

  it('times out, and tells the server the request is cancelled', async () => {
    vi.useFakeTimers();
    const h = await harness();
    const pending = h.direct.request('tools/call', { name: 'slow' }, { timeoutMs: 5000 });
    const settled = expect(pending).rejects.toMatchObject({ code: -32001 });
    await vi.advanceTimersByTimeAsync(5001);
    await settled;
    const { id } = h.atServer[0] as { id: string };
    expect(h.atServer[1]).toMatchObject({ method: 'notifications/cancelled', params: { requestId: id } });
  });

  it('relays progress for its own token, and progress keeps a long call from timing out', async () => {
    vi.useFakeTimers();
    const h = await harness();
    const seen: unknown[] = [];
    const pending = h.direct.request(
      'tools/call',
      { name: 'long' },
      { timeoutMs: 1000, onprogress: (p) => seen.push(p) },
    );
    await vi.advanceTimersByTimeAsync(0);
    const sent = h.atServer[0] as { id: string; params: { _meta: { progressToken: string } } };
    expect(sent.params._meta.progressToken).toBe(sent.id);
    for (let i = 1; i <= 3; i++) {
      await vi.advanceTimersByTimeAsync(900);
      await h.serverSide.send({
        jsonrpc: '2.0',
        method: 'notifications/progress',
        params: { progressToken: sent.id, progress: i, total: 3 },
      });
    }
    await h.serverSide.send({ jsonrpc: '2.0', id: sent.id, result: { content: [] } });
    expect(await pending).toEqual({ content: [] });
    expect(seen).toEqual([1, 2, 3].map((progress) => ({ progress, total: 3 })));
    // The relayed notifications were the request's own, not the SDK client's.
    expect(h.passedOn).toEqual([]);
  });

  it('cancels on abort and rejects with the abort reason', async () => {
    const h = await harness();
    const controller = new AbortController();
    const pending = h.direct.request(
      'tools/call',
      { name: 'slow' },
      { signal: controller.signal, timeoutMs: 1000 },
    );
    await tick();
    controller.abort(new Error('caller went away'));
    await expect(pending).rejects.toThrow('caller went away');
    await tick();
    expect(h.atServer[1]).toMatchObject({ method: 'notifications/cancelled' });
  });

  it('fails every pending request when the connection closes', async () => {
    const h = await harness();
    let closed = false;
    h.direct.onclose = () => (closed = true);
    const pending = h.direct.request('tools/call', { name: 'x' }, { timeoutMs: 1000 });
    await h.serverSide.close();
    await expect(pending).rejects.toMatchObject({ code: -32000 });
    expect(closed).toBe(true);
  });
});
