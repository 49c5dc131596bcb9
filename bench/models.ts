// Whole-model benchmark (npm run bench:models [-- --json FILE] [--models a,b] [--seqs 16,128,512]
// [--batches 1,8] [--quick] [--no-startup] [--md FILE]): ms per forward pass for MiniLM-L6- and
// BERT-base-shaped encoders and the T5-small encoder over a grid of sequence lengths × batch sizes
// (default 16, 128, 512 × 1, 8), f32 and int8, with weights generated from the perf manifests: ours (SIMD,
// and relaxed SIMD where the engine runs it) against onnxruntime-web (WASM, one thread) and
// onnxruntime-node (one thread) on the same weights and token ids, in the same run; T5-small greedy
// decoding ms per token (t5-small.ts); then cold start, peak memory and engine sizes (engines.ts).
// Each cell: one warm-up run (the first cell of a loaded model warms up ≥ 1 s), then min(10 runs, ~2 s),
// median (bench/timing.ts). JSON rows {model, part, engine, dtype, seq, batch, ms, runs} plus, for the
// part "startup" rows, cold_ms and peak_mb. Full runs rewrite the models and engines sections of
// BENCHMARKS.md and bench/results/{models,engines}.json; --quick runs (1 run per cell, to check the code
// works) write Markdown only with --md FILE and never the results.
import { readFileSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { BertModel } from "../src/models/bert.ts";
import { bertConfigFromJson } from "../src/models/bert-config.ts";
import { createRuntime, type KernelRuntime } from "../src/runtime/load.ts";
import { WASM_RELAXED_URL, WASM_URL } from "../src/runtime/node.ts";
import { engineSizes, enginesSection, measureStartup } from "./engines.ts";
import { ArgError, benchIds, type GridOptions, parseGridArgs } from "./grid.ts";
import { openOrtEncoder, type PerfModelName } from "./ort-models.ts";
import { perfFile, perfStore } from "./perf-weights.ts";
import {
  machineLine,
  markdownTable,
  markdownTarget,
  type Row,
  table,
  today,
  writeResults,
  writeSection,
} from "./report.ts";
import { benchT5Small } from "./t5-small.ts";
import { type CellPolicy, cellPolicy, FULL_CELL, QUICK_CELL, timeCell } from "./timing.ts";

async function runtimes(): Promise<{ name: string; rt: KernelRuntime }[]> {
  const simd = readFileSync(WASM_URL);
  const list = [{ name: "edgeformer-simd", rt: await createRuntime({ simd, relaxed: false }) }];
  const relaxed = await createRuntime({ simd, relaxedSimd: readFileSync(WASM_RELAXED_URL) });
  if (relaxed.relaxed) list.push({ name: "edgeformer-relaxed", rt: relaxed });
  else console.error("relaxed SIMD is not available on this engine: skipping its rows");
  return list;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function benchBert(
  model: PerfModelName,
  engines: { name: string; rt: KernelRuntime }[],
  shapes: [number, number][],
  base: CellPolicy,
  progress: (msg: string) => void,
): Promise<Row[]> {
  const config = bertConfigFromJson(JSON.parse(readFileSync(perfFile(model, "config.json"), "utf8")));
  const store = perfStore(model);
  const rows: Row[] = [];
  for (const dtype of ["f32", "int8"] as const) {
    let reference: Float32Array | undefined; // ours (SIMD, f32) at the first cell, checked against onnxruntime-node
    for (const { name, rt } of engines) {
      const mark = rt.arena.mark();
      const m = new BertModel(rt, config, store, { dtype });
      let state: { first: boolean; lastRunMs?: number } = { first: true };
      for (const [seq, batch] of shapes) {
        const input = {
          inputIds: Int32Array.from(benchIds("bert", config.vocabSize, seq, batch).flat()),
          batch,
          seq,
        };
        const t = timeCell(() => m.forward(input), cellPolicy(base, state));
        if (dtype === "f32" && !reference && name === "edgeformer-simd")
          reference = Float32Array.from(m.forward(input).lastHiddenState);
        state = { first: false, lastRunMs: t.medianMs };
        rows.push({ model, part: "encoder", engine: name, dtype, seq, batch, ms: t.medianMs, runs: t.runs });
        progress(`${model} ${name} ${dtype} ${seq}×${batch}: ${t.medianMs.toFixed(1)} ms (${t.runs} runs)`);
      }
      rt.arena.reset(mark);
    }
    for (const engine of ["web", "node"] as const) {
      const h = await openOrtEncoder(model, engine, dtype);
      try {
        let state: { first: boolean; lastRunMs?: number } = { first: true };
        for (const [seq, batch] of shapes) {
          const r = await h.time(benchIds("bert", config.vocabSize, seq, batch), cellPolicy(base, state));
          state = { first: false, lastRunMs: r.medianMs };
          rows.push({
            model,
            part: "encoder",
            engine: `ort-${engine}`,
            dtype,
            seq,
            batch,
            ms: r.medianMs,
            runs: r.runs,
          });
          progress(
            `${model} ort-${engine} ${dtype} ${seq}×${batch}: ${r.medianMs.toFixed(1)} ms (${r.runs} runs)`,
          );
          if (reference && engine === "node" && seq === shapes[0][0] && batch === shapes[0][1]) {
            const d = maxAbsDiff(reference, r.output);
            progress(
              `${model}: ours vs onnxruntime-node f32 last_hidden_state max |diff| = ${d.toExponential(2)}`,
            );
            if (!(d <= 1e-3)) throw new Error(`${model}: ours and onnxruntime disagree (max |diff| ${d})`);
          }
        }
      } finally {
        await h.release();
      }
    }
  }
  return rows;
}

async function main(opts: GridOptions) {
  const base = opts.quick ? QUICK_CELL : FULL_CELL;
  const t0 = performance.now();
  const progress = (msg: string) =>
    console.error(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${msg}`);
  const engines = await runtimes();
  const rows: Row[] = [];
  for (const model of opts.models) {
    if (model === "t5-small") rows.push(...(await benchT5Small(engines, opts.shapes, base, progress)));
    else rows.push(...(await benchBert(model, engines, opts.shapes, base, progress)));
  }
  const cols = ["model", "part", "engine", "dtype", "seq", "batch", "ms", "runs", "ids_match"];
  if (rows.length) {
    console.log(table(rows, cols));
    console.log(`\n${ratios(rows)}`);
  }
  let startup: Row[] = [];
  if (opts.startup) {
    startup = await measureStartup({ repeats: opts.quick ? 1 : 3, progress });
    console.log(
      `\n${table(startup, ["engine", "dtype", "cold_ms", "import_ms", "load_ms", "ms", "peak_mb", "runs"])}`,
    );
  }
  const md = markdownTarget(opts.quick, opts.md);
  if (md) {
    if (rows.length) writeSection(md, "models", modelsSection(rows));
    if (opts.startup) writeSection(md, "engines", enginesSection(startup, await engineSizes(), today()));
    console.error(`wrote ${md}`);
  }
  if (!opts.quick) {
    if (rows.length) writeResults("models", rows, { shapes: opts.shapes });
    if (opts.startup) writeResults("engines", startup, { sizes: await engineSizes() });
  }
  if (opts.json) writeFileSync(opts.json, JSON.stringify([...rows, ...startup], null, 2));
  progress("done");
}

function modelsSection(rows: Row[]): string {
  return [
    "## Whole models (`npm run bench:models`)",
    "",
    `Machine: ${machineLine()}; ${today()}. Median ms per encoder forward pass (to last_hidden_state) for`,
    "batch × seq tokens, and for T5-small greedy decoding ms per generated token (batch 1, the golden's 41",
    "input tokens, 20 new tokens, KV cache; ours includes the one-time cross-attention K/V projection,",
    "onnxruntime's excludes its cross_kv graph). Weights generated from `bench/perf/*/weights_manifest.json`;",
    "onnxruntime runs the perf graphs with data files written from the recipes (int8 = `quantize_dynamic`).",
    "Same token ids for every engine. Each cell: one warm-up run (the first cell of each loaded model warms",
    "up for ≥ 1 s: wasm tier-up), then 10 timed runs (more for cells under 50 ms: 0.5 s), stopping early",
    "at 2 s (at least one run; `runs` says how many); a cell after one whose single run took > 2 s skips",
    "its warm-up. `ids_match`: greedy ids equal the Hugging Face golden.",
    "",
    "### Ratios (ours / onnxruntime, lower is faster)",
    "",
    ratios(rows),
    "",
    "### All rows",
    "",
    markdownTable(rows, ["model", "part", "engine", "dtype", "seq", "batch", "ms", "runs", "ids_match"]),
  ].join("\n");
}

function ratios(rows: Row[]): string {
  const lines = [
    "| model | part | dtype | seq × batch | simd / ort-web | relaxed / ort-web | simd / ort-node |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  const get = (r: Row, engine: string) =>
    rows.find(
      (x) =>
        x.model === r.model &&
        x.part === r.part &&
        x.dtype === r.dtype &&
        x.seq === r.seq &&
        x.batch === r.batch &&
        x.engine === engine,
    )?.ms as number | undefined;
  for (const r of rows.filter((x) => x.engine === "edgeformer-simd")) {
    const web = get(r, "ort-web");
    const node = get(r, "ort-node");
    const relaxed = get(r, "edgeformer-relaxed");
    const f = (a?: number, b?: number) => (a && b ? `${(a / b).toFixed(2)}×` : "n/a");
    lines.push(
      `| ${r.model} | ${r.part} | ${r.dtype} | ${r.seq} × ${r.batch} | ${f(r.ms as number, web)} | ${f(relaxed, web)} | ${f(r.ms as number, node)} |`,
    );
  }
  return lines.join("\n");
}

try {
  await main(parseGridArgs(process.argv.slice(2)));
} catch (e) {
  if (e instanceof ArgError) {
    console.error(
      `${e.message}\nusage: node bench/run.mjs models [--models a,b] [--seqs 16,128,512] [--batches 1,8] [--quick] [--no-startup] [--md FILE] [--json FILE]`,
    );
    process.exit(2);
  }
  throw e;
}
