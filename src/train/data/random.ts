// Seeded randomness for pretraining data: the mulberry32 generator, integer and shuffle helpers that consume
// it the way Python's `random` is used in create_pretraining_data.py (randint inclusive, Fisher–Yates from
// the end), and seed mixing so an epoch's or a batch's stream can be derived without replaying earlier ones.
// Pure, no Node imports.

/** A uniform number in [0, 1). */
export type Rng = () => number;

/** mulberry32: a small, fast 32-bit seeded generator (same as test/helpers/random.ts). */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seeded standard normals (mulberry32 + Box–Muller), for reproducible weight initialization. */
export function normals(seed: number): Rng {
  const u = mulberry32(seed);
  return () => Math.sqrt(-2 * Math.log(Math.max(u(), 1e-12))) * Math.cos(2 * Math.PI * u());
}

/** A 32-bit seed from several integers (murmur3 finalizer over each part), e.g. (seed, epoch). */
export function deriveSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h ^= Math.imul((p | 0) ^ Math.floor(p / 4294967296), 0xcc9e2d51);
    h = Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** A uniform integer in [lo, hi], both inclusive (Python's `random.randint`). */
export function randInt(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

/** Shuffles in place, Fisher–Yates from the end (as Python's `random.shuffle`); returns the array. */
export function shuffleInPlace<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = items[i];
    items[i] = items[j];
    items[j] = t;
  }
  return items;
}

/** Python 3's `round` for the non-negative values used here: halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}
