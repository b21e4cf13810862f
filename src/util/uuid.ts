import { randomBytes } from 'node:crypto';

/** Entropy drawn in blocks: one system call per 512 ids instead of one per id. */
const POOL_SIZE = 4096;
/** Random bytes an id takes: 62 random bits of `rand_b` (RFC 9562 §5.7) in bytes 8 to 15. */
const RANDOM_BYTES = 8;
let pool = randomBytes(POOL_SIZE);
let poolOffset = 0;

let lastMs = 0;
let counter = 0;

const HEX = Buffer.from('0123456789abcdef', 'latin1');
/** The id's text is assembled here and read out as one string (an id is made for every record). */
const text = Buffer.alloc(36);
/** The 16 bytes of the id, before they are written as hex. */
const bytes = new Uint8Array(16);

/**
 * A UUIDv7 (RFC 9562 §5.7): 48-bit Unix milliseconds, then randomness. Ids made in the same
 * millisecond by this process still sort in creation order, via a 12-bit counter in `rand_a`.
 */
export function randomUUIDv7(now = Date.now()): string {
  if (now <= lastMs) {
    counter = (counter + 1) & 0xfff;
    if (counter === 0) lastMs += 1;
    now = lastMs;
  } else {
    lastMs = now;
    counter = 0;
  }
  if (poolOffset + RANDOM_BYTES > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    poolOffset = 0;
  }
  // unix_ts_ms, big-endian: the upper 16 bits by division (bit operators are 32-bit).
  const high = Math.floor(now / 2 ** 32);
  bytes[0] = high >>> 8;
  bytes[1] = high;
  bytes[2] = now >>> 24;
  bytes[3] = now >>> 16;
  bytes[4] = now >>> 8;
  bytes[5] = now;
  bytes[6] = 0x70 | (counter >> 8); // version 7, then rand_a: the counter
  bytes[7] = counter;
  bytes[8] = 0x80 | (pool[poolOffset]! & 0x3f); // variant 10
  for (let i = 9; i < 16; i++) bytes[i] = pool[poolOffset + i - 8]!;
  poolOffset += RANDOM_BYTES;
  let at = 0;
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) text[at++] = 0x2d; // '-'
    text[at++] = HEX[bytes[i]! >> 4]!;
    text[at++] = HEX[bytes[i]! & 0x0f]!;
  }
  return text.toString('latin1', 0, 36);
}
