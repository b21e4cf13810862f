import { describe, expect, it } from 'vitest';
import { cancelledId, InFlightIds, requestIds, responseId } from '../../../src/transport/request-ids.js';

describe('request ids in flight', () => {
  it('refuses an id in flight or repeated in one batch, claiming none of the batch', () => {
    const ids = new InFlightIds();
    expect(ids.claim([1, 'a']).ok).toBe(true);
    expect(ids.claim([2, 1])).toEqual({ ok: false, id: 1 });
    expect(ids.claim([3, 3])).toEqual({ ok: false, id: 3 });
    expect(ids.size).toBe(2);
    // 1 and "1" are different ids.
    expect(ids.claim(['1']).ok).toBe(true);
  });

  it('frees ids of requests that never reached a handler, and keeps delivered ones until answered', () => {
    const ids = new InFlightIds();
    const batch = ids.claim([1, 2]);
    if (!batch.ok) throw new Error('claim refused');
    ids.delivered(1);
    ids.release(batch.claim);
    expect(ids.claim([2]).ok).toBe(true);
    expect(ids.claim([1]).ok).toBe(false);
    ids.settled(1);
    expect(ids.claim([1]).ok).toBe(true);
  });

  it('does not let a finished batch free an id a later batch has claimed', () => {
    const ids = new InFlightIds();
    const first = ids.claim([5]);
    if (!first.ok) throw new Error('claim refused');
    ids.delivered(5);
    ids.settled(5); // answered before its HTTP request finished
    const second = ids.claim([5]);
    expect(second.ok).toBe(true);
    ids.release(first.claim);
    expect(ids.claim([5]).ok).toBe(false);
  });

  it('reads request ids, cancellations and answers from messages', () => {
    expect(
      requestIds([
        { jsonrpc: '2.0', id: 1, method: 'ping' },
        { jsonrpc: '2.0', method: 'notifications/initialized' },
        { jsonrpc: '2.0', id: 2, result: {} },
        { jsonrpc: '2.0', id: null, method: 'ping' },
        'junk',
      ]),
    ).toEqual([1]);
    expect(requestIds({ jsonrpc: '2.0', id: 'x', method: 'tools/call' })).toEqual(['x']);
    expect(cancelledId({ method: 'notifications/cancelled', params: { requestId: 4 } })).toBe(4);
    expect(cancelledId({ method: 'notifications/cancelled', params: { requestId: {} } })).toBeUndefined();
    expect(responseId({ jsonrpc: '2.0', id: 3, error: { code: 1, message: 'x' } })).toBe(3);
    expect(responseId({ jsonrpc: '2.0', id: 3, method: 'ping' })).toBeUndefined();
  });
});
