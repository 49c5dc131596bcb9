// Seeded uniform test data for the benchmarks: n values in [-scale, scale) from a 32-bit LCG, the same
// numbers on every run and for every engine.
export function random(n: number, seed: number, scale: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s >>> 8) / 2 ** 23 - 1) * scale;
  }
  return out;
}
