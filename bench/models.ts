// Whole-model benchmark (npm run bench:models [-- --json FILE] [--models bert-minilm-l6,bert-base]):
// ms per forward pass for MiniLM-L6- and BERT-base-shaped encoders with weights generated from the perf
// manifests, at T = 16 and 128 (batch 1) and T = 128 batch 8, f32 and int8: ours (SIMD, and relaxed
// SIMD where the engine runs it) against onnxruntime-web (WASM, one thread) and onnxruntime-node (one
// thread) on the same weights and the same token ids, in the same run. Rewrites the models section of
// BENCHMARKS.md and writes JSON rows {model, engine, dtype, seq, batch, ms}.
import { readFileSync, writeFileSync } from "node:fs";
import { generateParam, type WeightsManifest } from "../src/io/manifest-weights.ts";
import { writeSafetensors } from "../src/io/safetensors.ts";
import { BertModel } from "../src/models/bert.ts";
import { bertConfigFromJson } from "../src/models/bert-config.ts";
import { TensorStore } from "../src/models/tensors.ts";
import { createRuntime, type KernelRuntime } from "../src/runtime/load.ts";
import { WASM_RELAXED_URL, WASM_URL } from "../src/runtime/node.ts";
import { ortEncoderMs, type PerfModelName } from "./ort-models.ts";
import { jsonArg, machineLine, markdownTable, type Row, table, writeSection } from "./report.ts";
import { benchT5Small } from "./t5-small.ts";
import { timeIt } from "./timing.ts";

const SHAPES: [number, number][] = [
  [16, 1],
  [128, 1],
  [128, 8],
];

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function perfFile(model: string, file: string): string {
  return new URL(`./perf/${model}/${file}`, import.meta.url).pathname;
}

function loadStore(model: PerfModelName): TensorStore {
  const manifest = JSON.parse(
    readFileSync(perfFile(model, "weights_manifest.json"), "utf8"),
  ) as WeightsManifest;
  const tensors: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
  for (const p of manifest.params) tensors[p.name] = { dtype: "F32", shape: p.shape, data: generateParam(p) };
  return TensorStore.fromBytes([{ bytes: writeSafetensors(tensors), name: `${model}.safetensors` }]);
}

/** The token ids both engines see: deterministic, inside the vocabulary, [CLS] … [SEP]. */
function ids(V: number, seq: number, batch: number): number[][] {
  return Array.from({ length: batch }, (_, b) =>
    Array.from({ length: seq }, (_, t) =>
      t === 0 ? 101 : t === seq - 1 ? 102 : 1000 + ((t * 7919 + b * 104729) % (V - 1000)),
    ),
  );
}

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

async function main() {
  const models = (arg("models") ?? "bert-minilm-l6,bert-base,t5-small").split(",") as PerfModelName[];
  const engines = await runtimes();
  const rows: Row[] = [];
  for (const model of models) {
    if (model === "t5-small") {
      rows.push(...(await benchT5Small(engines)));
      continue;
    }
    const config = bertConfigFromJson(JSON.parse(readFileSync(perfFile(model, "config.json"), "utf8")));
    const store = loadStore(model);
    for (const dtype of ["f32", "int8"] as const) {
      for (const { name, rt } of engines) {
        const mark = rt.arena.mark();
        const m = new BertModel(rt, config, store, { dtype });
        for (const [seq, batch] of SHAPES) {
          const tokens = ids(config.vocabSize, seq, batch);
          const input = { inputIds: Int32Array.from(tokens.flat()), batch, seq };
          const heavy = seq * batch * config.hiddenSize > 128 * 8 * 384;
          const t = timeIt(() => m.forward(input), {
            warmup: heavy ? 1 : 3,
            minRuns: heavy ? 3 : 10,
            minMs: heavy ? 1000 : 1500,
          });
          rows.push({ model, part: "encoder", engine: name, dtype, seq, batch, ms: t.medianMs });
        }
        rt.arena.reset(mark);
      }
      for (const engine of ["web", "node"] as const) {
        for (const [seq, batch] of SHAPES) {
          const tokens = ids(config.vocabSize, seq, batch);
          const heavy = seq * batch * config.hiddenSize > 128 * 8 * 384;
          const r = await ortEncoderMs({
            model,
            engine,
            dtype,
            inputIds: tokens,
            minTimeMs: heavy ? 1000 : 1500,
            minRuns: heavy ? 3 : 10,
            warmup: heavy ? 1 : 3,
          });
          rows.push({ model, part: "encoder", engine: `ort-${engine}`, dtype, seq, batch, ms: r.medianMs });
          if (dtype === "f32" && seq === 16 && engine === "node") {
            const ours = new BertModel(engines[0].rt, config, store).forward({
              inputIds: Int32Array.from(tokens.flat()),
              batch,
              seq,
            });
            const d = maxAbsDiff(ours.lastHiddenState, r.output);
            console.error(
              `${model}: ours vs onnxruntime-node f32 last_hidden_state max |diff| = ${d.toExponential(2)}`,
            );
            if (d > 1e-3) throw new Error(`${model}: ours and onnxruntime disagree (max |diff| ${d})`);
          }
        }
      }
      console.error(`${model} ${dtype} done`);
    }
  }
  const cols = ["model", "part", "engine", "dtype", "seq", "batch", "ms", "ids_match"];
  console.log(table(rows, cols));
  const summary = ratios(rows);
  console.log(`\n${summary}`);
  const md = [
    "## Whole models (`npm run bench:models`)",
    "",
    `Machine: ${machineLine()}. Median ms per encoder forward pass (to last_hidden_state) for batch × seq`,
    "tokens, and for T5-small greedy decoding ms per generated token (batch 1, 20 tokens, KV cache; ours",
    "includes the one-time cross-attention K/V projection, onnxruntime's excludes its cross_kv graph).",
    "Weights generated from `bench/perf/*/weights_manifest.json`; onnxruntime runs the perf graphs with",
    "data files written from the recipes (int8 = `quantize_dynamic`). Same token ids for every engine;",
    "`ids_match`: greedy ids equal the Hugging Face golden.",
    "",
    "### Ratios (ours / onnxruntime, lower is faster)",
    "",
    summary,
    "",
    "### All rows",
    "",
    markdownTable(rows, cols),
  ].join("\n");
  writeSection(new URL("../BENCHMARKS.md", import.meta.url).pathname, "models", md);
  const jsonFile = jsonArg(process.argv);
  if (jsonFile) writeFileSync(jsonFile, JSON.stringify(rows, null, 2));
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

await main();
