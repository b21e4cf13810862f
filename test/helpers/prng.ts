/** A seeded pseudo-random generator (mulberry32): the same seed gives the same sequence on every run. */
export interface Prng {
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** One of the items. */
  pick<T>(items: readonly T[]): T;
  /** True with probability p. */
  chance(p: number): boolean;
}

/** A generator from a 32-bit seed. */
export function prng(seed: number): Prng {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    seed,
    next,
    int,
    pick: (items) => items[int(items.length)]!,
    chance: (p) => next() < p,
  };
}

/** The seed for a seeded test: `MCPGOV_SEED` when set (to replay a failure), else a fixed default. */
export function testSeed(fallback: number): number {
  const env = process.env['MCPGOV_SEED'];
  return env === undefined ? fallback : Number(env) >>> 0;
}

/** Strings that exercise JSON escaping and UTF-8: controls, quotes, astral characters, U+2028. */
const TEXT_PIECES = ['a', 'Zz', ' ', '"', '\\', '\n', '\u0000', '\u001f', 'é', '€', '\u2028', '😀', '𝄞', '/'];

/** A random well-formed string. */
export function randomText(rng: Prng, maxPieces = 8): string {
  let s = '';
  for (let i = rng.int(maxPieces + 1); i > 0; i--) s += rng.pick(TEXT_PIECES);
  return s;
}

/** A random JSON value (as JSON.parse makes them), nested at most `depth` levels. */
export function randomJson(rng: Prng, depth = 4): unknown {
  const kind = depth <= 0 ? rng.int(4) : rng.int(6);
  switch (kind) {
    case 0:
      return randomText(rng);
    case 1:
      return rng.pick([0, -0, 1, -1, 0.5, 1e21, 1e-7, 123456789.125, Number.MAX_SAFE_INTEGER, -2.5e-300]);
    case 2:
      return rng.chance(0.5);
    case 3:
      return null;
    case 4:
      return Array.from({ length: rng.int(4) }, () => randomJson(rng, depth - 1));
    default: {
      const out: Record<string, unknown> = {};
      for (let i = rng.int(4); i > 0; i--) out[randomText(rng, 3)] = randomJson(rng, depth - 1);
      return out;
    }
  }
}
