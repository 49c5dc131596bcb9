// Training benchmark (node bench/run.mjs train [--json FILE]; npm run bench:train): full pretraining steps
// (MLM + NSP forward, backward, global-norm clipping, AdamW, re-packing) of a BERT-mini shape (4 layers,
// 256 hidden, 4 heads, 1024 FFN, 30522-token vocab) at sequence 128 on synthetic batches, with 1 and 2
// threads (src/train/parallel.ts), through the same code path as `edgeformer pretrain bert`. Reports
// tokens/s, model GFLOP/s (3 × the forward's matmul and attention FLOPs, the usual convention) and the
// share of our forward GEMM throughput (matmul_f32 at the FFN shape M = batch·seq, K 256, N 1024, timed
// in the same run) a whole training step reaches. Rewrites the "train" section of BENCHMARKS.md.
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { performance } from "node:perf_hooks";
import { bertConfigFromJson } from "../src/models/bert-config.ts";
import type { KernelRuntime } from "../src/runtime/load.ts";
import { loadRuntime } from "../src/runtime/node.ts";
import { type BertBatch, BertTrainer } from "../src/train/bert-train.ts";
import { mulberry32 } from "../src/train/data/index.ts";
import { DataParallel } from "../src/train/parallel.ts";
import { ADAMW_DEFAULTS } from "../src/train/params.ts";
import { DEFAULT_CONFIG } from "../src/train/pretrain.ts";
import { jsonArg, machineLine, markdownTable, type Row, table, writeSection } from "./report.ts";
import { timeIt } from "./timing.ts";

const VOCAB = 30522;
const SEQ = 128;
const BATCH = 16;
const MASKED = 20; // masked tokens per sequence (BERT's max_predictions_per_seq at 128)
const STEPS = 4; // timed steps per thread count (after one warm-up step)

const config = bertConfigFromJson({ ...DEFAULT_CONFIG, vocab_size: VOCAB });
const C = config.hiddenSize;
const F = config.intermediateSize;
const L = config.numLayers;
const H = config.numHeads;

/** A synthetic pretraining batch: random tokens, two segments, MASKED labeled positions per row, NSP labels. */
function syntheticBatch(B: number, T: number, seed: number): BertBatch {
  const r = mulberry32(seed);
  const inputIds = new Int32Array(B * T);
  const tokenTypeIds = new Int32Array(B * T);
  const mlmLabels = new Int32Array(B * T).fill(-100);
  const nextSentenceLabel = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      inputIds[b * T + t] = 5 + Math.floor(r() * (VOCAB - 5));
      tokenTypeIds[b * T + t] = t < T / 2 ? 0 : 1;
    }
    inputIds[b * T] = 2; // [CLS]
    for (let m = 0; m < MASKED; m++) {
      const t = 1 + Math.floor(r() * (T - 1));
      mlmLabels[b * T + t] = inputIds[b * T + t];
      inputIds[b * T + t] = 4; // [MASK]
    }
    nextSentenceLabel[b] = r() < 0.5 ? 0 : 1;
  }
  return {
    inputIds,
    tokenTypeIds,
    attentionMask: new Int32Array(B * T).fill(1),
    mlmLabels,
    nextSentenceLabel,
    batch: B,
    seq: T,
  };
}

/** Forward FLOPs of one batch: encoder GEMMs and attention, MLM head on the masked rows, pooler and NSP. */
function forwardFlops(B: number, T: number, masked: number): number {
  const M = B * T;
  const layer = 2 * M * C * 3 * C + 2 * 2 * B * H * T * T * (C / H) + 2 * M * C * C + 2 * 2 * M * C * F;
  const mlm = 2 * masked * C * C + 2 * masked * C * VOCAB;
  const nsp = 2 * B * C * C + 2 * B * C * 2;
  return L * layer + mlm + nsp;
}

/** Forward GEMM GFLOP/s at the FFN shape of the batch (M = B·T, K = C, N = F). */
function gemmGflops(rt: KernelRuntime, M: number, K: number, N: number): number {
  const { arena, k } = rt;
  const mark = arena.mark();
  const r = mulberry32(11);
  const x = arena.put(Float32Array.from({ length: M * K }, () => r() - 0.5));
  const w = arena.put(Float32Array.from({ length: N * K }, () => (r() - 0.5) * 0.1));
  const b = arena.put(new Float32Array(N));
  const wp = arena.alloc(k.packed_size_f32(N, K));
  k.pack_weights_f32(wp, w, N, K);
  const y = arena.allocF32(M * N);
  const t = timeIt(() => k.matmul_f32(y, 0, x, wp, b, 0, M, K, N, 0), { minMs: 1000, minRuns: 10 });
  arena.reset(mark);
  return (2 * M * K * N) / (t.medianMs * 1e6);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function measure(rt: KernelRuntime, threads: number) {
  const trainer = new BertTrainer(rt, config, { arch: "BertForPreTraining", seed: 1 });
  const dp = await DataParallel.create(trainer, threads);
  const batches = Array.from({ length: STEPS + 1 }, (_, i) => syntheticBatch(BATCH, SEQ, 100 + i));
  const step: number[] = [];
  const grad: number[] = [];
  const update: number[] = [];
  let loss = 0;
  try {
    for (let i = 0; i <= STEPS; i++) {
      const t0 = performance.now();
      const s = await dp.lossAndGrad([batches[i]]);
      const t1 = performance.now();
      const { scale } = trainer.params.clipScale(1);
      trainer.adamwStep({ ...ADAMW_DEFAULTS, lr: 1e-4 }, scale);
      dp.paramsChanged();
      const t2 = performance.now();
      loss = s.loss;
      if (i === 0) continue; // warm-up
      step.push(t2 - t0);
      grad.push(t1 - t0);
      update.push(t2 - t1);
    }
  } finally {
    await dp.close();
  }
  if (!Number.isFinite(loss)) throw new Error(`loss is ${loss}`);
  return {
    stepMs: median(step),
    gradMs: median(grad),
    updateMs: median(update),
    params: trainer.params.count,
  };
}

async function main() {
  const t0 = performance.now();
  const rt = await loadRuntime();
  const build = rt.relaxed ? "relaxed" : "simd";
  const M = BATCH * SEQ;
  const gemm = gemmGflops(rt, M, C, F);
  console.error(`forward GEMM ${M}x${C}x${F} (${build}): ${gemm.toFixed(1)} GFLOP/s`);
  const flops = 3 * forwardFlops(BATCH, SEQ, BATCH * MASKED);
  const rows: Row[] = [];
  let base = 0;
  for (const threads of [1, 2]) {
    if (threads > cpus().length) console.error(`note: ${threads} threads on ${cpus().length} cores`);
    // each thread count on a fresh runtime (the main thread's), so memory from the last run is not reused
    const r = await measure(threads === 1 ? rt : await loadRuntime(), threads);
    const gflops = flops / (r.stepMs * 1e6);
    if (threads === 1) base = r.stepMs;
    rows.push({
      threads,
      build,
      batch: BATCH,
      seq: SEQ,
      "step ms": r.stepMs,
      "grad ms": r.gradMs,
      "update ms": r.updateMs,
      "tokens/s": Math.round((M * 1000) / r.stepMs),
      "GFLOP/s": gflops,
      "% of GEMM": `${((100 * gflops) / (gemm * threads)).toFixed(0)}%`,
      speedup: `${(base / r.stepMs).toFixed(2)}×`,
      params: r.params,
    });
    console.error(`${threads} thread(s): ${r.stepMs.toFixed(0)} ms/step`);
  }
  const cols = [
    "threads",
    "build",
    "batch",
    "seq",
    "step ms",
    "grad ms",
    "update ms",
    "tokens/s",
    "GFLOP/s",
    "% of GEMM",
    "speedup",
  ];
  console.log(table(rows, cols));
  console.log(
    `\nforward GEMM ${M}×${C}×${F}: ${gemm.toFixed(1)} GFLOP/s; ${(flops / 1e9).toFixed(1)} GFLOP per step`,
  );

  const md = [
    "## Training (`npm run bench:train`)",
    "",
    `Machine: ${machineLine().replace(", one thread", "")}. One BERT pretraining step (MLM + NSP forward and backward,`,
    "global-norm clipping, AdamW, weight re-packing) of BERT-mini (4 layers, hidden 256, 4 heads, FFN 1024,",
    `vocab ${VOCAB}, ${((rows[0].params as number) / 1e6).toFixed(1)}M parameters) on synthetic batches of ${BATCH} × ${SEQ} tokens with ${MASKED} masked tokens per sequence,`,
    `through the trainer's data-parallel path (src/train/parallel.ts); median of ${STEPS} steps after one warm-up.`,
    "GFLOP/s counts 3 × the forward's matmul and attention FLOPs (backward = 2 × forward);",
    `"% of GEMM" compares it with our forward matmul_f32 at the FFN shape (${M}×${C}×${F}: ${gemm.toFixed(1)} GFLOP/s, same`,
    "run and build) times the thread count. grad = forward + backward (and, with 2 threads, the gradient sum);",
    "update = clipping norm + AdamW + re-packing, on the main thread.",
    "",
    markdownTable(rows, cols),
  ].join("\n");
  writeSection(new URL("../BENCHMARKS.md", import.meta.url).pathname, "train", md);
  const json = jsonArg(process.argv);
  if (json) writeFileSync(json, JSON.stringify({ gemmGflops: gemm, flopsPerStep: flops, rows }, null, 2));
  console.error(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

await main();
