/**
 * Hostile MCP input for the seeded fuzz test: malformed JSON, wrong types, huge, deep and
 * unicode-broken payloads, unknown methods, batches, id collisions, header abuse and partial bodies.
 * Every generator draws from one seeded PRNG, so a seed replays the same messages.
 */
import { randomJson, randomText, type Prng } from './prng.js';

/** Tools the fuzz gateway registers (everything else on the server is hidden). */
export const FUZZ_TOOLS = [
  'everything__echo',
  'everything__get-sum',
  'everything__get-tiny-image',
  'everything__get-structured-content',
  'everything__trigger-long-running-operation',
];

/** The limits the fuzz gateway runs with, small enough that the fuzz passes each of them. */
export const FUZZ_LIMITS = {
  max_message_bytes: 64 * 1024,
  max_argument_bytes: 16 * 1024,
  max_argument_depth: 32,
  max_result_bytes: 8 * 1024,
  max_concurrent_calls_per_session: 8,
  max_concurrent_calls_per_agent: 24,
  max_sessions: 40,
  max_sessions_per_caller: 30,
};

const json = (value: unknown) => JSON.stringify(value);

/** A JSON-RPC id, sometimes one likely to collide. */
function anId(rng: Prng): unknown {
  return rng.pick([rng.int(5), rng.int(1e6), `s${rng.int(5)}`, 0, -1, 1.5, '', 'x'.repeat(300), 2 ** 53]);
}

/** Arguments (JSON text) that pass a limit or break a rule, or plain random ones. */
function hostileArguments(rng: Prng): string {
  switch (rng.int(9)) {
    case 0: {
      // Deeper than the depth limit; sometimes far deeper than any recursive walker survives.
      const depth = rng.pick([33, 600, 20_000]);
      return `{"d":${'['.repeat(depth)}1${']'.repeat(depth)}}`;
    }
    case 1:
      // Past max_result_bytes once echoed, past max_argument_bytes, past max_message_bytes.
      return json({ message: 'x'.repeat(rng.pick([100, 10_000, 20_000, 60_000])) });
    case 2:
      return '{"message":"\\ud800 lone","k\\udc00":1}'; // not well-formed Unicode
    case 3:
      return json(rng.pick([[], 'string', 5, null, true])); // not an object at all
    case 4:
      return json({ a: rng.int(1e6), b: rng.pick([1e308, -1e308, 0.1]) });
    case 5:
      return `{"message":${json(randomText(rng, 40))},"__proto__":{"polluted":true},"constructor":{"prototype":1}}`;
    case 6:
      return json({ duration: rng.pick([0.05, 0.2, 1e9, -1, 'x']), steps: rng.pick([1, 0, 2, -5]) });
    default:
      return json({ message: randomText(rng), extra: randomJson(rng, 3) });
  }
}

/** A `tools/call` request (JSON text) with a hostile name, arguments or `_meta`. */
function toolCall(rng: Prng, id: unknown = anId(rng)): string {
  const name = rng.pick([
    // The long-running tool only through longCall: its default run is 10 s.
    ...FUZZ_TOOLS.filter((t) => !t.includes('long-running')),
    'everything__get-env',
    'nope__nothing',
    '',
    '__proto__',
    'constructor',
    'everything__\ud800',
    'x'.repeat(5000),
    'mcpgov__declare_intent',
  ]);
  const meta = rng.chance(0.2)
    ? `,"_meta":${json(
        rng.pick([
          { progressToken: rng.pick([1, 'p', {}, null]) },
          { 'mcpgov/intent': rng.pick(['x'.repeat(5000), '\ud800', 5, `${'a'.repeat(1999)}😀`]) },
          'not an object',
        ]),
      )}`
    : '';
  return `{"jsonrpc":"2.0","id":${json(id)},"method":"tools/call","params":{"name":${json(name)},"arguments":${hostileArguments(rng)}${meta}}}`;
}

/** A message with one envelope member of the wrong type or value. */
function wrongTypes(rng: Prng): string {
  const message: Record<string, unknown> = { jsonrpc: '2.0', id: anId(rng), method: 'ping', params: {} };
  const member = rng.pick(['jsonrpc', 'id', 'method', 'params', 'result', 'error']);
  message[member] = rng.pick([null, 5, 'x', [], {}, true, 1.5, { code: 'x' }, [1, 2]]);
  if (rng.chance(0.3)) delete message[rng.pick(['jsonrpc', 'id', 'method'])];
  return json(message);
}

/** A request for a method the gateway does not have, or one it has with hostile params. */
function oddMethod(rng: Prng): string {
  const method = rng.pick([
    'tools/calls',
    'rpc.discover',
    '__proto__',
    'constructor',
    'toString',
    'sampling/createMessage',
    'completion/complete',
    'logging/setLevel',
    'resources/read',
    'resources/subscribe',
    'prompts/get',
    'tools/list',
    'initialize',
    'x'.repeat(2000),
  ]);
  return json({ jsonrpc: '2.0', id: anId(rng), method, params: rng.chance(0.7) ? randomJson(rng, 2) : {} });
}

/** A notification or a response the client sends unasked. */
function unasked(rng: Prng): string {
  return json(
    rng.pick([
      // Ids no fuzz request uses: a cancelled request is never answered (MCP cancellation), so
      // cancelling another case's request would leave that case waiting for good.
      {
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: rng.pick([-7, 'never-sent', 1e15, {}]), reason: 'x' },
      },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 1, progress: 5 } },
      { jsonrpc: '2.0', method: 'notifications/roots/list_changed' },
      { jsonrpc: '2.0', id: anId(rng), result: {} },
      { jsonrpc: '2.0', id: anId(rng), error: { code: -1, message: 'client error' } },
    ]),
  );
}

/** Text that is not JSON, or not valid UTF-8. */
function malformed(rng: Prng): Buffer {
  const valid = toolCall(rng);
  return rng.pick([
    Buffer.from(valid.slice(0, rng.int(valid.length))), // truncated
    Buffer.from('{"jsonrpc":"2.0",}'),
    Buffer.from('nul'),
    Buffer.from('   '),
    Buffer.from(`\ufeff${json({ jsonrpc: '2.0', id: 1, method: 'ping' })}`), // byte order mark
    Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), // invalid UTF-8
    Buffer.from([0xc3, 0x28, 0xa0, 0xa1]),
    Buffer.from(Array.from({ length: 64 }, () => rng.int(256))),
    Buffer.from('[{"jsonrpc":"2.0","id":1,"method":"ping"},'),
    Buffer.from('"just a string"'),
    Buffer.from('1e999999'),
  ]);
}

/** A message or a batch, as one JSON body (or line), any of the kinds above. */
export function hostileBody(rng: Prng): { kind: string; body: Buffer } {
  const kind = rng.pick([
    'tool-call',
    'tool-call',
    'tool-call',
    'wrong-types',
    'odd-method',
    'unasked',
    'malformed',
    'batch',
    'valid',
  ]);
  const text = (t: string) => ({ kind, body: Buffer.from(t) });
  switch (kind) {
    case 'tool-call':
      return text(toolCall(rng));
    case 'wrong-types':
      return text(wrongTypes(rng));
    case 'odd-method':
      return text(oddMethod(rng));
    case 'unasked':
      return text(unasked(rng));
    case 'malformed':
      return { kind, body: malformed(rng) };
    case 'batch': {
      const size = rng.pick([0, 1, 2, 5, 101]);
      const id = anId(rng);
      const items = Array.from({ length: size }, () =>
        rng.pick([
          () => toolCall(rng, id), // repeated ids inside one batch
          () => wrongTypes(rng),
          () => unasked(rng),
          () => json({ jsonrpc: '2.0', id: rng.int(1e9), method: 'ping' }),
          () => '[1,[2]]',
        ])(),
      );
      return text(`[${items.join(',')}]`);
    }
    default:
      return text(valid(rng));
  }
}

/** An ordinary request with a fresh id: a tools/list or a call of a registered tool. */
export function valid(rng: Prng, id: string = `v${rng.int(1e9)}`): string {
  if (rng.chance(0.3)) return json({ jsonrpc: '2.0', id, method: 'tools/list' });
  return json({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: 'everything__echo', arguments: { message: randomText(rng, 20) } },
  });
}

/** A long call (about `seconds`) under a given id, for id collisions with a request in flight. */
export function longCall(id: unknown, seconds: number): string {
  return json({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: {
      name: 'everything__trigger-long-running-operation',
      arguments: { duration: seconds, steps: 1 },
    },
  });
}

/** A body over the message limit. */
export function oversized(rng: Prng): Buffer {
  const size = FUZZ_LIMITS.max_message_bytes + 1 + rng.int(64 * 1024);
  return Buffer.from(
    json({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'x', arguments: { m: 'y'.repeat(size) } },
    }),
  );
}

/**
 * Whether a value is a JSON-RPC 2.0 message a server may send: a response (result, or an error with
 * an integer code and a string message) with an id or null, or a request or notification of its own.
 */
export function isServerMessage(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const m = value as Record<string, unknown>;
  if (m['jsonrpc'] !== '2.0') return false;
  const id = m['id'];
  const idOk = typeof id === 'string' || typeof id === 'number';
  if (typeof m['method'] === 'string') return id === undefined || idOk;
  if ('result' in m)
    return idOk && typeof m['result'] === 'object' && m['result'] !== null && !('error' in m);
  const error = m['error'] as Record<string, unknown> | undefined;
  return (
    (idOk || id === null) &&
    typeof error === 'object' &&
    error !== null &&
    Number.isInteger(error['code']) &&
    typeof error['message'] === 'string'
  );
}
