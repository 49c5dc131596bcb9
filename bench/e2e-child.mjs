// bench/e2e-child.mjs — one engine, end to end (text in → mean-pooled, L2-normalized embedding out), in a
// fresh process (spawned by bench/e2e.ts):
//
//   node [--experimental-wasm-relaxed-simd] bench/e2e-child.mjs '<json spec>'
//   spec: { engine: "edgeformer-simd" | "edgeformer-relaxed" | "transformers.js-wasm" | "transformers.js-node",
//           dtype: "f32" | "int8", texts: string[] (batch 1 = texts[0], batch 8 = all),
//           policy: { warmupRuns, warmupMs, firstWarmupMs, maxRuns, minMs, budgetMs } (bench/timing.ts CellPolicy),
//           ours: { bundle, wasm, wasmRelaxed, dir }, hf: { root, id, externalData: {path, file}, webDist } }
//   prints: { cold_ms, peak_mb, cells: [{ batch, seq, ms, runs }], tokens: number[], embeddings: number[][] }
//
// cold_ms: from just before the engine's import() to the first embedding of texts[0]. Then batch 1 and
// batch 8 are timed: warm-up (the first for at least firstWarmupMs: wasm tier-up), timed runs until maxRuns
// (and minMs) or budgetMs, median — the same rule as timeCell in bench/timing.ts.
// transformers.js runs its feature-extraction pipeline (pooling "mean", normalize true) offline from a
// local folder. "-node" is its Node default, device "cpu" = onnxruntime-node, with one intra-op thread.
// "-wasm": transformers.js in Node offers no "wasm" device, so its own onnxruntime-web (the version it
// ships for browsers) is handed to it through globalThis[Symbol.for("onnxruntime")], the hook it checks
// before picking a backend; numThreads = 1, SIMD build, executionProviders ["wasm"] (device "auto").
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";

const spec = JSON.parse(process.argv[2] ?? "null");
if (!spec || !Array.isArray(spec.texts) || spec.texts.length === 0) {
  console.error("usage: node bench/e2e-child.mjs '<json spec>' (see the header)");
  process.exit(2);
}

function peakMiB() {
  try {
    const m = readFileSync("/proc/self/status", "utf8").match(/^VmHWM:\s+(\d+) kB/m);
    if (m) return Number(m[1]) / 1024;
  } catch {}
  return process.resourceUsage().maxRSS / 1024;
}

function median(xs) {
  const s = Float64Array.from(xs).sort();
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function timeCell(fn, p, first) {
  const warmupMs = first ? Math.max(p.warmupMs, p.firstWarmupMs) : p.warmupMs;
  const w0 = performance.now();
  for (let i = 0; i < p.warmupRuns || (i > 0 && performance.now() - w0 < warmupMs); i++) await fn();
  const times = [];
  const start = performance.now();
  for (;;) {
    const elapsed = performance.now() - start;
    if (times.length > 0 && (elapsed >= p.budgetMs || (times.length >= p.maxRuns && elapsed >= p.minMs)))
      break;
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return { ms: median(times), runs: times.length };
}

/** → { embed(texts) → { embeddings: Float32Array[], tokens: number[], seq } } */
async function loadOurs(relaxed) {
  const ef = await import(pathToFileURL(spec.ours.bundle).href);
  const simd = readFileSync(spec.ours.wasm);
  const rt = relaxed
    ? await ef.createRuntime({ simd, relaxedSimd: readFileSync(spec.ours.wasmRelaxed) })
    : await ef.createRuntime({ simd, relaxed: false });
  if (relaxed && !rt.relaxed) throw new Error("relaxed SIMD did not validate on this engine");
  const dir = spec.ours.dir;
  const text = (name) => readFileSync(join(dir, name), "utf8");
  const tokenizer = ef.loadTokenizerFromFiles({
    tokenizerJson: text("tokenizer.json"),
    tokenizerConfig: text("tokenizer_config.json"),
  });
  const config = ef.bertConfigFromJson(JSON.parse(text("config.json")));
  const store = ef.TensorStore.fromBytes([
    { bytes: readFileSync(join(dir, "model.safetensors")), name: "model.safetensors" },
  ]);
  const pipeline = { tokenizer, model: new ef.BertModel(rt, config, store, { dtype: spec.dtype }) };
  return {
    embed(texts) {
      const r = ef.embed(pipeline, texts, { pooling: "mean", normalize: true });
      return { embeddings: r.embeddings, tokens: r.tokenCounts };
    },
    seq(texts) {
      return Math.max(...texts.map((t) => tokenizer.encode(t).ids.length));
    },
  };
}

async function loadTransformers(kind) {
  const hf = spec.hf;
  let sessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1 };
  if (kind === "wasm") {
    const ort = await import(pathToFileURL(join(hf.webDist, "ort.node.min.mjs")).href);
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    ort.env.wasm.wasmPaths = {
      mjs: pathToFileURL(join(hf.webDist, "ort-wasm-simd-threaded.mjs")).href,
      wasm: pathToFileURL(join(hf.webDist, "ort-wasm-simd-threaded.wasm")).href,
    };
    globalThis[Symbol.for("onnxruntime")] = ort;
    sessionOptions = {
      executionProviders: ["wasm"],
      externalData: [{ path: hf.externalData.path, data: hf.externalData.file }],
    };
  }
  const tf = await import("@huggingface/transformers");
  tf.env.allowRemoteModels = false;
  tf.env.allowLocalModels = true;
  tf.env.localModelPath = hf.root;
  tf.env.useFSCache = false;
  tf.env.useWasmCache = false;
  const pipe = await tf.pipeline("feature-extraction", hf.id, {
    dtype: spec.dtype === "int8" ? "q8" : "fp32",
    device: kind === "wasm" ? "auto" : "cpu",
    session_options: sessionOptions,
  });
  const versions = tf.env.backends.onnx.versions ?? {};
  if (kind === "wasm" ? !versions.web || versions.node : !versions.node)
    throw new Error(`transformers.js runs on the wrong onnxruntime: ${JSON.stringify(versions)}`);
  return {
    async embed(texts) {
      const out = await pipe(texts, { pooling: "mean", normalize: true });
      const [B, C] = out.dims;
      const embeddings = Array.from({ length: B }, (_, b) => out.data.subarray(b * C, (b + 1) * C));
      const mask = pipe.tokenizer(texts, { padding: true }).attention_mask;
      const T = mask.dims[1];
      const tokens = Array.from({ length: B }, (_, b) =>
        Array.from(mask.data.subarray(b * T, (b + 1) * T)).reduce((a, x) => a + Number(x), 0),
      );
      return { embeddings, tokens };
    },
    seq(texts) {
      return pipe.tokenizer(texts, { padding: true }).input_ids.dims[1];
    },
  };
}

const loaders = {
  "edgeformer-simd": () => loadOurs(false),
  "edgeformer-relaxed": () => loadOurs(true),
  "transformers.js-wasm": () => loadTransformers("wasm"),
  "transformers.js-node": () => loadTransformers("node"),
};
const load = loaders[spec.engine];
if (!load) {
  console.error(
    `unknown engine ${JSON.stringify(spec.engine)} (expected ${Object.keys(loaders).join(", ")})`,
  );
  process.exit(2);
}

const t0 = performance.now();
const engine = await load();
await engine.embed([spec.texts[0]]);
const cold_ms = performance.now() - t0;
const cells = [];
for (const batch of [1, spec.texts.length]) {
  const texts = spec.texts.slice(0, batch);
  const t = await timeCell(() => engine.embed(texts), spec.policy, cells.length === 0);
  cells.push({ batch, seq: engine.seq(texts), ms: t.ms, runs: t.runs });
}
const all = await engine.embed(spec.texts);
process.stdout.write(
  `${JSON.stringify({
    cold_ms,
    peak_mb: peakMiB(),
    cells,
    tokens: all.tokens,
    embeddings: all.embeddings.map((e) => Array.from(e)),
  })}\n`,
);
process.exit(0);
