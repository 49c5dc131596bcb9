// quantize_rows_i16 (assembly/quant.ts), the activation pass of the int8 GEMMs, against a host
// reference: per-row scale max|x| / qmax and round-half-to-even of x·qmax/max|x|, exact to the bit on
// odd lengths, ties and sign-less zeros; a row holding NaN or ±∞ gets a non-finite scale (so every
// output of that row is non-finite) while the other rows are unaffected.
import { beforeAll, describe, expect, it } from "vitest";
import type { KernelRuntime } from "../../src/runtime/load.ts";
import { loadRuntime } from "../../src/runtime/node.ts";
import { normal } from "../helpers/random.ts";

let rt: KernelRuntime;
beforeAll(async () => {
  rt = await loadRuntime({ relaxed: false });
});

/** Round half to even in f32 arithmetic, as f32x4.nearest. */
function roundEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function quantize(x: Float32Array, M: number, K: number): { q: Int16Array; s: Float32Array } {
  const { arena, k } = rt;
  const mark = arena.mark();
  const K2 = (K + 1) & ~1;
  const px = arena.put(x);
  const xq = arena.alloc(M * K2 * 2); // [M, K2] i16
  const xs = arena.allocF32(M);
  k.quantize_rows_i16(xq, xs, px, M, K);
  const out = { q: Int16Array.from(arena.i16(xq, M * K2)), s: arena.readF32(xs, M) };
  arena.reset(mark);
  return out;
}

describe("quantize_rows_i16", () => {
  it.each([
    [3, 1],
    [4, 7],
    [2, 8],
    [5, 33],
    [3, 384],
    [2, 1537],
  ])("matches the host reference bit for bit (M=%i, K=%i)", (M, K) => {
    const x = Float32Array.from(normal(M * K, 11 + K), (v, i) => (i % 17 === 0 ? -0 : v));
    const { q, s } = quantize(x, M, K);
    const qmax = rt.k.activation_qmax(K);
    const K2 = (K + 1) & ~1;
    for (let m = 0; m < M; m++) {
      let amax = 0;
      for (let i = 0; i < K; i++) amax = Math.max(amax, Math.abs(x[m * K + i]));
      expect(s[m]).toBe(Math.fround(amax / qmax));
      const inv = amax > 0 ? Math.fround(qmax / amax) : 0;
      for (let i = 0; i < K; i++) expect(q[m * K2 + i]).toBe(roundEven(Math.fround(x[m * K + i] * inv)) + 0); // + 0: no −0 in i16
      if (K2 > K) expect(q[m * K2 + K]).toBe(0);
    }
  });

  it("rounds exact halves to even", () => {
    const K = 9;
    const qmax = rt.k.activation_qmax(K);
    // row max qmax → scale 1: values are quantized as they are
    const x = Float32Array.from([qmax, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5, -qmax]);
    const { q, s } = quantize(x, 1, K);
    expect(s[0]).toBe(1);
    expect(Array.from(q.subarray(0, K))).toEqual([qmax, 0, 2, 2, 0, -2, -2, 4, -qmax]);
  });

  it("gives a zero row scale 0 and a row with NaN or ±∞ a non-finite scale, other rows unaffected", () => {
    const K = 13;
    const rows = [
      Float32Array.from(normal(K, 3)),
      new Float32Array(K),
      Float32Array.from(normal(K, 4), (v, i) => (i === 5 ? Number.NaN : v)),
      Float32Array.from(normal(K, 5), (v, i) => (i === 12 ? Number.NEGATIVE_INFINITY : v)),
      Float32Array.from(normal(K, 6), (v, i) => (i === 0 ? Number.POSITIVE_INFINITY : v)),
    ];
    const x = new Float32Array(rows.length * K);
    for (const [i, r] of rows.entries()) x.set(r, i * K);
    const { q, s } = quantize(x, rows.length, K);
    const alone = quantize(rows[0], 1, K);
    expect(s[0]).toBe(alone.s[0]);
    expect(Array.from(q.subarray(0, K))).toEqual(Array.from(alone.q.subarray(0, K)));
    expect(s[1]).toBe(0);
    expect(Array.from(q.subarray(14, 14 + K))).toEqual(new Array(K).fill(0));
    expect(Number.isNaN(s[2])).toBe(true);
    expect(s[3]).toBe(Number.POSITIVE_INFINITY);
    expect(s[4]).toBe(Number.POSITIVE_INFINITY);
  });
});
