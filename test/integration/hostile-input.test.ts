/**
 * Seeded fuzz of the real gateway (a `mcpgov gateway` process over server-everything) with hostile
 * input on both listeners: Streamable HTTP and stdio. Replay a failure with MCPGOV_SEED=<seed>.
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, describe, expect, it } from 'vitest';
import { readEvidence } from '../../src/evidence/jsonl-store.js';
import { CLI, REFERENCE_SERVERS, REPO, writeFixture, type Fixture } from '../helpers/fixture.js';
import {
  FUZZ_LIMITS,
  FUZZ_TOOLS,
  hostileBody,
  isServerMessage,
  longCall,
  oversized,
  valid,
} from '../helpers/hostile.js';
import { prng, testSeed, type Prng } from '../helpers/prng.js';
import { INITIALIZE, messagesOf, openRawSession, sessionHeaders } from '../helpers/raw-http.js';

const SEED = testSeed(20_260_909);
/** HTTP cases; a few send two requests (id collisions), so a little more messages. */
const HTTP_CASES = 6000;
const STDIO_MESSAGES = 5000;
const HTTP_WORKERS = 8;
/** Longer than any call the fuzz makes can take (the server's timeout is 3 s). */
const ANSWER_TIMEOUT_MS = 20_000;
/** Growth of the gateway's resident memory over the whole fuzz that counts as bounded. */
const RSS_BOUND_MB = 150;

/** Resident and peak resident memory of a process, in MB (Linux /proc). */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/**
 * The gateway process, serving stdio and HTTP. Its log (stderr) is kept for failure messages, and
 * every error-level line is collected: hostile input must never look like an internal fault.
 */
async function startGateway(fixture: Fixture) {
  const child = spawn(
    process.execPath,
    [
      // An unhandled rejection ends the process (exit code 1) whether or not anything listens for it.
      '--unhandled-rejections=strict',
      CLI,
      'gateway',
      '--config',
      fixture.configFile,
      '--stdio',
      '--http',
      '127.0.0.1:0',
    ],
    { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, MCPGOV_LOG_LEVEL: 'info' } },
  );
  let tail = '';
  const errors: string[] = [];
  const url = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stderr }).on('line', (line) => {
      tail = `${tail}${line}\n`.slice(-32 * 1024);
      if (line.includes('"level":"error"')) errors.push(line);
      const match = /"msg":"serving Streamable HTTP","url":"([^"]+)"/.exec(line);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`gateway exited (${code}) before serving: ${tail}`)));
  });
  return { child, url: await url, stderr: () => tail, errors };
}

/** One HTTP request of a fuzz case. */
interface HttpRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Send half the body, then drop the connection. */
  partial?: boolean;
}

/** One HTTP request as a fuzz case sends it; resolves with what came back, or `aborted` for partial ones. */
function send(
  url: string,
  c: HttpRequest,
): Promise<{ status: number; type: string; body: string; session?: string } | 'aborted' | 'unanswered'> {
  return new Promise((resolve) => {
    const target = new URL(c.path, url);
    const req = request(target, { method: c.method, headers: c.headers }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          type: String(res.headers['content-type'] ?? ''),
          body,
          session: res.headers['mcp-session-id'] as string | undefined,
        }),
      );
      res.on('error', () => resolve('aborted'));
    });
    req.on('error', () => resolve('aborted'));
    // A request left unanswered is a finding, not a reason to hang the test.
    req.setTimeout(ANSWER_TIMEOUT_MS, () => {
      resolve('unanswered');
      req.destroy();
    });
    if (c.partial && c.body) {
      req.setHeader('content-length', String(c.body.length));
      req.write(c.body.subarray(0, c.body.length >> 1), () => setImmediate(() => req.destroy()));
      return;
    }
    req.end(c.body);
  });
}

const POST_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** One HTTP fuzz case: a hostile body on a live session, or abuse of the headers, method or framing. */
function httpCase(rng: Prng, sessions: readonly string[]): { kind: string; requests: HttpRequest[] } {
  const session = sessionHeaders(rng.pick(sessions));
  const post = (body: Buffer, headers: Record<string, string> = session): HttpRequest => ({
    method: 'POST',
    path: '/mcp',
    headers: { ...POST_HEADERS, ...headers },
    body,
  });
  const one = (kind: string, request: HttpRequest) => ({ kind, requests: [request] });
  const roll = rng.int(100);
  if (roll < 62) return one('body', post(hostileBody(rng).body));
  if (roll < 66) return one('no-session', post(hostileBody(rng).body, {}));
  if (roll < 70) {
    const init = rng.chance(0.5)
      ? INITIALIZE
      : INITIALIZE.replace('2025-11-25', rng.pick(['1999-01-01', '']));
    return one('initialize', post(Buffer.from(init), {}));
  }
  if (roll < 82) {
    const [name, value] = rng.pick<[string, string]>([
      ['content-type', rng.pick(['text/plain', 'application/json; charset=latin1', ''])],
      ['accept', rng.pick(['*/*', 'text/html', ''])],
      ['host', rng.pick(['evil.example', 'localhost:1', '127.0.0.1.evil.example'])],
      ['origin', rng.pick(['http://evil.example', 'null', 'http://127.0.0.1.evil.example'])],
      ['mcp-session-id', rng.pick(['bogus', '', 'x'.repeat(2000), '00000000-0000-0000-0000-000000000000'])],
      ['mcp-protocol-version', rng.pick(['1999-01-01', 'x', ''])],
      ['authorization', rng.pick(['Bearer x', 'Basic YTpi', `Bearer ${'a'.repeat(6000)}`])],
      ['x-padding', 'p'.repeat(20_000)], // past Node's header limit: answered by the clientError hook
    ]);
    return one('headers', post(Buffer.from(valid(rng)), { ...session, [name]: value }));
  }
  if (roll < 85) return one('oversized', post(oversized(rng)));
  if (roll < 90) return one('partial', { ...post(hostileBody(rng).body), partial: true });
  if (roll < 95) {
    return one('method', {
      method: rng.pick(['GET', 'DELETE', 'PUT', 'PATCH', 'OPTIONS']),
      path: rng.pick(['/mcp', '/nope', '/mcp/x', '/MCP']),
      headers: rng.chance(0.5) ? { 'mcp-session-id': 'bogus' } : {},
    });
  }
  // The same id twice in one session while the first is in flight: one of them may be refused.
  const id = `c${rng.int(3)}`;
  return {
    kind: 'collision',
    requests: [post(Buffer.from(longCall(id, 0.15))), post(Buffer.from(valid(rng, id)))],
  };
}

/** Whether an answer is the limit on calls in flight (JSON-RPC -32029). */
const isBusy = (message: Record<string, unknown>) =>
  (message['error'] as { code?: unknown } | undefined)?.code === -32029;

/** What is wrong with an HTTP answer, if anything: it must be JSON-RPC, or a bodiless 202 / DELETE. */
function httpProblem(
  c: { method: string },
  res: { status: number; type: string; body: string },
): string | undefined {
  if (res.status >= 500 && res.status !== 503) return `status ${res.status}`;
  if (res.status === 202 || (c.method === 'DELETE' && res.status === 200)) {
    return res.body === '' ? undefined : `status ${res.status} with a body`;
  }
  if (res.body === '') return `status ${res.status} with an empty body`;
  let messages: unknown[];
  try {
    messages = messagesOf(res.body);
  } catch {
    return `status ${res.status}, not JSON: ${res.body.slice(0, 200)}`;
  }
  const bad = messages.find((m) => !isServerMessage(m));
  return messages.length === 0 || bad !== undefined
    ? `status ${res.status}, not JSON-RPC: ${res.body.slice(0, 200)}`
    : undefined;
}

describe('hostile input on every listener (seeded fuzz)', () => {
  let gateway: Awaited<ReturnType<typeof startGateway>> | undefined;
  afterAll(() => {
    if (gateway?.child.exitCode === null) gateway.child.kill('SIGKILL');
  });

  it(`survives over ${HTTP_CASES + STDIO_MESSAGES} hostile messages on HTTP and stdio (seed ${SEED})`, async () => {
    const fixture = await writeFixture({
      config: {
        mode: 'enforce',
        identity: { default_agent: 'dev' },
        limits: FUZZ_LIMITS,
        evidence: { dir: './evidence', fsync: 'batch', checkpoint: { every_records: 500, every_seconds: 5 } },
        servers: {
          everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'], timeout_ms: 3000 },
        },
      },
      tools: {
        tools: FUZZ_TOOLS.map((name) => ({ name, owner: 'platform', risk_tier: 'low' })),
        groups: { all: FUZZ_TOOLS },
      },
      agents: { agents: [{ id: 'dev', owner: 'platform', tool_groups: ['all'] }] },
    });
    gateway = await startGateway(fixture);
    const { child, url } = gateway;
    const pid = child.pid!;
    const failures: string[] = [];
    const fail = (what: string) => failures.length < 10 && failures.push(what);
    const replay = `seed ${SEED} (MCPGOV_SEED=${SEED} replays it)`;

    // stdio: every line the gateway writes must be one JSON-RPC message.
    const waiting = new Map<string, (message: Record<string, unknown>) => void>();
    let stdoutLines = 0;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      stdoutLines += 1;
      let message: unknown;
      try {
        message = JSON.parse(line);
      } catch {
        return void fail(`stdio: not JSON: ${line.slice(0, 200)}`);
      }
      if (!isServerMessage(message)) fail(`stdio: not JSON-RPC: ${line.slice(0, 200)}`);
      const id = (message as { id?: unknown }).id;
      if (typeof id === 'string') waiting.get(id)?.(message as Record<string, unknown>);
    });
    // A crash must fail the test with the gateway's log, not leave it waiting on a dead pipe.
    const exited = new Promise<{ exited: number | null }>((resolve) =>
      child.once('exit', (code) => resolve({ exited: code })),
    );
    const stdin = child.stdin!;
    stdin.on('error', () => {}); // EPIPE once the gateway is gone; its exit is what gets reported
    const write = async (data: Buffer | string) => {
      if (child.exitCode === null && !stdin.write(data)) {
        await Promise.race([new Promise((resolve) => stdin.once('drain', resolve)), exited]);
      }
    };
    const ask = async (id: string, line: string): Promise<Record<string, unknown>> => {
      const answer = new Promise<Record<string, unknown>>((resolve) => waiting.set(id, resolve));
      await write(`${line}\n`);
      return Promise.race([answer, exited]);
    };
    await ask('init', INITIALIZE.replace('"id":1', '"id":"init"'));
    await write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);

    // Warm up on both listeners, then take the baseline.
    const sessions = await Promise.all([1, 2, 3, 4].map(() => openRawSession(url)));
    expect(await ask('warm', valid(prng(SEED), 'warm'))).toHaveProperty('result');
    const before = memory(pid);
    const started = performance.now();

    // HTTP: workers take numbered cases; each case draws from its own seeded generator, so the
    // messages do not depend on how the workers interleave.
    const opened: string[] = [];
    let next = 0;
    let httpSent = 0;
    const statuses = new Map<number | string, number>();
    const worker = async () => {
      for (let i = next++; i < HTTP_CASES; i = next++) {
        const rng = prng((SEED ^ (i * 2_654_435_761)) >>> 0);
        const c = httpCase(rng, sessions);
        httpSent += c.requests.length;
        const results = await Promise.all(c.requests.map((r) => send(url, r)));
        results.forEach((res, k) => {
          const req = c.requests[k]!;
          if (res === 'unanswered')
            return void fail(`http #${i} ${c.kind}: no answer in ${ANSWER_TIMEOUT_MS} ms`);
          if (res === 'aborted') {
            if (!req.partial) fail(`http #${i} ${c.kind}: connection failed`);
            statuses.set('aborted', (statuses.get('aborted') ?? 0) + 1);
            return;
          }
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.session && c.kind !== 'body') opened.push(res.session);
          const problem = httpProblem(req, res);
          if (problem) fail(`http #${i} ${c.kind}: ${problem}`);
        });
        if (child.exitCode !== null) return;
      }
    };
    await Promise.all(Array.from({ length: HTTP_WORKERS }, worker));
    const httpSeconds = (performance.now() - started) / 1000;
    const afterHttp = memory(pid);

    // stdio: one session, hostile lines written as fast as the pipe takes them.
    const stdioStarted = performance.now();
    const rng = prng((SEED + 1) >>> 0);
    for (let i = 0; i < STDIO_MESSAGES && child.exitCode === null; i++) {
      const roll = rng.int(100);
      if (roll < 80) await write(Buffer.concat([hostileBody(rng).body, Buffer.from('\n')]));
      else if (roll < 84) await write(Buffer.concat([oversized(rng), Buffer.from('\n')]));
      else if (roll < 88) await write(rng.pick(['\n', '\r\n', '   \n', '\u0000\n']));
      else if (roll < 94) {
        // One line in pieces, as a pipe may deliver it.
        const line = Buffer.from(`${valid(rng)}\n`);
        const cut = 1 + rng.int(line.length - 1);
        await write(line.subarray(0, cut));
        await write(line.subarray(cut));
      } else {
        // The same id twice while the first is in flight: the second is refused.
        const id = `c${rng.int(3)}`;
        await write(`${longCall(id, 0.2)}\n${valid(rng, id)}\n`);
        i += 1;
      }
    }
    // The next normal call on stdio works, once the flood's calls still in flight have finished
    // (until then it is answered -32029, too many calls in flight: retried as a client would).
    let final = await ask('final-0', valid(prng(SEED), 'final-0'));
    for (let attempt = 1; attempt < 200 && isBusy(final); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      final = await ask(`final-${attempt}`, valid(prng(SEED), `final-${attempt}`));
    }
    const seconds = (performance.now() - started) / 1000;
    const stdioSeconds = (performance.now() - stdioStarted) / 1000;
    expect(child.exitCode, `${replay}: gateway exited\n${gateway.stderr()}`).toBeNull();
    expect(final, `${replay}: ${JSON.stringify(final)}`).toHaveProperty('result');
    const after = memory(pid);

    expect(failures, replay).toEqual([]);
    expect(gateway.errors, `${replay}: error-level log lines`).toEqual([]);
    expect(stdoutLines).toBeGreaterThan(STDIO_MESSAGES / 2);
    expect(httpSent + STDIO_MESSAGES).toBeGreaterThanOrEqual(10_000);

    // The next normal call over HTTP works once the fuzz's sessions are closed (they fill the caps).
    for (const session of new Set(opened)) {
      await send(url, { method: 'DELETE', path: '/mcp', headers: sessionHeaders(session) });
    }
    const client = new Client({ name: 'after-fuzz', version: '0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url)));
    expect((await client.listTools()).tools.map((t) => t.name).sort(), replay).toEqual(
      ['mcpgov__declare_intent', ...FUZZ_TOOLS].sort(),
    );
    expect(
      await client.callTool({ name: 'everything__echo', arguments: { message: 'after' } }),
      replay,
    ).toEqual({
      content: [{ type: 'text', text: 'Echo: after' }],
    });
    await client.close();

    const growth = after.rss - before.rss;
    console.info(
      `hostile-input fuzz (seed ${SEED}): ${httpSent} HTTP messages in ${httpSeconds.toFixed(1)} s, ` +
        `${STDIO_MESSAGES} stdio lines in ${stdioSeconds.toFixed(1)} s, ${seconds.toFixed(1)} s in all; ` +
        `gateway RSS ${before.rss.toFixed(0)} MB before, ${afterHttp.rss.toFixed(0)} MB after HTTP, ` +
        `${after.rss.toFixed(0)} MB after, peak ${after.peak.toFixed(0)} MB; ` +
        `HTTP statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
    expect(growth, `${replay}: RSS grew ${growth.toFixed(0)} MB`).toBeLessThan(RSS_BOUND_MB);

    // A clean shutdown (no crash, no unhandled rejection), and evidence that verifies.
    child.kill('SIGTERM');
    expect(await exited, `${replay}\n${gateway.stderr()}`).toEqual({ exited: 0 });
    const jwks = path.join(fixture.evidenceDir, 'keys/signing-key.jwks.json');
    const verify = await promisify(execFile)(
      process.execPath,
      [CLI, 'evidence', 'verify', fixture.evidenceDir, '--jwks', jwks],
      { cwd: REPO },
    );
    expect(verify.stdout, replay).toMatch(/^ok: /);
    // The fuzz reached every argument and result limit, and each refusal is on record.
    const records = await readEvidence(fixture.evidenceDir);
    const reasons = new Set(
      records.flatMap((r) => [...(r.decision?.reasons.slice(0, 1) ?? []), r.action?.error?.code ?? '']),
    );
    for (const code of [
      'arguments_too_large',
      'arguments_too_deep',
      'arguments_malformed',
      'result_too_large',
      'unknown_tool',
    ]) {
      expect(reasons, replay).toContain(code);
    }
  }, 150_000);
});
