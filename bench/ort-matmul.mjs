// bench/ort-matmul.mjs — the onnxruntime side of the linear-layer (MatMul + bias) benchmarks.
//
// ortLinearGflops() builds a one-layer ONNX model with ./onnx-builder.mjs (f32, or the int8 pattern
// onnxruntime's quantize_dynamic emits), runs it single-threaded on onnxruntime-web (SIMD wasm,
// loaded in Node from the package's own dist/ files, no network) or onnxruntime-node (native CPU EP),
// and reports GFLOP/s = 2·M·K·N / median session.run time, plus the output so callers can check
// that the engines agree with ours. Dependencies are installed on first use (./ensure-deps.mjs).

import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { ensureBenchDeps } from "./ensure-deps.mjs";
import { buildLinearInt8Model, buildLinearModel } from "./onnx-builder.mjs";

const require = createRequire(import.meta.url);

let webPromise = null;
let nodePromise = null;

/** onnxruntime-web, configured once: 1 thread (no workers), no proxy worker, SIMD wasm from dist/. */
function loadWeb() {
  webPromise ??= (async () => {
    await ensureBenchDeps();
    const ort = await import("onnxruntime-web"); // "node" export condition → dist/ort.node.min.mjs
    // The Node build would find its files next to ort.node.min.mjs by itself (via import.meta.url);
    // we pin them explicitly to the package's own dist/ so nothing is ever looked up elsewhere.
    const dist = dirname(require.resolve("onnxruntime-web/ort-wasm-simd-threaded.wasm"));
    ort.env.wasm.wasmPaths = {
      mjs: pathToFileURL(join(dist, "ort-wasm-simd-threaded.mjs")).href,
      wasm: pathToFileURL(join(dist, "ort-wasm-simd-threaded.wasm")).href,
    };
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    ort.env.wasm.simd = true;
    ort.env.logLevel = "error";
    return ort;
  })();
  return webPromise;
}

function loadNode() {
  nodePromise ??= (async () => {
    await ensureBenchDeps();
    const mod = await import("onnxruntime-node");
    const ort = mod.default ?? mod;
    ort.env.logLevel = "error";
    return ort;
  })();
  return nodePromise;
}

/** HF Linear W[N][K] (row-major) → Wt[K][N] (row-major) as ONNX MatMul wants. */
function transpose(weight, N, K) {
  const wT = new Float32Array(K * N);
  for (let n = 0; n < N; n++) {
    const row = n * K;
    for (let k = 0; k < K; k++) wT[k * N + n] = weight[row + k];
  }
  return wT;
}

function median(xs) {
  const s = Float64Array.from(xs).sort();
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Time Y = x·Wᵀ + b on onnxruntime, single-threaded.
 * @param {object} p
 * @param {"web"|"node"} p.engine   onnxruntime-web (wasm EP, SIMD, 1 thread) or onnxruntime-node (cpu EP, 1 intra/inter-op thread)
 * @param {"f32"|"int8"} p.dtype    f32 MatMul, or quantize_dynamic-style int8 (per-tensor symmetric int8 weights, dynamic uint8 activations)
 * @param {number} p.M
 * @param {number} p.K
 * @param {number} p.N
 * @param {Float32Array} p.weight   [N*K], Hugging Face Linear layout W[out][in]
 * @param {Float32Array} p.bias     [N]
 * @param {Float32Array} p.x        [M*K]
 * @param {number} [p.minTimeMs=1000]  keep timing until at least this much time and minRuns runs
 * @param {number} [p.warmup=5]     untimed runs first
 * @param {number} [p.minRuns=20]
 * @returns {Promise<{gflops: number, medianMs: number, output: Float32Array, runs: number}>}
 *   output is the [M*N] result of the last timed run.
 */
export async function ortLinearGflops({
  engine,
  dtype,
  M,
  K,
  N,
  weight,
  bias,
  x,
  minTimeMs = 1000,
  warmup = 5,
  minRuns = 20,
}) {
  if (engine !== "web" && engine !== "node")
    throw new TypeError(`engine must be "web" or "node", got ${engine}`);
  if (dtype !== "f32" && dtype !== "int8") throw new TypeError(`dtype must be "f32" or "int8", got ${dtype}`);
  if (weight?.length !== N * K) throw new RangeError(`weight must have N*K = ${N * K} elements`);
  if (bias?.length !== N) throw new RangeError(`bias must have N = ${N} elements`);
  if (x?.length !== M * K) throw new RangeError(`x must have M*K = ${M * K} elements`);

  const ort = engine === "web" ? await loadWeb() : await loadNode();
  const weightT = transpose(weight, N, K);
  const model = (dtype === "f32" ? buildLinearModel : buildLinearInt8Model)({
    K,
    N,
    weightT,
    bias: Float32Array.from(bias),
  });
  const options =
    engine === "web"
      ? { executionProviders: ["wasm"], graphOptimizationLevel: "all" }
      : {
          executionProviders: ["cpu"],
          intraOpNumThreads: 1,
          interOpNumThreads: 1,
          executionMode: "sequential",
          graphOptimizationLevel: "all",
        };
  const session = await ort.InferenceSession.create(model, options);
  try {
    const feeds = { X: new ort.Tensor("float32", Float32Array.from(x), [M, K]) };
    let result;
    for (let i = 0; i < warmup; i++) result = await session.run(feeds);

    const times = [];
    const start = performance.now();
    for (;;) {
      const t0 = performance.now();
      result = await session.run(feeds);
      const t1 = performance.now();
      times.push(t1 - t0);
      if (times.length >= minRuns && t1 - start >= minTimeMs) break;
    }
    const medianMs = median(times);
    const output = Float32Array.from(result.Y.data);
    return { gflops: (2 * M * K * N) / (medianMs * 1e6), medianMs, output, runs: times.length };
  } finally {
    await session.release?.();
  }
}
