import { PassThrough } from 'node:stream';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { LineStdioServerTransport } from '../../../src/transport/stdio-upstream.js';

/** A transport on in-memory streams, with helpers to write raw bytes and read answers. */
async function harness(maxMessageBytes = 1024, start = true) {
  const input = new PassThrough();
  const output = new PassThrough();
  const transport = new LineStdioServerTransport({ input, output, maxMessageBytes });
  const received: JSONRPCMessage[] = [];
  transport.onmessage = (m) => received.push(m);
  if (start) await transport.start(); // else an SDK Server's connect starts it
  const lines = createInterface({ input: output })[Symbol.asyncIterator]();
  const answer = async () =>
    JSON.parse((await lines.next()).value as string) as {
      id: unknown;
      error: { code: number; message: string };
    };
  return { input, transport, received, answer };
}

const ping = (id: number) => `${JSON.stringify({ jsonrpc: '2.0', id, method: 'ping' })}\n`;

describe('stdio upstream transport', () => {
  it('answers invalid JSON with -32700 and keeps reading', async () => {
    const h = await harness();
    h.input.write('{"jsonrpc":\n');
    expect(await h.answer()).toMatchObject({ id: null, error: { code: -32700 } });
    h.input.write(ping(2));
    await new Promise((r) => setImmediate(r));
    expect(h.received).toEqual([{ jsonrpc: '2.0', id: 2, method: 'ping' }]);
  });

  it('answers invalid UTF-8 with -32700', async () => {
    const h = await harness();
    h.input.write(Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]));
    expect(await h.answer()).toMatchObject({
      id: null,
      error: { code: -32700, message: 'Parse error: invalid UTF-8' },
    });
  });

  it('answers a JSON value that is not JSON-RPC with -32600, echoing its id', async () => {
    const h = await harness();
    h.input.write('{"id":7,"hello":"world"}\n');
    expect(await h.answer()).toMatchObject({ id: 7, error: { code: -32600 } });
  });

  it('refuses an oversized line without buffering it, then keeps serving', async () => {
    const h = await harness(1024);
    // Sent in pieces, as a pipe delivers it: the transport must not hold more than the limit.
    for (let i = 0; i < 8; i++) h.input.write('x'.repeat(1000));
    h.input.write('\n');
    expect(await h.answer()).toMatchObject({
      id: null,
      error: { code: -32600, message: expect.stringMatching(/too large/) },
    });
    h.input.write(ping(3));
    await new Promise((r) => setImmediate(r));
    expect(h.received).toEqual([{ jsonrpc: '2.0', id: 3, method: 'ping' }]);
  });

  it('accepts CRLF line endings and closes when input ends', async () => {
    const h = await harness();
    let closed = false;
    h.transport.onclose = () => (closed = true);
    h.input.end(ping(4).replace('\n', '\r\n'));
    await new Promise((r) => setImmediate(r));
    expect(h.received).toEqual([{ jsonrpc: '2.0', id: 4, method: 'ping' }]);
    expect(closed).toBe(true);
  });

  it('serves plain tools/call through the direct handler, and everything else through the SDK', async () => {
    const h = await harness();
    const seen: unknown[] = [];
    h.transport.toolCalls = async (params) => {
      seen.push(params);
      return { content: [{ type: 'text', text: 'ok' }] };
    };
    h.input.write(
      `${JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'a__b', arguments: { x: 1 } } })}\n`,
    );
    expect(await h.answer()).toEqual({
      jsonrpc: '2.0',
      id: 5,
      result: { content: [{ type: 'text', text: 'ok' }] },
    });
    expect(seen).toEqual([{ name: 'a__b', arguments: { x: 1 } }]);
    // A call that asks for progress needs the SDK's progress relay.
    const withProgress = {
      jsonrpc: '2.0',
      id: 6,
      method: 'tools/call',
      params: { name: 'a__b', _meta: { progressToken: 1 } },
    };
    h.input.write(`${JSON.stringify(withProgress)}\n`);
    h.input.write(ping(7));
    await new Promise((r) => setImmediate(r));
    expect(h.received).toEqual([withProgress, { jsonrpc: '2.0', id: 7, method: 'ping' }]);
  });

  it('answers tools/call params of the wrong shape with -32602 and maps handler errors', async () => {
    const h = await harness();
    h.transport.toolCalls = async () => {
      throw Object.assign(new Error('boom'), { code: -32001 });
    };
    h.input.write(
      `${JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 3 } })}\n`,
    );
    expect(await h.answer()).toMatchObject({ id: 8, error: { code: -32602 } });
    h.input.write(
      `${JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'x', arguments: [] } })}\n`,
    );
    expect(await h.answer()).toMatchObject({ id: 9, error: { code: -32602 } });
    h.input.write(
      `${JSON.stringify({ jsonrpc: '2.0', id: 10, method: 'tools/call', params: { name: 'x' } })}\n`,
    );
    expect(await h.answer()).toMatchObject({ id: 10, error: { code: -32001, message: 'boom' } });
  });

  it('aborts a direct call on notifications/cancelled and sends no answer for it', async () => {
    const h = await harness();
    let signal: AbortSignal | undefined;
    h.transport.toolCalls = (_params, s) => {
      signal = s;
      return new Promise((resolve) => s.addEventListener('abort', () => resolve({ content: [] })));
    };
    h.input.write(
      `${JSON.stringify({ jsonrpc: '2.0', id: 11, method: 'tools/call', params: { name: 'x' } })}\n`,
    );
    h.input.write(
      `${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 11 } })}\n`,
    );
    h.input.write(ping(12));
    await new Promise((r) => setImmediate(r));
    expect(signal?.aborted).toBe(true);
    // The cancellation was consumed; the next thing the SDK sees is the ping.
    expect(h.received).toEqual([{ jsonrpc: '2.0', id: 12, method: 'ping' }]);
    // And nothing was written for request 11 (MCP: a cancelled request gets no response).
    const quiet = new Promise((r) => setTimeout(() => r('no answer'), 50));
    expect(await Promise.race([h.answer(), quiet])).toBe('no answer');
  });

  it('refuses a tools/call that reuses the id of one in flight, and still answers the first', async () => {
    const h = await harness();
    const calls: ((value: { content: [] }) => void)[] = [];
    h.transport.toolCalls = () => new Promise((resolve) => calls.push(resolve));
    const call = `${JSON.stringify({ jsonrpc: '2.0', id: 13, method: 'tools/call', params: { name: 'x' } })}\n`;
    h.input.write(call);
    h.input.write(call);
    expect(await h.answer()).toEqual({
      jsonrpc: '2.0',
      id: 13,
      error: { code: -32600, message: 'Invalid Request: request id 13 is already in flight' },
    });
    expect(calls).toHaveLength(1);
    calls[0]!({ content: [] });
    expect(await h.answer()).toEqual({ jsonrpc: '2.0', id: 13, result: { content: [] } });
    // Answered, the id is free again.
    h.input.write(call);
    await new Promise((r) => setImmediate(r));
    expect(calls).toHaveLength(2);
  });

  it('refuses a duplicate id on the SDK path until the SDK answers, and frees ids of cancelled requests', async () => {
    const h = await harness();
    h.input.write(ping(14));
    h.input.write(ping(14));
    expect(await h.answer()).toMatchObject({
      id: 14,
      error: { code: -32600, message: /14 is already in flight/ },
    });
    expect(h.received).toEqual([{ jsonrpc: '2.0', id: 14, method: 'ping' }]);
    // An invalid message echoing the id is answered without freeing the valid request's id.
    h.input.write('{"id":14,"hello":"world"}\n');
    expect(await h.answer()).toMatchObject({ id: 14, error: { code: -32600, message: /not a JSON-RPC/ } });
    h.input.write(ping(14));
    expect(await h.answer()).toMatchObject({ id: 14, error: { message: /already in flight/ } });
    await h.transport.send({ jsonrpc: '2.0', id: 14, result: {} });
    expect(await h.answer()).toEqual({ jsonrpc: '2.0', id: 14, result: {} });
    h.input.write(ping(14));
    h.input.write(
      `${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 14 } })}\n`,
    );
    h.input.write(ping(14));
    await new Promise((r) => setImmediate(r));
    expect(h.received.filter((m) => 'id' in m && m.id === 14)).toHaveLength(3);
  });

  it("answers a request the SDK's schemas refuse, even one nested too deeply to serialize", async () => {
    const h = await harness(1024 * 1024, false);
    await new Server({ name: 's', version: '0' }, { capabilities: { tools: {} } }).connect(h.transport);
    // A progress token must be a string or a number; arguments 20,000 levels deep.
    const deep = `${'['.repeat(20_000)}1${']'.repeat(20_000)}`;
    h.input.write(
      `{"jsonrpc":"2.0","id":15,"method":"tools/call","params":{"name":"x","arguments":{"d":${deep}},"_meta":{"progressToken":{}}}}\n`,
    );
    expect(await h.answer()).toEqual({
      jsonrpc: '2.0',
      id: 15,
      error: { code: -32600, message: 'Invalid Request: not a valid MCP message' },
    });
    h.input.write(ping(16));
    expect(await h.answer()).toEqual({ jsonrpc: '2.0', id: 16, result: {} });
  });

  it('answers -32603 and keeps serving when a message handler throws', async () => {
    const h = await harness();
    h.transport.onmessage = (m) => {
      if ('id' in m && m.id === 17) throw new Error('handler bug');
    };
    h.input.write(ping(17));
    expect(await h.answer()).toEqual({
      jsonrpc: '2.0',
      id: 17,
      error: { code: -32603, message: 'Internal error' },
    });
  });
});
