// Kernel benchmark (npm run bench:kernels [-- --json FILE]): GEMM GFLOP/s (GOP/s for int8) for our
// SIMD, relaxed-SIMD and int8 kernels and, in the same run on the same numbers, onnxruntime-web (WASM,
// one thread, SIMD) and onnxruntime-node (one thread) MatMul+bias; fused attention at T=128, H=12,
// D=64. Prints a table, rewrites the kernels section of BENCHMARKS.md, optionally writes JSON rows.
import { readFileSync, writeFileSync } from "node:fs";
import { createRuntime, type KernelRuntime } from "../src/runtime/load.ts";
import { WASM_RELAXED_URL, WASM_URL } from "../src/runtime/node.ts";
import { ourGemm } from "./gemm-setup.ts";
// @ts-expect-error plain JS module without types
import { ortLinearGflops } from "./ort-matmul.mjs";
import { random } from "./random.ts";
import { jsonArg, machineLine, markdownTable, type Row, table, writeSection } from "./report.ts";
import { timeIt } from "./timing.ts";

const SHAPES: [number, number, number][] = [
  [128, 384, 1536],
  [128, 1536, 384],
  [128, 768, 768],
  [128, 768, 3072],
  [1, 512, 512],
  [1, 768, 3072],
];
const PEAK_128BIT = 58; // GFLOP/s: two 4-wide FMA pipes at ~3.65 GHz (DESIGN.md §3)

interface Ours {
  name: string;
  rt: KernelRuntime;
}

async function runtimes(): Promise<Ours[]> {
  const simd = readFileSync(WASM_URL);
  const relaxed = readFileSync(WASM_RELAXED_URL);
  const list: Ours[] = [{ name: "simd", rt: await createRuntime({ simd, relaxed: false }) }];
  const r = await createRuntime({ simd, relaxedSimd: relaxed });
  if (r.relaxed) list.push({ name: "relaxed", rt: r });
  else console.error("relaxed SIMD is not available on this engine: skipping the relaxed rows");
  return list;
}

function oursGemm(
  rt: KernelRuntime,
  dtype: "f32" | "int8",
  M: number,
  K: number,
  N: number,
  x: Float32Array,
  w: Float32Array,
  b: Float32Array,
) {
  const g = ourGemm(rt, dtype, M, K, N, x, w, b);
  const t = timeIt(g.run, TIMING);
  const out = rt.arena.readF32(g.y, M * N);
  rt.arena.reset(g.mark);
  return { gflops: (2 * M * K * N) / (t.medianMs * 1e6), out };
}

function oursAttention(rt: KernelRuntime, T: number, H: number, D: number): number {
  const { arena, k } = rt;
  const mark = arena.mark();
  const C = H * D;
  const qkv = arena.put(random(T * 3 * C, 7, 1));
  const out = arena.allocF32(T * C);
  const scratch = arena.alloc(k.attention_scratch_size(T, T, D));
  const keyMask = arena.put(new Int32Array(T).fill(1));
  const t = timeIt(
    () =>
      k.attention_f32(
        out,
        0,
        scratch,
        qkv,
        qkv + C * 4,
        qkv + 2 * C * 4,
        0,
        keyMask,
        1,
        H,
        T,
        T,
        D,
        1 / Math.sqrt(D),
        0,
        0,
        T * 3 * C,
        3 * C,
        T * 3 * C,
        3 * C,
        T * 3 * C,
        3 * C,
        T * C,
        C,
      ),
    TIMING,
  );
  arena.reset(mark);
  return (4 * T * T * D * H) / (t.medianMs * 1e6);
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

// --ours-only: skip onnxruntime (a quick loop while tuning kernels; BENCHMARKS.md is not rewritten)
const oursOnly = process.argv.includes("--ours-only");
// --quick: one timed run per row, to check that the script works (BENCHMARKS.md is not rewritten)
const quick = process.argv.includes("--quick");
/** Timing options of our rows: the full method, or one run for --quick. */
const TIMING = quick ? { warmup: 1, minRuns: 1, minMs: 0 } : { minMs: 800 };

async function main() {
  const ours = await runtimes();
  const rows: Row[] = [];
  for (const [M, K, N] of SHAPES) {
    const name = `gemm ${M}x${K}x${N}`;
    const x = random(M * K, M + K + N, 1);
    const w = random(N * K, K * 3 + N, 0.05);
    const b = random(N, 11, 0.1);
    let ref: Float32Array | undefined;
    for (const o of ours) {
      for (const dtype of ["f32", "int8"] as const) {
        const r = oursGemm(o.rt, dtype, M, K, N, x, w, b);
        if (dtype === "f32" && o.name === "simd") ref = r.out;
        rows.push({
          name,
          impl: `ours-${o.name}${dtype === "int8" ? "-int8" : ""}`,
          M,
          K,
          N,
          gflops: r.gflops,
        });
      }
    }
    for (const engine of oursOnly ? [] : (["web", "node"] as const)) {
      for (const dtype of ["f32", "int8"] as const) {
        const r = await ortLinearGflops({ engine, dtype, M, K, N, weight: w, bias: b, x, minTimeMs: 800 });
        if (dtype === "f32" && ref) {
          const d = maxAbsDiff(r.output, ref);
          if (d > 1e-3) throw new Error(`${name}: onnxruntime-${engine} and ours disagree by ${d}`);
        }
        rows.push({
          name,
          impl: `ort-${engine}${dtype === "int8" ? "-int8" : ""}`,
          M,
          K,
          N,
          gflops: r.gflops,
        });
      }
    }
    console.error(`${name} done`);
  }
  for (const o of ours) {
    rows.push({
      name: "attention T=128 H=12 D=64",
      impl: `ours-${o.name}`,
      M: 128,
      K: 64,
      N: 128,
      gflops: oursAttention(o.rt, 128, 12, 64),
    });
  }

  const cols = ["name", "impl", "M", "K", "N", "gflops"];
  console.log(table(rows, cols));
  const summary = summarize(rows);
  console.log(`\n${summary}`);

  if (oursOnly || quick) return;
  const md = [
    "## Kernels (`npm run bench:kernels`)",
    "",
    `Machine: ${machineLine()}. GFLOP/s = 2·M·K·N / median time (GOP/s for int8), after warm-up, at`,
    "least 20 runs and 0.8 s per row. onnxruntime rows run MatMul+Add (f32) and the `quantize_dynamic`",
    "pattern (int8: per-tensor int8 weights, dynamic uint8 activations) on the same numbers, single thread.",
    `Targets (issue 2): f32 SIMD ≥ 1.4× onnxruntime-web at M = 128 and ≥ 65% of the ~${PEAK_128BIT} GFLOP/s`,
    "128-bit peak; relaxed ≥ 1.8× onnxruntime-web; int8 ≥ 1.8× our own f32.",
    "",
    "### Ratios",
    "",
    summary,
    "",
    "### All rows",
    "",
    markdownTable(rows, cols),
  ].join("\n");
  writeSection(new URL("../BENCHMARKS.md", import.meta.url).pathname, "kernels", md);
  const jsonFile = jsonArg(process.argv);
  if (jsonFile) writeFileSync(jsonFile, JSON.stringify(rows, null, 2));
}

function summarize(rows: Row[]): string {
  const get = (name: string, impl: string) =>
    rows.find((r) => r.name === name && r.impl === impl)?.gflops as number | undefined;
  const lines = [
    "| shape | simd / ort-web | relaxed / ort-web | int8 / our f32 | simd % of peak | ort-node / simd |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  for (const [M, K, N] of SHAPES) {
    const name = `gemm ${M}x${K}x${N}`;
    const simd = get(name, "ours-simd") ?? Number.NaN;
    const relaxed = get(name, "ours-relaxed");
    const web = get(name, "ort-web") ?? Number.NaN;
    const node = get(name, "ort-node") ?? Number.NaN;
    const int8 = get(name, "ours-simd-int8") ?? Number.NaN;
    const r = (v: number) => `${v.toFixed(2)}×`;
    lines.push(
      `| ${M}×${K}×${N} | ${r(simd / web)} | ${relaxed ? r(relaxed / web) : "n/a"} | ${r(int8 / simd)} | ${((100 * simd) / PEAK_128BIT).toFixed(0)}% | ${r(node / simd)} |`,
    );
  }
  return lines.join("\n");
}

await main();
