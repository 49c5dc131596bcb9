// Hardware ceilings for the GEMM kernels (npm run bench:peaks [-- --quick] [--md FILE] [--json FILE]):
// times the loops of bench/peaks/peaks.ts (build/peaks.wasm and build/peaks-relaxed.wasm) — a clock
// estimate, register-only f32 multiply-add / i16 dot / relaxed i8 dot throughput, and the inner loops of
// our f32 and int8 GEMM tiles over L1-resident data — then, in the same run, our product GEMMs at M = 128,
// and reports what fraction of each ceiling they reach. Prints tables and rewrites the peaks section of
// BENCHMARKS.md. Each loop's returned value is checked against its scalar formula on V8's baseline tier
// (Liftoff) and on the optimized code that is timed (the script sets --no-liftoff).
// LOOPS, checkLoop and loadPeaks are exported for test/bench/peaks.test.ts; the benchmark runs only as
// a script.
import { readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { createRuntime, type KernelRuntime } from "../src/runtime/load.ts";
import { WASM_RELAXED_URL, WASM_URL } from "../src/runtime/node.ts";
import { ourGemm } from "./gemm-setup.ts";
import { random } from "./random.ts";
import {
  jsonArg,
  machineLine,
  markdownTable,
  markdownTarget,
  type Row,
  readSectionTable,
  table,
  writeSection,
} from "./report.ts";
import { median, timeIt } from "./timing.ts";

export const PEAKS_WASM = new URL("../build/peaks.wasm", import.meta.url);
export const PEAKS_RELAXED_WASM = new URL("../build/peaks-relaxed.wasm", import.meta.url);

export interface PeakExports {
  memory: WebAssembly.Memory;
  bufA(): number;
  bufB(): number;
  kMax(): number;
  clock_chain(n: number, y: number, z: number): number;
  f32_reg(n: number, k: number): number;
  f32_tile4x8(reps: number, K: number): number;
  f32_tile4x8s(reps: number, K: number): number;
  f32_tile4x12(reps: number, K: number): number;
  f32_tile5x8(reps: number, K: number): number;
  i16_dot_reg(n: number, m: number): number;
  i16_dot_add_reg(n: number, m: number, d: number): number;
  i8_tile4x8(reps: number, pairs: number): number;
  i8_tile4x8s(reps: number, pairs: number): number;
  i8_relaxed_dot_add_reg(n: number, b: number, d: number): number;
  i8_relaxed_dot16_reg(n: number, b: number, d: number): number;
}

export type PeakBuild = "simd" | "relaxed";

/** Instantiates one peaks build (bytes of build/peaks*.wasm). */
export async function loadPeaks(bytes: BufferSource): Promise<PeakExports> {
  const { instance } = await WebAssembly.instantiate(bytes, {});
  const ex = instance.exports as unknown as PeakExports;
  if (ex.kMax() < TILE_K) throw new Error(`peaks build holds K ≤ ${ex.kMax()}, the loops use ${TILE_K}`);
  return ex;
}

/** Tile depth of the L1 loops: K = 256 f32 (A 4–5 KB, B 8–12 KB) or 256 i16 pairs (A, B 4 KB each). */
export const TILE_K = 256;

export interface Loop {
  id: string;
  /** what one step does, for the table */
  what: string;
  builds: PeakBuild[];
  unit: "GHz" | "GFLOP/s" | "GOP/s";
  /** flops / ops (2 per multiply-add), or cycles for the clock, per unit of n */
  opsPerN: number;
  /** fills the L1 buffers A and B the loop reads (tile loops) */
  setup?(ex: PeakExports): void;
  run(ex: PeakExports, n: number): number;
  /** the value run(ex, n) must return, from the scalar formula */
  expected(n: number): number;
  /** a documented engine bug: what the loop returns instead, and where */
  knownWrong?: { /** e.g. "Node 20" */ engine: string; note: string; value(n: number): number };
}

/** "ok", the known-bug note, or got/formula: whether a loop returns what its scalar formula says. */
export function checkLoop(loop: Loop, ex: PeakExports, n: number): string {
  loop.setup?.(ex);
  const got = loop.run(ex, n);
  const want = loop.expected(n);
  if (got === want) return "ok";
  if (loop.knownWrong && got === loop.knownWrong.value(n)) return `wrong: ${loop.knownWrong.note}`;
  return `got ${got}, formula ${want}`;
}

// ---- buffers and scalar formulas ---------------------------------------------------------------

/** Small dyadic values (mean > 0, so no row or column sums to 0): f32 sums of products are exact. */
function f32A(rows: number, K: number): Float32Array {
  return Float32Array.from({ length: rows * K }, (_, i) => (((i * 7) % 5) - 1) * 0.5);
}
function f32B(K: number, cols: number): Float32Array {
  return Float32Array.from({ length: K * cols }, (_, i) => (((i * 3) % 7) - 2) * 0.5);
}

/** i16 activation pairs [4,pairs,2] and split-panel weight lanes [pairs,8] (any i16). */
function i16A(pairs: number): Int16Array {
  return Int16Array.from({ length: 4 * pairs * 2 }, (_, i) => ((i * 5) % 11) * 37 - 185);
}
function i16B(pairs: number): Int16Array {
  return Int16Array.from({ length: pairs * 8 }, (_, i) => Math.imul(i + 1, 2654435761) >>> 16);
}

/** [rows,K] → the 4-row strip layout [K][rows] the product kernels pack activations into. */
function strip<T extends Float32Array | Int16Array>(a: T, rows: number, K: number, lane: number): T {
  const out = a.slice() as T;
  for (let r = 0; r < rows; r++)
    for (let k = 0; k < K; k++)
      for (let t = 0; t < lane; t++) out[(k * rows + r) * lane + t] = a[(r * K + k) * lane + t];
  return out;
}

function fillF32(ex: PeakExports, rows: number, cols: number, strips = false): void {
  const a = f32A(rows, TILE_K);
  new Float32Array(ex.memory.buffer, ex.bufA(), rows * TILE_K).set(strips ? strip(a, rows, TILE_K, 1) : a);
  new Float32Array(ex.memory.buffer, ex.bufB(), TILE_K * cols).set(f32B(TILE_K, cols));
}

function fillI16(ex: PeakExports, strips: boolean): void {
  const a = i16A(TILE_K);
  new Int16Array(ex.memory.buffer, ex.bufA(), 4 * TILE_K * 2).set(strips ? strip(a, 4, TILE_K, 2) : a);
  new Int16Array(ex.memory.buffer, ex.bufB(), TILE_K * 8).set(i16B(TILE_K));
}

/** reps · Σ_r Σ_k A[r,k] · Σ_j B[k,j]: the sum of all lanes of an f32 rows×cols tile. */
function f32TileSum(reps: number, rows: number, cols: number): number {
  const a = f32A(rows, TILE_K);
  const b = f32B(TILE_K, cols);
  let s = 0;
  for (let r = 0; r < rows; r++)
    for (let k = 0; k < TILE_K; k++) {
      let bk = 0;
      for (let j = 0; j < cols; j++) bk += b[k * cols + j];
      s += a[r * TILE_K + k] * bk;
    }
  return reps * s;
}

/** The int8 tile's sum: per row, pair and lane l, a0·w[2l] + a1·w[2l+1] plus the same with w >> 8. */
function i8TileSum(reps: number): number {
  const a = i16A(TILE_K);
  const w = i16B(TILE_K);
  let s = 0;
  for (let r = 0; r < 4; r++)
    for (let p = 0; p < TILE_K; p++) {
      const a0 = a[(r * TILE_K + p) * 2];
      const a1 = a[(r * TILE_K + p) * 2 + 1];
      for (let l = 0; l < 4; l++) {
        const w0 = w[p * 8 + 2 * l];
        const w1 = w[p * 8 + 2 * l + 1];
        s += a0 * w0 + a1 * w1 + a0 * (w0 >> 8) + a1 * (w1 >> 8);
      }
    }
  return Number(BigInt.asIntN(32, BigInt(reps) * BigInt(s)));
}

/** Σ over 12 chains (start j) × 4 lanes of n steps of c ← step(c), wrapping to i32. */
function chainsI32(n: number, step: (c: number) => number): number {
  let s = 0;
  for (let j = 0; j < 12; j++) {
    let c = j;
    for (let i = 0; i < n; i++) c = step(c);
    s = (s + 4 * c) | 0;
  }
  return s;
}

// f32_reg: c ← c·0.5 + 0.5 (exact in f32: fused and unfused give the same value; converges to 1)
const F32_K = 0.5;
// i16_dot_reg / i16_dot_add_reg: m = (low 3, high −2), d = 5
const I16_M = (-2 << 16) | 3;
const I16_D = 5;
// relaxed i8 dots: b = 3 (7-bit, so the relaxed result is deterministic), d = 1
const I8_B = 3;
const I8_D = 1;

const sbyte = (c: number, i: number) => (c << (24 - 8 * i)) >> 24;

export const LOOPS: Loop[] = [
  {
    id: "clock",
    what: "x = (x ^ y) + z, dependent (clock estimate: 2 cycles per step)",
    builds: ["simd"],
    unit: "GHz",
    opsPerN: 16,
    run: (ex, n) => ex.clock_chain(n, 0x5bd1e995, 0x1b873593),
    expected: (n) => {
      let x = 0;
      for (let i = 0; i < 8 * n; i++) x = ((x ^ 0x5bd1e995) + 0x1b873593) | 0;
      return x;
    },
  },
  {
    id: "f32-reg",
    what: "14 chains c = c·k + k, registers only",
    builds: ["simd", "relaxed"],
    unit: "GFLOP/s",
    opsPerN: 14 * 4 * 2,
    run: (ex, n) => ex.f32_reg(n, F32_K),
    expected: (n) => {
      let s = 0;
      for (let j = 0; j < 14; j++) {
        let c = j;
        for (let i = 0; i < n; i++) c = Math.fround(Math.fround(c * F32_K) + F32_K);
        s += 4 * c;
      }
      return s;
    },
  },
  {
    id: "f32-tile4x8",
    what: "tile4x8 inner loop, L1: 2 load + 4 load32_splat + 8 madd per k",
    builds: ["simd", "relaxed"],
    unit: "GFLOP/s",
    opsPerN: TILE_K * 32 * 2,
    setup: (ex) => fillF32(ex, 4, 8),
    run: (ex, n) => ex.f32_tile4x8(n, TILE_K),
    expected: (n) => f32TileSum(n, 4, 8),
  },
  {
    id: "f32-tile4x8s",
    what: "the same, A as a 4-row strip [K][4] (matmul_f32 now): one pointer for the 4 splats",
    builds: ["simd", "relaxed"],
    unit: "GFLOP/s",
    opsPerN: TILE_K * 32 * 2,
    setup: (ex) => fillF32(ex, 4, 8, true),
    run: (ex, n) => ex.f32_tile4x8s(n, TILE_K),
    expected: (n) => f32TileSum(n, 4, 8),
  },
  {
    id: "f32-tile4x12",
    what: "4×12 tile, L1: 3 load + 4 splat + 12 madd per k",
    builds: ["simd", "relaxed"],
    unit: "GFLOP/s",
    opsPerN: TILE_K * 48 * 2,
    setup: (ex) => fillF32(ex, 4, 12),
    run: (ex, n) => ex.f32_tile4x12(n, TILE_K),
    expected: (n) => f32TileSum(n, 4, 12),
  },
  {
    id: "f32-tile5x8",
    what: "5×8 tile, L1: 2 load + 5 splat + 10 madd per k",
    builds: ["simd", "relaxed"],
    unit: "GFLOP/s",
    opsPerN: TILE_K * 40 * 2,
    setup: (ex) => fillF32(ex, 5, 8),
    run: (ex, n) => ex.f32_tile5x8(n, TILE_K),
    expected: (n) => f32TileSum(n, 5, 8),
  },
  {
    id: "i16-dot-reg",
    what: "12 chains c = dot_i16x8_s(c, m), registers only",
    builds: ["simd"],
    unit: "GOP/s",
    opsPerN: 12 * 8 * 2,
    run: (ex, n) => ex.i16_dot_reg(n, I16_M),
    expected: (n) => chainsI32(n, (c) => (((c << 16) >> 16) * 3 + (c >> 16) * -2) | 0),
  },
  {
    id: "i16-dot-add-reg",
    what: "12 chains c = dot_i16x8_s(c, m) + d, registers only",
    builds: ["simd"],
    unit: "GOP/s",
    opsPerN: 12 * 8 * 2,
    run: (ex, n) => ex.i16_dot_add_reg(n, I16_M, I16_D),
    expected: (n) => chainsI32(n, (c) => (((c << 16) >> 16) * 3 + (c >> 16) * -2 + I16_D) | 0),
  },
  {
    id: "i8-tile4x8",
    what: "tile4x8_i8 inner loop, L1: 1 load + 1 shr_s + 4 splat + 8 dot + 8 add per pair",
    builds: ["simd"],
    unit: "GOP/s",
    opsPerN: TILE_K * 64 * 2,
    setup: (ex) => fillI16(ex, false),
    run: (ex, n) => ex.i8_tile4x8(n, TILE_K),
    expected: (n) => i8TileSum(n),
  },
  {
    id: "i8-tile4x8s",
    what: "the same, activations as a 4-row strip [pairs][4] (matmul_i8 now)",
    builds: ["simd"],
    unit: "GOP/s",
    opsPerN: TILE_K * 64 * 2,
    setup: (ex) => fillI16(ex, true),
    run: (ex, n) => ex.i8_tile4x8s(n, TILE_K),
    expected: (n) => i8TileSum(n),
  },
  {
    id: "i8-relaxed-dot-add",
    what: "12 chains c = i32x4.relaxed_dot_i8x16_i7x16_add_s(c, b, d)",
    builds: ["relaxed"],
    unit: "GOP/s",
    opsPerN: 12 * 16 * 2,
    run: (ex, n) => ex.i8_relaxed_dot_add_reg(n, I8_B, I8_D),
    expected: (n) =>
      chainsI32(n, (c) => ((sbyte(c, 0) + sbyte(c, 1) + sbyte(c, 2) + sbyte(c, 3)) * I8_B + I8_D) | 0),
    // Node 20's V8 (11.3) on its baseline tier, Liftoff, returns 2·dot and drops the accumulator (DESIGN.md
    // §3's "2× too large"); its optimized tier, TurboFan, is right.
    knownWrong: {
      engine: "Node 20",
      note: "2·dot, accumulator dropped (Node 20's Liftoff)",
      value: (n) =>
        chainsI32(n, (c) => (2 * (sbyte(c, 0) + sbyte(c, 1) + sbyte(c, 2) + sbyte(c, 3)) * I8_B) | 0),
    },
  },
  {
    id: "i8-relaxed-dot16",
    what: "12 chains c = extadd_pairwise(i16x8.relaxed_dot_i8x16_i7x16_s(c, b)) + d",
    builds: ["relaxed"],
    unit: "GOP/s",
    opsPerN: 12 * 16 * 2,
    run: (ex, n) => ex.i8_relaxed_dot16_reg(n, I8_B, I8_D),
    expected: (n) =>
      chainsI32(n, (c) => ((sbyte(c, 0) + sbyte(c, 1) + sbyte(c, 2) + sbyte(c, 3)) * I8_B + I8_D) | 0),
  },
];

// ---- timing ------------------------------------------------------------------------------------

interface Policy {
  /** untimed calls until this long has passed (caches, branch predictors, clock) */
  warmupMs: number;
  /** seconds per timed call */
  callS: number;
  runs: number;
  /** measure a loop again (up to this many times in all) while its calls spread by more than 5% */
  attempts: number;
}
const FULL: Policy = { warmupMs: 400, callS: 0.35, runs: 7, attempts: 3 };
const QUICK: Policy = { warmupMs: 50, callS: 0.01, runs: 3, attempts: 1 };

function timeCall(fn: () => number): number {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) / 1e3;
}

/**
 * Median rate (ops per second) of `run` over calls of ≈ policy.callS each, after warm-up, and the
 * spread of the calls ((max − min) / median).
 */
function measure(
  run: (n: number) => number,
  opsPerN: number,
  p: Policy,
): { rate: number; spread: number; rates: number[] } {
  let n = 16;
  const start = performance.now();
  while (performance.now() - start < p.warmupMs) run(n);
  while (timeCall(() => run(n)) < 0.02) n *= 4;
  n = Math.max(1, Math.round((n * p.callS) / timeCall(() => run(n))));
  const rates: number[] = [];
  for (let i = 0; i < p.runs; i++) rates.push((opsPerN * n) / timeCall(() => run(n)));
  const rate = median(rates);
  return { rate, spread: (Math.max(...rates) - Math.min(...rates)) / rate, rates };
}

// ---- our product GEMMs, same run ----------------------------------------------------------------

const GEMM_SHAPES: [number, number, number][] = [
  [128, 384, 1536],
  [128, 1536, 384],
  [128, 768, 768],
  [128, 768, 3072],
];

/** GFLOP/s (GOP/s for int8) of matmul_f32 / matmul_i8 at [M,K]·[N,K]ᵀ, set up as bench/kernels.ts sets them up. */
function gemmRate(rt: KernelRuntime, dtype: "f32" | "int8", M: number, K: number, N: number, quick: boolean) {
  const g = ourGemm(
    rt,
    dtype,
    M,
    K,
    N,
    random(M * K, M + K + N, 1),
    random(N * K, K * 3 + N, 0.05),
    random(N, 11, 0.1),
  );
  const run = g.run;
  // warm up by time, not count (caches, clock; the code is optimized from the start: --no-liftoff)
  const start = performance.now();
  while (performance.now() - start < (quick ? 0 : 300)) run();
  const t = timeIt(run, quick ? { warmup: 1, minRuns: 2, minMs: 0 } : { minMs: 800 });
  rt.arena.reset(g.mark);
  return (2 * M * K * N) / (t.medianMs * 1e6);
}

// ---- report ------------------------------------------------------------------------------------

const fix = (v: number, d = 1) => v.toFixed(d);
const range = (xs: number[]) => `${fix(Math.min(...xs))}–${fix(Math.max(...xs))}`;
const pct = (xs: number[], ceil: number) =>
  `${Math.round((100 * Math.min(...xs)) / ceil)}–${Math.round((100 * Math.max(...xs)) / ceil)}%`;

/** onnxruntime-web's M = 128 GEMM rates from the kernels section of BENCHMARKS.md, if present. */
function ortWebRates(impl: string): number[] {
  const rows = readSectionTable(
    resolve(fileURLToPath(new URL("../BENCHMARKS.md", import.meta.url))),
    "kernels",
    "### All rows",
  );
  return (rows ?? []).filter((r) => r.impl === impl && r.M === 128).map((r) => Number(r.gflops));
}

async function main(argv: string[]): Promise<void> {
  const quick = argv.includes("--quick");
  const mdIdx = argv.indexOf("--md");
  const md = markdownTarget(quick, mdIdx >= 0 ? argv[mdIdx + 1] : undefined);
  const policy = quick ? QUICK : FULL;
  if (loadavg()[0] > 0.3)
    console.error(`warning: load average ${fix(loadavg()[0], 2)}: the machine is not quiet`);

  const valid: [PeakBuild, Uint8Array<ArrayBuffer>][] = [];
  for (const [name, url] of [
    ["simd", PEAKS_WASM],
    ["relaxed", PEAKS_RELAXED_WASM],
  ] as const) {
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = new Uint8Array(readFileSync(url));
    } catch {
      throw new Error(
        `${fileURLToPath(url)} is missing: run \`npm run bench:peaks\` (it compiles bench/peaks/peaks.ts)`,
      );
    }
    if (!WebAssembly.validate(bytes)) {
      console.error(
        `${name}: this engine rejects the build (relaxed SIMD needs Node ≥ 22 or --experimental-wasm-relaxed-simd): skipped`,
      );
      continue;
    }
    valid.push([name, bytes]);
  }

  // Baseline-tier check: a fresh module's first calls run on Liftoff. The copy gets an extra custom
  // section so V8's module cache does not hand its Liftoff code to the timed module below.
  const baseline: Record<string, string> = {};
  for (const [build, bytes] of valid) {
    const copy = new Uint8Array(bytes.length + 4);
    copy.set(bytes);
    copy.set([0, 2, 1, 0x62], bytes.length); // custom section "b", empty
    const ex = await loadPeaks(copy);
    for (const loop of LOOPS)
      if (loop.builds.includes(build)) baseline[`${loop.id}/${build}`] = checkLoop(loop, ex, 3);
  }
  // Timed code is optimized from the first call: with Liftoff first, a long call that starts before
  // V8's background TurboFan compile has finished runs whole on the baseline tier (about 4× slower).
  setFlagsFromString("--no-liftoff");
  const builds: [PeakBuild, PeakExports][] = [];
  for (const [build, bytes] of valid) builds.push([build, await loadPeaks(bytes)]);

  const rate: Record<string, number> = {};
  const calls: Record<string, number[]> = {}; // each call's rate, for --json
  const rows: Row[] = [];
  for (const loop of LOOPS) {
    for (const [build, ex] of builds) {
      if (!loop.builds.includes(build)) continue;
      const check = checkLoop(loop, ex, 3);
      // a noisy VM slows some calls down: keep the steadiest of up to `attempts` measurements
      let m = measure((n) => loop.run(ex, n), loop.opsPerN, policy);
      for (let a = 1; a < policy.attempts && m.spread > 0.05; a++) {
        const again = measure((n) => loop.run(ex, n), loop.opsPerN, policy);
        if (again.spread < m.spread) m = again;
      }
      const value = m.rate / 1e9;
      rate[`${loop.id}/${build}`] = value;
      calls[`${loop.id}/${build}`] = m.rates.map((x) => Math.round(x / 1e8) / 10);
      const perCycle = rate["clock/simd"] && loop.unit !== "GHz" ? fix(value / rate["clock/simd"], 2) : "";
      rows.push({
        loop: loop.id,
        build,
        what: loop.what,
        unit: loop.unit,
        value: fix(value),
        "per cycle": perCycle,
        spread: `${fix(100 * m.spread)}%`,
        check,
        "check, baseline tier": baseline[`${loop.id}/${build}`],
      });
      console.error(`${loop.id} ${build}: ${fix(value)} ${loop.unit}${check === "ok" ? "" : ` (${check})`}`);
    }
  }

  const simdRt = await createRuntime({ simd: readFileSync(WASM_URL), relaxed: false });
  const relaxedRt = await createRuntime({
    simd: readFileSync(WASM_URL),
    relaxedSimd: readFileSync(WASM_RELAXED_URL),
  });
  const gemms: { kernel: string; rates: number[]; reg: string; tile: string; unit: string }[] = [
    {
      kernel: "matmul_f32, SIMD",
      rates: [],
      reg: "f32-reg/simd",
      tile: "f32-tile4x8s/simd",
      unit: "GFLOP/s",
    },
    {
      kernel: "matmul_i8, SIMD",
      rates: [],
      reg: "i16-dot-reg/simd",
      tile: "i8-tile4x8s/simd",
      unit: "GOP/s",
    },
  ];
  if (relaxedRt.relaxed)
    gemms.splice(1, 0, {
      kernel: "matmul_f32, relaxed",
      rates: [],
      reg: "f32-reg/relaxed",
      tile: "f32-tile4x8s/relaxed",
      unit: "GFLOP/s",
    });
  for (const [M, K, N] of GEMM_SHAPES) {
    for (const g of gemms) {
      const rt = g.kernel.endsWith("relaxed") ? relaxedRt : simdRt;
      const dtype = g.kernel.startsWith("matmul_i8") ? "int8" : "f32";
      // best of two medians: noise on this VM only ever slows a measurement down
      const once = () => gemmRate(rt, dtype, M, K, N, quick);
      g.rates.push(quick ? once() : Math.max(once(), once()));
    }
  }
  const gemmRows: Row[] = gemms.map((g) => ({
    kernel: g.kernel,
    [`M = 128 (4 shapes)`]: `${range(g.rates)} ${g.unit}`,
    "register-only ceiling": rate[g.reg] ? `${fix(rate[g.reg])} (${pct(g.rates, rate[g.reg])})` : "",
    "tile-loop ceiling": rate[g.tile] ? `${fix(rate[g.tile])} (${pct(g.rates, rate[g.tile])})` : "",
  }));

  const loopCols = [
    "loop",
    "build",
    "what",
    "unit",
    "value",
    "per cycle",
    "spread",
    "check",
    "check, baseline tier",
  ];
  const gemmCols = Object.keys(gemmRows[0]);
  console.log(table(rows, loopCols));
  console.log();
  console.log(table(gemmRows, gemmCols));
  const jsonFile = jsonArg(argv);
  if (jsonFile) writeFileSync(jsonFile, JSON.stringify({ loops: rows, gemms: gemmRows, calls }, null, 2));
  if (!md) return;
  writeSection(md, "peaks", sectionText(rows, loopCols, gemmRows, gemmCols, rate, gemms));
  console.error(`wrote the peaks section of ${md}`);
}

/** What the two checks of the relaxed i32x4 dot-add say about using it in a product kernel. */
function relaxedDotAddText(rows: Row[]): string {
  const row = rows.find((x) => x.loop === "i8-relaxed-dot-add");
  if (!row) return "was not run";
  if (row.check !== "ok")
    return "returns a wrong value in optimized code (see `check`), so its rate is not usable";
  if (row["check, baseline tier"] !== "ok")
    return "is right in optimized code but wrong on V8's baseline tier (Liftoff, which runs every kernel's first calls and a load-time self-check), so a product kernel cannot rely on it on this engine";
  return "is right on both V8 tiers";
}

/** Speed-up range over onnxruntime-web that `ceiling` allows, and the share of it `need`× takes (> 100%: out of reach). */
function verdict(ceiling: number, web: number[], need: number): string {
  const [fast, slow] = [Math.max(...web), Math.min(...web)];
  const share = (w: number) => `${Math.round((100 * need * w) / ceiling)}%`;
  return `${fix(ceiling / fast, 2)}–${fix(ceiling / slow, 2)}× (${need}× needs ${share(fast)} of it on ort-web's fastest shape, ${share(slow)} on its slowest)`;
}

function sectionText(
  rows: Row[],
  loopCols: string[],
  gemmRows: Row[],
  gemmCols: string[],
  rate: Record<string, number>,
  gemms: { kernel: string; rates: number[] }[],
): string {
  const ghz = rate["clock/simd"] ?? Number.NaN;
  const r = (key: string) => (rate[key] === undefined ? "n/a" : fix(rate[key]));
  const cyc = (key: string) => (rate[key] === undefined ? "n/a" : fix(rate[key] / ghz));
  const share = (a: string, b: string) =>
    rate[a] && rate[b] ? `${Math.round((100 * rate[a]) / rate[b])}%` : "n/a";
  const rates = (name: string) => gemms.find((g) => g.kernel === name)?.rates ?? [];
  const ofCeil = (name: string, key: string) =>
    rates(name).length && rate[key] ? pct(rates(name), rate[key]) : "n/a";
  const slower = (tile: string) =>
    (["simd", "relaxed"] as const).every(
      (b) => (rate[`${tile}/${b}`] ?? 0) < (rate[`f32-tile4x8/${b}`] ?? 0),
    );
  const relaxedI8 = Math.max(rate["i16-dot-reg/simd"] ?? 0, rate["i8-relaxed-dot16/relaxed"] ?? 0);
  const dot16VsDot =
    (rate["i8-relaxed-dot16/relaxed"] ?? Number.NaN) / (rate["i16-dot-reg/simd"] ?? Number.NaN);
  const lines = [
    "## Hardware ceilings (`npm run bench:peaks`)",
    "",
    `Machine: ${machineLine()}. Each loop of bench/peaks/peaks.ts (compiled on its own, SIMD and relaxed`,
    "SIMD builds) is warmed up for 0.4 s, then called 7 times for ≥ 0.35 s each; value = the median",
    "(measured up to 3 times while the 7 calls spread by more than 5%; the steadiest set is kept).",
    "GFLOP/s and GOP/s count 2 per multiply-add; `per cycle` = value / clock; `spread` = (max − min) /",
    "median of the 7 calls. `check`: the loop returned what its scalar formula predicts (so it did the",
    "work counted) in the timed, optimized code (the script sets V8's `--no-liftoff`); `check, baseline",
    "tier`: the same on V8's baseline compiler Liftoff, which runs a module's first calls. The second",
    "table times our product GEMMs in the same run (M = 128, the kernels section's four shapes; each the",
    "better of two medians over ≥ 0.8 s) against those ceilings.",
    "",
    markdownTable(rows, loopCols),
    "",
    markdownTable(gemmRows, gemmCols),
    "",
    `**What the rows measure.** *clock*: a chain of dependent 1-cycle integer ops: the core runs at ${fix(ghz, 2)} GHz`,
    "under load. *f32-reg*: 14 independent chains of arithmetic only, no memory: the most f32",
    `multiply-adds V8's code can issue: ${r("f32-reg/relaxed")} GFLOP/s = ${cyc("f32-reg/relaxed")} flops/cycle with the fused`,
    `\`relaxed_madd\` (the 128-bit FMA peak: the formula's ~58 assumed 16/cycle at 3.65 GHz) and`,
    `${r("f32-reg/simd")} = ${cyc("f32-reg/simd")}/cycle as mulps + addps (the plain SIMD build's peak). *f32-tile4x8s*:`,
    "matmul_f32's inner loop as it is now (A packed in 4-row strips; 2 loads + 4 broadcast loads per 32",
    `multiply-adds) on L1-resident data, ${r("f32-tile4x8s/simd")} / ${r("f32-tile4x8s/relaxed")} GFLOP/s (SIMD / relaxed) = ${share("f32-tile4x8s/simd", "f32-reg/simd")} / ${share("f32-tile4x8s/relaxed", "f32-reg/relaxed")} of those`,
    `peaks; *f32-tile4x8* is the earlier shape, one pointer per row (${r("f32-tile4x8/simd")} / ${r("f32-tile4x8/relaxed")}). The tile loop is the`,
    "ceiling of the tile itself, without cache misses, packing, epilogue or loop nest. *f32-tile4x12* and",
    `*f32-tile5x8* (fewer loads per multiply-add) ${
      slower("f32-tile4x12") && slower("f32-tile5x8")
        ? "are slower than 4×8 in both builds: V8 spills their accumulators to the stack inside the loop (seen with `--print-wasm-code`), so 4×8 is the largest tile that stays in registers; with stores in the loop their rates also vary from process to process (stack and data land at other addresses each run), so read them as slower, not as exact ceilings"
        : "show whether a larger tile pays (compare with 4×8)"
    }.`,
    `*i16-dot-reg*: \`i32x4.dot_i16x8_s\` alone, ${r("i16-dot-reg/simd")} GOP/s = ${fix((rate["i16-dot-reg/simd"] ?? Number.NaN) / ghz / 16, 2)} dots/cycle`,
    `(8 multiply-adds each): the int8 peak; *i16-dot-add-reg* puts the \`i32x4.add\` in each chain as well`,
    `(${r("i16-dot-add-reg/simd")}); *i8-tile4x8s*: matmul_i8's split-panel inner loop as it is now (4-row strips) on L1`,
    `data, ${r("i8-tile4x8s/simd")} GOP/s = ${share("i8-tile4x8s/simd", "i16-dot-reg/simd")} of the dot peak (*i8-tile4x8*, a pointer per row: ${r("i8-tile4x8/simd")}). *i8-relaxed-dot16*: the`,
    `relaxed byte dot to i16 + pairwise widening + add, 16 multiply-adds per step: ${r("i8-relaxed-dot16/relaxed")} GOP/s, ${fix(dot16VsDot, 2)}× the \`dot_i16x8_s\` peak (V8 lowers it to pmaddubsw +`,
    "pmaddwd, the same multiply pipes); *i8-relaxed-dot-add* (`i32x4.relaxed_dot_i8x16_i7x16_add_s`,",
    `${r("i8-relaxed-dot-add/relaxed")} GOP/s) ${relaxedDotAddText(rows)}.`,
    "",
    `**How they bound the GEMMs.** matmul_f32 reaches ${ofCeil("matmul_f32, SIMD", "f32-tile4x8s/simd")} of its tile loop's`,
    `ceiling and ${ofCeil("matmul_f32, SIMD", "f32-reg/simd")} of the mulps + addps peak; the relaxed build ${ofCeil("matmul_f32, relaxed", "f32-tile4x8s/relaxed")} and`,
    `${ofCeil("matmul_f32, relaxed", "f32-reg/relaxed")} of the FMA peak; matmul_i8 ${ofCeil("matmul_i8, SIMD", "i8-tile4x8s/simd")} of its tile loop and`,
    `${ofCeil("matmul_i8, SIMD", "i16-dot-reg/simd")} of the dot peak. The gap to the tile loop is what cache misses, packing, the loop nest`,
    "and the epilogue cost; the gap between the tile loop and the register-only peak is the cost of the",
    "tile's loads.",
  ];
  const webF32 = ortWebRates("ort-web");
  const webI8 = ortWebRates("ort-web-int8");
  if (webF32.length && webI8.length) {
    lines.push(
      "",
      `**Issue #9's targets.** onnxruntime-web runs these GEMMs at ${range(webF32)} GFLOP/s f32 and ${range(webI8)}`,
      "GOP/s int8 (kernels section above), so the largest GEMM speed-up over it that each ceiling allows",
      "is (ceiling / its fastest – slowest shape): f32 SIMD (≤ 0.67× its time needs 1.5×)",
      `${verdict(rate["f32-reg/simd"] ?? Number.NaN, webF32, 1.5)}; f32 relaxed (≤ 0.5× needs 2×)`,
      `${verdict(rate["f32-reg/relaxed"] ?? Number.NaN, webF32, 2)}; int8 on the dot peak`,
      `${verdict(rate["i16-dot-reg/simd"] ?? Number.NaN, webI8, 1.5)}, and on the current tile loop`,
      `${verdict(rate["i8-tile4x8s/simd"] ?? Number.NaN, webI8, 1.5)}; int8 relaxed (best int8 peak)`,
      `${verdict(relaxedI8, webI8, 2)}. These bound the GEMMs only: a whole model also runs attention,`,
      "norms and activations, where onnxruntime-web may be slower or faster than ours.",
    );
  }
  return lines.join("\n");
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
