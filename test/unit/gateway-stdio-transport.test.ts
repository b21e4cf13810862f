import { PassThrough } from 'node:stream';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { LineStdioServerTransport } from '../../mcp-gateway/stdio-upstream.js';

/** A transport on in-memory streams, with helpers to write raw bytes and read answers. */
async function harness(maxMessageBytes = 1024) {
  const input = new PassThrough();
  const output = new PassThrough();
  const transport = new LineStdioServerTransport({ input, output, maxMessageBytes });
  const received: JSONRPCMessage[] = [];
  transport.onmessage = (m) => received.push(m);
  await transport.start();
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
});
