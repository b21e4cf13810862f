import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startHttpUpstream, type HttpUpstream } from '../../../src/transport/http-upstream.js';
import { openRawSession, rawRequest, sessionHeaders } from '../../helpers/raw-http.js';

const IDLE_MS = 60_000;

describe('HTTP upstream sessions', () => {
  let upstream: HttpUpstream | undefined;
  afterEach(async () => {
    await upstream?.close();
    vi.useRealTimers();
  });

  it('closes a session idle past the timeout, but not one whose GET stream is open', async () => {
    // Only the sweeper's interval is faked; sockets and the SDK run on real time.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    let now = 1_000_000;
    upstream = await startHttpUpstream({
      host: '127.0.0.1',
      port: 0,
      maxMessageBytes: 65536,
      sessionIdleMs: IDLE_MS,
      clock: () => now,
      authenticate: async () => ({ ok: true, principal: {} }),
      openSession: async (transport) => {
        await new Server({ name: 's', version: '0' }, { capabilities: {} }).connect(transport);
      },
    });
    const url = upstream.url;
    const idle = sessionHeaders(await openRawSession(url));
    const listening = sessionHeaders(await openRawSession(url));
    const controller = new AbortController();
    const stream = await rawRequest(url, { method: 'GET', headers: listening, signal: controller.signal });
    expect(stream.status).toBe(200);
    expect(upstream.sessions).toBe(2);

    now += IDLE_MS + 1;
    vi.advanceTimersByTime(IDLE_MS);
    await vi.waitFor(() => expect(upstream?.sessions).toBe(1));
    const ping = (id: number) => JSON.stringify({ jsonrpc: '2.0', id, method: 'ping' });
    const gone = await rawRequest(url, { headers: idle, body: ping(2) });
    expect(gone.status).toBe(404);
    const alive = await rawRequest(url, { headers: listening, body: ping(3) });
    expect(alive.status).toBe(200);
    expect(await alive.text()).toContain('"id":3');

    // Once its stream ends, the session is idle from then on.
    controller.abort();
    await stream.text();
    await vi.waitFor(async () => {
      now += IDLE_MS + 1;
      vi.advanceTimersByTime(IDLE_MS);
      expect(upstream?.sessions).toBe(0);
    });
  });
});
