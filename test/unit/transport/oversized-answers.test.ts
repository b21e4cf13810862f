import { describe, expect, it } from 'vitest';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { answerError, ResultRefusedError } from '../../../src/transport/errors.js';
import { LineReader, type LineProblem } from '../../../src/transport/jsonrpc-lines.js';
import { recoverId } from '../../../src/transport/stdio-client.js';

const huge = (text: string) => 'x'.repeat(10_000) + text;

describe('answers too large to read', () => {
  it('keeps the first and last bytes of an oversized line, however it arrives in chunks', () => {
    const problems: LineProblem[] = [];
    const messages: JSONRPCMessage[] = [];
    const reader = new LineReader({
      maxMessageBytes: 1000,
      edges: 32,
      onMessage: (m) => messages.push(m),
      onProblem: (p) => problems.push(p),
    });
    const line = `{"result":{"content":[{"type":"text","text":"${'y'.repeat(5000)}"}]},"jsonrpc":"2.0","id":"mcpgov-7"}\n`;
    for (let i = 0; i < line.length; i += 700) reader.push(Buffer.from(line.slice(i, i + 700)));
    reader.push(Buffer.from('{"jsonrpc":"2.0","id":1,"result":{}}\n'));
    expect(problems).toHaveLength(1);
    expect(problems[0]?.edges).toEqual({ head: line.slice(0, 32), tail: line.slice(-33, -1) });
    expect(messages).toEqual([{ jsonrpc: '2.0', id: 1, result: {} }]);
  });

  it('finds the id of an answer at its end (the TypeScript SDK) or its start (other SDKs)', () => {
    expect(recoverId('{"result":{"content":[', huge('"}]},"jsonrpc":"2.0","id":"mcpgov-12"}'))).toBe(
      'mcpgov-12',
    );
    expect(recoverId('{"jsonrpc":"2.0","id":42,"result":{"content":[', huge('"}]}}'))).toBe(42);
    expect(recoverId('{"jsonrpc": "2.0", "id": 7, "error": {"code": 1, "message": "', huge('"}}'))).toBe(7);
  });

  it('finds no id in a request of the server (its ids are its own) or in a line it cannot read', () => {
    expect(
      recoverId('{"method":"sampling/createMessage","params":{', huge('},"jsonrpc":"2.0","id":3}')),
    ).toBe(undefined);
    expect(recoverId('{"result":"', huge('more text without an envelope'))).toBe(undefined);
  });

  it('turns the framing’s refusal into a ResultRefusedError, and any other error answer into an McpError', () => {
    const refused = answerError({
      code: -32600,
      message: 'too large',
      data: { 'mcpgov/refused': 'result_too_large' },
    });
    expect(refused).toBeInstanceOf(ResultRefusedError);
    expect(refused).toMatchObject({ reason: 'result_too_large', message: 'too large' });
    const other = answerError({ code: -32602, message: 'bad params' });
    expect(other).not.toBeInstanceOf(ResultRefusedError);
    expect(other).toMatchObject({ code: -32602 });
  });
});
