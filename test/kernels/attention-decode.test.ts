// attention_decode_f32 (one query per row against a KV cache, every row and head in one call, T5 bias by
// key distance, key padding with a row stride) against its f64 `_ref` twin on odd sizes (Tk and D not
// multiples of 4, 8 or 32, so every tail path runs) and against attention_f32 with Tq = 1, on every build.
import { beforeAll, describe, expect, it } from "vitest";
import { MaskKind } from "../../src/runtime/kernels.ts";
import { expectClose } from "../helpers/compare.ts";
import { type Build, loadBuilds, relaxedSupported } from "../helpers/kernels.ts";
import { normal } from "../helpers/random.ts";

let builds: Build[] = [];
beforeAll(async () => {
  builds = await loadBuilds();
});

const BUILDS = relaxedSupported() ? ["simd", "debug", "relaxed"] : ["simd", "debug"];

interface Case {
  B: number;
  H: number;
  Tk: number;
  D: number;
  pad: boolean;
  bias: boolean;
}

const CASES: Case[] = [
  { B: 1, H: 1, Tk: 1, D: 1, pad: false, bias: true },
  { B: 1, H: 2, Tk: 3, D: 5, pad: false, bias: true },
  { B: 2, H: 3, Tk: 4, D: 8, pad: true, bias: false },
  { B: 3, H: 2, Tk: 7, D: 13, pad: true, bias: true },
  { B: 2, H: 8, Tk: 17, D: 64, pad: false, bias: true },
  { B: 1, H: 8, Tk: 41, D: 64, pad: true, bias: false },
  { B: 2, H: 3, Tk: 9, D: 35, pad: true, bias: true },
  { B: 1, H: 2, Tk: 21, D: 50, pad: false, bias: true },
  { B: 4, H: 1, Tk: 6, D: 99, pad: true, bias: true },
];

describe.each(BUILDS)("%s build", (buildName) => {
  const rt = () => builds.find((b) => b.name === buildName)!.rt;

  it.each(CASES)("B=$B H=$H Tk=$Tk D=$D pad=$pad bias=$bias: equals the reference and attention_f32", (c) => {
    const { arena, k } = rt();
    const { B, H, Tk, D } = c;
    const mark = arena.mark();
    const C = H * D;
    // q in fused-QKV rows (stride 3C), k | v interleaved in a cache with spare capacity (as T5's [R,S,2I])
    const cap = Tk + 3;
    const q = arena.put(normal(B * 3 * C, 11 * Tk + D));
    const kv = arena.put(normal(B * cap * 2 * C, 7 * Tk + D, 0.7));
    const kk = kv;
    const v = kv + C * 4;
    // bias by distance [H, bsH] with spare columns; key mask rows with a stride > Tk
    const bsH = Tk + 5;
    const dist = normal(H * bsH, 3, 2);
    const relBias = c.bias ? arena.put(dist) : 0;
    const msB = Tk + 2;
    const km = new Int32Array(B * msB).fill(1);
    if (c.pad)
      for (let b = 0; b < B; b++)
        for (let j = 0; j < Tk; j++) if ((j * 5 + b) % 3 === 1 && j !== b % Tk) km[b * msB + j] = 0;
    const keyMask = c.pad ? arena.put(km) : 0;
    const [out, outr, outa] = [0, 0, 0].map(() => arena.allocF32(B * C));
    const args = [
      q,
      kk,
      v,
      relBias,
      keyMask,
      B,
      H,
      Tk,
      D,
      0.75,
      3 * C,
      cap * 2 * C,
      2 * C,
      cap * 2 * C,
      2 * C,
      C,
      bsH,
      msB,
    ] as const;
    k.attention_decode_f32(out, arena.alloc(k.attention_decode_scratch_size(H, Tk)), ...args);
    k.attention_decode_f32_ref(outr, 0, ...args);
    const got = arena.readF32(out, B * C);
    expect(got.every(Number.isFinite)).toBe(true);
    expectClose(got, arena.f32(outr, B * C), 2e-6, 1e-5, "decode vs ref");

    // attention_f32 with Tq = 1: bias [H,1,Tk] in key order, key mask [B,Tk] packed, causal (hides nothing)
    const bias = new Float32Array(H * Tk);
    for (let h = 0; h < H; h++) for (let j = 0; j < Tk; j++) bias[h * Tk + j] = dist[h * bsH + Tk - 1 - j];
    const packed = new Int32Array(B * Tk);
    for (let b = 0; b < B; b++) packed.set(km.subarray(b * msB, b * msB + Tk), b * Tk);
    k.attention_f32(
      outa,
      0,
      arena.alloc(k.attention_scratch_size(1, Tk, D)),
      q,
      kk,
      v,
      c.bias ? arena.put(bias) : 0,
      c.pad ? arena.put(packed) : 0,
      B,
      H,
      1,
      Tk,
      D,
      0.75,
      MaskKind.causal,
      0,
      3 * C,
      3 * C,
      cap * 2 * C,
      2 * C,
      cap * 2 * C,
      2 * C,
      C,
      C,
    );
    // same sums in the same order as attention_f32's direct path: the same numbers
    expectClose(got, arena.f32(outa, B * C), 0, 0, "decode vs attention_f32");
    arena.reset(mark);
  });

  it("gives a zero output for a row whose keys are all padding, and leaves other rows alone", () => {
    const { arena, k } = rt();
    const mark = arena.mark();
    const [B, H, Tk, D] = [2, 2, 5, 6];
    const C = H * D;
    const q = arena.put(normal(B * C, 1));
    const kk = arena.put(normal(B * Tk * C, 2));
    const v = arena.put(normal(B * Tk * C, 3));
    const keyMask = arena.put(Int32Array.from([0, 0, 0, 0, 0, 1, 1, 0, 1, 1]));
    const out = arena.put(new Float32Array(B * C).fill(Number.NaN));
    const outr = arena.allocF32(B * C);
    const args = [q, kk, v, 0, keyMask, B, H, Tk, D, 1, C, Tk * C, C, Tk * C, C, C, 0, Tk] as const;
    k.attention_decode_f32(out, arena.alloc(k.attention_decode_scratch_size(H, Tk)), ...args);
    k.attention_decode_f32_ref(outr, 0, ...args);
    const got = arena.readF32(out, B * C);
    expect(Array.from(got.subarray(0, C))).toEqual(new Array(C).fill(0));
    expect(got.subarray(C).some((x) => x !== 0)).toBe(true);
    expectClose(got, arena.f32(outr, B * C), 2e-6, 1e-5, "masked rows");
    arena.reset(mark);
  });

  it("a single visible key returns its value row; the bias by distance shifts the weights as a key-order bias", () => {
    const { arena, k } = rt();
    const mark = arena.mark();
    const [H, Tk, D] = [1, 3, 4];
    const q = arena.put(new Float32Array(D)); // zero query: scores come from the bias alone
    const kk = arena.put(normal(Tk * D, 5));
    const v = arena.put(Float32Array.from([1, 2, 3, 4, 10, 20, 30, 40, 100, 200, 300, 400]));
    // distance 0 (the last key) gets bias 0, distances 1 and 2 get −inf-like −1e30: only key 2 counts
    const relBias = arena.put(Float32Array.from([0, -1e30, -1e30]));
    const out = arena.allocF32(D);
    // one row, one head, no key mask: out = Σ softmax(q·k + bias by distance) · v
    const run = () =>
      k.attention_decode_f32(
        out,
        arena.alloc(k.attention_decode_scratch_size(H, Tk)),
        q,
        kk,
        v,
        relBias,
        0,
        1,
        H,
        Tk,
        D,
        1,
        D,
        Tk * D,
        D,
        Tk * D,
        D,
        D,
        Tk,
        0,
      );
    run();
    expect(Array.from(arena.f32(out, D))).toEqual([100, 200, 300, 400]);
    // equal bias: the mean of the value rows
    arena.f32(relBias, 3).set([0.5, 0.5, 0.5]);
    run();
    expectClose(arena.f32(out, D), [37, 74, 111, 148], 1e-4, 1e-6, "mean");
    arena.reset(mark);
  });
});
