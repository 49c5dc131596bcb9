// bench/ort-models-check.ts — checks the onnxruntime whole-model setup (ort-models.ts) against the Hugging
// Face goldens in bench/perf/<model>/golden.json on onnxruntime-web and onnxruntime-node, then prints
// single-thread times.
//
// 1. Correctness, for every model × engine × dtype: encoder graphs on the golden's 32 input ids, first 8
//    values of token 0 within 1e-4 (f32) or 1.5× the golden's own int8-vs-HF max abs diff (int8), plus the
//    sum, L2 and per-token means (printed; f32 L2 within 1e-4 relative). t5-small: greedy ids equal
//    `greedy_ids` (f32) / `onnxruntime_int8_greedy_ids` (int8), and its encoder output as above.
// 2. Speed: median ms at seq 128, batch 1 for MiniLM-L6 f32/int8 on both engines (--time=all: every
//    encoder model), and t5-small ms per generated token (from the greedy check's runs).
//
// Usage: npx tsx bench/ort-models-check.ts [--models=bert-minilm-l6,t5-small] [--engines=web,node]
//          [--min-time-ms=1000] [--time=minilm|all|none]
//   (or node bench/run.mjs ort-models-check …). First run writes ~1.3 GB of data files to bench/.cache/.
// Exits 1 when a check fails.

import {
  type DType,
  type Engine,
  ortEncoderMs,
  ortT5GreedyMsPerToken,
  PERF_MODELS,
  type PerfModelName,
  preparePerfModel,
} from "./ort-models.ts";

function arg(name: string, fallback: string): string {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : fallback;
}

const models = arg("models", PERF_MODELS.join(",")).split(",") as PerfModelName[];
const engines = arg("engines", "web,node").split(",") as Engine[];
const minTimeMs = Number(arg("min-time-ms", "1000"));
const timeMode = arg("time", "minilm");
const DTYPES: DType[] = ["f32", "int8"];

interface EncoderGolden {
  input_ids: number[] | number[][];
  last_hidden_state_first8_of_token0: number[];
  last_hidden_state_sum: number;
  last_hidden_state_l2: number;
  last_hidden_state_token_means: number[];
  onnxruntime_int8_max_abs_diff_vs_hf?: number;
  device_cpu_onnxruntime_ms_seq128_1thread?: Record<DType, number>;
}

interface T5Golden {
  input_ids: number[][];
  attention_mask: number[][];
  greedy_ids: number[][];
  onnxruntime_int8_greedy_ids?: number[][];
  encoder_last_hidden_state: { first8: number[]; sum: number; l2: number };
  device_cpu_onnxruntime_ms_per_decode_step_1thread?: Record<DType, number>;
}

let failures = 0;
const fmt = (x: number, d = 2) => x.toExponential(d);

function report(ok: boolean, line: string): void {
  if (!ok) failures++;
  console.log(`${ok ? "ok  " : "FAIL"} ${line}`);
}

function summarize(out: Float32Array, hidden: number) {
  let sum = 0;
  let sq = 0;
  const tokens = out.length / hidden;
  const means: number[] = [];
  for (let t = 0; t < tokens; t++) {
    let s = 0;
    for (let j = 0; j < hidden; j++) {
      const v = out[t * hidden + j];
      s += v;
      sq += v * v;
    }
    sum += s;
    means.push(s / hidden);
  }
  return { sum, l2: Math.sqrt(sq), means };
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let e = 0;
  for (let i = 0; i < b.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]));
  return e;
};

async function checkEncoder(model: PerfModelName, golden: EncoderGolden): Promise<void> {
  for (const engine of engines)
    for (const dtype of DTYPES) {
      const r = await ortEncoderMs({
        model,
        engine,
        dtype,
        inputIds: golden.input_ids,
        minTimeMs: 0,
        warmup: 0,
        minRuns: 1,
      });
      const hidden = r.dims[2];
      const first = maxAbsDiff(r.output, golden.last_hidden_state_first8_of_token0);
      const s = summarize(r.output, hidden);
      const l2rel = Math.abs(s.l2 - golden.last_hidden_state_l2) / golden.last_hidden_state_l2;
      const meanDiff = maxAbsDiff(s.means, golden.last_hidden_state_token_means);
      const tol = dtype === "f32" ? 1e-4 : 1.5 * (golden.onnxruntime_int8_max_abs_diff_vs_hf ?? 0.1);
      const ok = first <= tol && (dtype !== "f32" || l2rel <= 1e-4);
      report(
        ok,
        `${model} ${engine} ${dtype}: first8 max|Δ| ${fmt(first)} (tol ${fmt(tol, 1)}), ` +
          `sum ${s.sum.toFixed(4)} vs ${golden.last_hidden_state_sum.toFixed(4)}, L2 rel Δ ${fmt(l2rel)}, ` +
          `token means max|Δ| ${fmt(meanDiff)}`,
      );
    }
}

async function checkT5(golden: T5Golden): Promise<Record<string, number>> {
  const perToken: Record<string, number> = {};
  const enc = golden.encoder_last_hidden_state;
  for (const engine of engines)
    for (const dtype of DTYPES) {
      const e = await ortEncoderMs({
        model: "t5-small",
        engine,
        dtype,
        inputIds: golden.input_ids,
        attentionMask: golden.attention_mask,
        minTimeMs: 0,
        warmup: 0,
        minRuns: 1,
      });
      const first = maxAbsDiff(e.output, enc.first8);
      const s = summarize(e.output, e.dims[2]);
      const tol = dtype === "f32" ? 1e-4 : 0.15;
      report(
        first <= tol,
        `t5-small encoder ${engine} ${dtype}: first8 max|Δ| ${fmt(first)} (tol ${fmt(tol, 1)}), ` +
          `sum ${s.sum.toFixed(3)} vs ${enc.sum.toFixed(3)}, L2 ${s.l2.toFixed(4)} vs ${enc.l2.toFixed(4)}`,
      );
      const want =
        dtype === "int8" ? (golden.onnxruntime_int8_greedy_ids ?? golden.greedy_ids) : golden.greedy_ids;
      const g = await ortT5GreedyMsPerToken({
        engine,
        dtype,
        inputIds: golden.input_ids,
        attentionMask: golden.attention_mask,
        maxNewTokens: want[0].length - 1,
        repeats: 3,
      });
      const same = JSON.stringify(g.ids) === JSON.stringify(want);
      report(
        same,
        `t5-small greedy ${engine} ${dtype}: ${g.steps} tokens ${same ? "equal the golden" : `differ: ${JSON.stringify(g.ids)}`}` +
          ` (${g.msPerToken.toFixed(2)} ms/token, encoder ${g.encoderMs.toFixed(1)} ms, cross_kv ${g.crossKvMs.toFixed(1)} ms, ` +
          `${golden.input_ids[0].length} input tokens)`,
      );
      perToken[`${engine} ${dtype}`] = g.msPerToken;
    }
  return perToken;
}

const timeModels: PerfModelName[] =
  timeMode === "none"
    ? []
    : timeMode === "all"
      ? models.filter((m) => m !== "t5-small")
      : models.includes("bert-minilm-l6")
        ? ["bert-minilm-l6"]
        : [];

console.log(`onnxruntime 1.30.0, node ${process.version}, one thread; models: ${models.join(", ")}`);
let t5PerToken: Record<string, number> | null = null;
for (const model of models) {
  const prepared = await preparePerfModel(model);
  if (model === "t5-small") t5PerToken = await checkT5(prepared.golden as unknown as T5Golden);
  else await checkEncoder(model, prepared.golden as unknown as EncoderGolden);
}

if (timeModels.length || t5PerToken) console.log("\nsingle-thread times (median, this machine):");
for (const model of timeModels) {
  const golden = (await preparePerfModel(model)).golden as unknown as EncoderGolden;
  for (const engine of engines)
    for (const dtype of DTYPES) {
      const r = await ortEncoderMs({ model, engine, dtype, seq: 128, batch: 1, minTimeMs, warmup: 3 });
      const rec = golden.device_cpu_onnxruntime_ms_seq128_1thread?.[dtype];
      console.log(
        `  ${model.padEnd(16)} seq 128 batch 1  ${engine.padEnd(4)} ${dtype.padEnd(4)} ${r.medianMs.toFixed(1).padStart(7)} ms` +
          `  (${r.runs} runs${rec ? `; golden.json's native record: ${rec.toFixed(1)} ms` : ""})`,
      );
    }
}
if (t5PerToken)
  for (const [k, v] of Object.entries(t5PerToken))
    console.log(`  t5-small greedy  ms per token     ${k.padEnd(9)} ${v.toFixed(2).padStart(7)} ms`);

console.log(failures ? `\n${failures} check(s) FAILED` : "\nall checks passed");
process.exit(failures ? 1 : 0);
