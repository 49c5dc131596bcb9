// bench/ort-matmul-check.mjs — sanity check + quick numbers for the onnxruntime linear benchmarks.
//
// 1. Correctness: f32 results of onnxruntime-web and onnxruntime-node vs a plain JS (float64
//    accumulation) reference on a small odd-sized case (M=5, K=37, N=19); exits 1 if off.
// 2. Speed: single-thread GFLOP/s for (M,K,N) = (128,768,768) and (1,512,512), web and node, f32 and
//    int8, with each result's max abs error vs the reference (int8 error is quantization error).
//
// Usage: node bench/ort-matmul-check.mjs [--min-time-ms=500]
// (installs bench/node_modules on first use; see ensure-deps.mjs)

import { ortLinearGflops } from "./ort-matmul.mjs";

const minTimeArg = process.argv.find((a) => a.startsWith("--min-time-ms="));
const minTimeMs = minTimeArg ? Number(minTimeArg.split("=")[1]) : 500;

/** Deterministic uniform [-1, 1) generator (mulberry32). */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2147483648 - 1;
  };
}

function randomCase(M, K, N, seed) {
  const r = rng(seed);
  const fill = (n, s) => Float32Array.from({ length: n }, () => r() * s);
  // weights scaled like a typical init (~1/sqrt(K)), activations O(1)
  return { M, K, N, weight: fill(N * K, 1 / Math.sqrt(K)), bias: fill(N, 0.1), x: fill(M * K, 1) };
}

/** y[m][n] = Σ_k x[m][k]·W[n][k] + b[n], W in HF Linear layout [N][K]. */
function reference({ M, K, N, weight, bias, x }) {
  const y = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[m * K + k] * weight[n * K + k];
      y[m * N + n] = s + bias[n];
    }
  }
  return y;
}

function maxAbsErr(a, b) {
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]));
  return e;
}

let failed = false;

// --- 1. correctness, small case -------------------------------------------------------------
{
  const c = randomCase(5, 37, 19, 1);
  const ref = reference(c);
  for (const engine of ["web", "node"]) {
    for (const dtype of ["f32", "int8"]) {
      const { output } = await ortLinearGflops({ engine, dtype, ...c, minTimeMs: 0, warmup: 1, minRuns: 1 });
      const err = maxAbsErr(output, ref);
      const tol = dtype === "f32" ? 1e-4 : 0.1; // int8: loose bound, it is quantization error
      const ok = output.length === ref.length && err <= tol;
      if (!ok) failed = true;
      console.log(
        `check M=5 K=37 N=19  ${engine.padEnd(4)} ${dtype.padEnd(4)} max abs err ${err.toExponential(2)}  ${ok ? "ok" : `FAIL (tol ${tol})`}`,
      );
    }
  }
}

// --- 2. throughput ---------------------------------------------------------------------------
console.log(`\nsingle thread, median session.run, min ${minTimeMs} ms per row`);
console.log("engine dtype      M    K    N   GFLOP/s   median ms   runs  max abs err");
for (const [M, K, N] of [
  [128, 768, 768],
  [1, 512, 512],
]) {
  const c = randomCase(M, K, N, M * 7919 + K);
  const ref = reference(c);
  for (const engine of ["web", "node"]) {
    for (const dtype of ["f32", "int8"]) {
      const r = await ortLinearGflops({ engine, dtype, ...c, minTimeMs });
      const err = maxAbsErr(r.output, ref);
      if (dtype === "f32" && err > 1e-3) failed = true;
      console.log(
        `${engine.padEnd(6)} ${dtype.padEnd(5)} ${String(M).padStart(4)} ${String(K).padStart(4)} ${String(N).padStart(4)} ` +
          `${r.gflops.toFixed(2).padStart(9)} ${r.medianMs.toFixed(4).padStart(11)} ${String(r.runs).padStart(6)}  ${err.toExponential(2)}`,
      );
    }
  }
}

if (failed) {
  console.error("\nort-matmul-check: FAILED");
  process.exit(1);
}
