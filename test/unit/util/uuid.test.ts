import { describe, expect, it } from 'vitest';
import { randomUUIDv7 } from '../../../src/util/uuid.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** The 48-bit millisecond timestamp an id starts with (RFC 9562 §5.7). */
const millis = (id: string) => parseInt(id.replace(/-/g, '').slice(0, 12), 16);

describe('UUIDv7', () => {
  // Ids are monotonic within the process: each test runs later than anything before it.
  let now = Date.now() + 1000;

  it('has the version 7 and variant bits, and the time it was made in its first 48 bits', () => {
    for (let i = 0; i < 1000; i++) {
      now += 1 + (i % 7) * 2 ** 20;
      const id = randomUUIDv7(now);
      expect(id).toMatch(UUID_V7);
      expect(millis(id)).toBe(now);
    }
  });

  it('sorts in creation order within one millisecond, moving to the next one when the counter runs out', () => {
    now += 1;
    const ids = Array.from({ length: 5000 }, () => randomUUIDv7(now));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(millis(ids[0]!)).toBe(now);
    expect(millis(ids[4095]!)).toBe(now);
    expect(millis(ids[4096]!)).toBe(now + 1);
    // A clock that goes back keeps the order too.
    expect(randomUUIDv7(now - 10) > ids.at(-1)!).toBe(true);
  });

  it('draws fresh randomness for every id', () => {
    const tails = new Set<string>();
    for (let i = 0; i < 20_000; i++) tails.add(randomUUIDv7().slice(19));
    expect(tails.size).toBe(20_000);
  });
});
