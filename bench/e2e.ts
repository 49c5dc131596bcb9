// End-to-end benchmark (npm run bench:e2e [-- --quick] [--md FILE] [--json FILE]): text in → mean-pooled,
// L2-normalized MiniLM-L6 embedding out, tokenizer and pipeline costs included, batch 1 and 8, f32 and
// int8: ours (public API: loadTokenizerFromFiles + BertModel + embed, SIMD and relaxed SIMD) against
// @huggingface/transformers' feature-extraction pipeline, offline on a local folder holding the same
// perf graph and the same generated 30522-entry vocabulary (bench/e2e-folder.ts), on onnxruntime-web
// (WASM, one thread) and on its Node default onnxruntime-node (one thread). Each engine × dtype runs in
// its own process (bench/e2e-child.mjs). Checks: every engine counts the same tokens per text, and its
// embeddings match transformers.js-node f32's (cosine). Rewrites the e2e section of BENCHMARKS.md (full
// runs) and bench/results/e2e.json.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { WASM_RELAXED_URL, WASM_URL } from "../src/runtime/node.ts";
import { bundleEdgeformer } from "./bundle.ts";
import { E2E_TEXTS, HF_MODEL_ID, prepareE2eFolders } from "./e2e-folder.ts";
import { runChild } from "./engines.ts";
// @ts-expect-error plain JS module without types
import { BENCH_DIR, ensureBenchDeps } from "./ensure-deps.mjs";
import { ArgError, flagValue } from "./grid.ts";
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
import { type CellPolicy, QUICK_CELL } from "./timing.ts";

const CHILD = fileURLToPath(new URL("./e2e-child.mjs", import.meta.url));
const ENGINES = ["edgeformer-simd", "edgeformer-relaxed", "transformers.js-wasm", "transformers.js-node"];
const REFERENCE = "transformers.js-node";
/** e2e cells are short: more runs per cell than the model grid for a steadier median. */
const E2E_CELL: CellPolicy = {
  warmupRuns: 1,
  warmupMs: 0,
  firstWarmupMs: 1000,
  maxRuns: 20,
  minMs: 1000,
  budgetMs: 3000,
};

function cosine(a: number[], b: number[]): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

function pkgVersion(dir: string): string {
  return JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).version;
}

async function main(argv: string[]) {
  const quick = argv.includes("--quick");
  await ensureBenchDeps();
  const folders = await prepareE2eFolders();
  const bundle = await bundleEdgeformer();
  const tfjsDir = join(BENCH_DIR, "node_modules/@huggingface/transformers");
  const webDist = join(tfjsDir, "node_modules/onnxruntime-web/dist");
  const versions = {
    transformers: pkgVersion(tfjsDir),
    web: pkgVersion(join(webDist, "..")),
    node: pkgVersion(join(BENCH_DIR, "node_modules/onnxruntime-node")),
  };
  const relaxedOk = WebAssembly.validate(readFileSync(WASM_RELAXED_URL));
  const engines = ENGINES.filter((e) => e !== "edgeformer-relaxed" || relaxedOk);
  if (!relaxedOk) console.error("relaxed SIMD does not validate on this Node: no relaxed rows");
  const policy = quick ? QUICK_CELL : E2E_CELL;
  const rows: Row[] = [];
  const outputs = new Map<string, { tokens: number[]; embeddings: number[][] }>();
  for (const dtype of ["f32", "int8"] as const) {
    const hfDtype = dtype === "int8" ? "q8" : "fp32";
    for (const engine of engines) {
      const res = await runChild(CHILD, {
        engine,
        dtype,
        texts: E2E_TEXTS,
        policy,
        ours: {
          bundle,
          wasm: fileURLToPath(WASM_URL),
          wasmRelaxed: fileURLToPath(WASM_RELAXED_URL),
          dir: folders.ours[dtype],
        },
        hf: { root: folders.hfRoot, id: HF_MODEL_ID, externalData: folders.hfExternalData[hfDtype], webDist },
      });
      outputs.set(`${engine}|${dtype}`, res as unknown as { tokens: number[]; embeddings: number[][] });
      for (const c of res.cells as { batch: number; seq: number; ms: number; runs: number }[]) {
        rows.push({
          model: "bert-minilm-l6",
          part: "e2e",
          engine,
          dtype,
          seq: c.seq,
          batch: c.batch,
          ms: c.ms,
          runs: c.runs,
          ...(c.batch === 1 ? { cold_ms: res.cold_ms as number, peak_mb: res.peak_mb as number } : {}),
        });
        console.error(`e2e ${engine} ${dtype} batch ${c.batch}: ${c.ms.toFixed(1)} ms (${c.runs} runs)`);
      }
    }
  }
  const cos = checkOutputs(outputs);
  for (const r of rows) r.cos_min = cos.get(`${r.engine}|${r.dtype}`) ?? "";
  const cols = ["engine", "dtype", "batch", "seq", "ms", "runs", "cold_ms", "peak_mb", "cos_min"];
  console.log(table(rows, cols));
  const md = markdownTarget(quick, flagValue(argv, "md"));
  if (md) {
    writeSection(md, "e2e", e2eSection(rows, versions));
    console.error(`wrote the e2e section of ${md}`);
  }
  if (!quick) writeResults("e2e", rows, { versions, texts: E2E_TEXTS });
  const json = flagValue(argv, "json");
  if (json) writeFileSync(json, JSON.stringify(rows, null, 2));
}

/** Same token counts everywhere; min cosine of each engine's embeddings against the reference's f32. */
function checkOutputs(
  outputs: Map<string, { tokens: number[]; embeddings: number[][] }>,
): Map<string, number> {
  const ref = outputs.get(`${REFERENCE}|f32`);
  const cos = new Map<string, number>();
  if (!ref) return cos;
  for (const [key, out] of outputs) {
    if (JSON.stringify(out.tokens) !== JSON.stringify(ref.tokens))
      throw new Error(`e2e: ${key} counts tokens ${out.tokens} but ${REFERENCE} counts ${ref.tokens}`);
    const c = Math.min(...out.embeddings.map((e, i) => cosine(e, ref.embeddings[i])));
    if (key.endsWith("|f32") && !(c > 0.999))
      throw new Error(`e2e: ${key} embeddings differ from ${REFERENCE} f32 (min cosine ${c})`);
    cos.set(key, c);
  }
  return cos;
}

function wordRange(): string {
  const n = E2E_TEXTS.map((t) => t.split(/\s+/).length);
  return `${Math.min(...n)}–${Math.max(...n)}`;
}

function e2eSection(rows: Row[], v: { transformers: string; web: string; node: string }): string {
  const ms = (engine: string, dtype: string, batch: number) =>
    rows.find((r) => r.engine === engine && r.dtype === dtype && r.batch === batch)?.ms as number | undefined;
  const ratios: Row[] = [];
  for (const dtype of ["f32", "int8"])
    for (const batch of [1, E2E_TEXTS.length]) {
      const f = (a?: number, b?: number) => (a && b ? `${(a / b).toFixed(2)}×` : "n/a");
      const web = ms("transformers.js-wasm", dtype, batch);
      const node = ms("transformers.js-node", dtype, batch);
      ratios.push({
        dtype,
        batch,
        "simd / tfjs-wasm": f(ms("edgeformer-simd", dtype, batch), web),
        "relaxed / tfjs-wasm": f(ms("edgeformer-relaxed", dtype, batch), web),
        "simd / tfjs-node": f(ms("edgeformer-simd", dtype, batch), node),
      });
    }
  return [
    "## End to end: text → embedding (`npm run bench:e2e`)",
    "",
    `Machine: ${machineLine()}; ${today()}. MiniLM-L6 (perf weights), text in → mean-pooled, L2-normalized`,
    "embedding out, tokenization and pipeline included; batch 1 = the first sentence, batch 8 = eight",
    `sentences of ${wordRange()} words padded to the longest (\`seq\` = padded tokens). Ours: the public API`,
    "(`loadTokenizerFromFiles`, `BertModel`, `embed` with pooling mean, normalize), bundled by esbuild.",
    `transformers.js = \`@huggingface/transformers\` ${v.transformers}, \`pipeline("feature-extraction")\` with`,
    '`{ pooling: "mean", normalize: true }`, offline (`env.allowRemoteModels = false`, `env.localModelPath` =',
    "a generated folder with the same perf ONNX graph, int8 = `model_quantized.onnx` = the `quantize_dynamic`",
    "graph, and the same generated 30522-entry vocabulary). In Node it offers no `wasm` device, so",
    `\`transformers.js-wasm\` hands it its own onnxruntime-web ${v.web} through`,
    '`globalThis[Symbol.for("onnxruntime")]` (the hook it checks first): WASM SIMD, `numThreads = 1`, the',
    `build browsers run on CPU. \`transformers.js-node\` is its Node default, \`device: "cpu"\` = onnxruntime-node ${v.node},`,
    "`intraOpNumThreads: 1`. Each engine × dtype is one fresh process: cold = import → first embedding",
    "(one process, not a median: see the engines section for cold start proper); peak = its VmHWM.",
    "Median ms after warm-up (≥ 1 s), 20 runs or 3 s. `cos_min`: lowest cosine similarity to",
    "transformers.js-node f32's embedding over the eight sentences (same token counts checked).",
    "",
    "### Ratios (lower is faster)",
    "",
    markdownTable(ratios, ["dtype", "batch", "simd / tfjs-wasm", "relaxed / tfjs-wasm", "simd / tfjs-node"]),
    "",
    "### All rows",
    "",
    markdownTable(
      rows.map((r) => ({ ...r, cos_min: typeof r.cos_min === "number" ? r.cos_min.toFixed(5) : "" })),
      ["engine", "dtype", "batch", "seq", "ms", "runs", "cold_ms", "peak_mb", "cos_min"],
    ),
  ].join("\n");
}

try {
  await main(process.argv.slice(2));
} catch (e) {
  if (e instanceof ArgError) {
    console.error(e.message);
    process.exit(2);
  }
  throw e;
}
