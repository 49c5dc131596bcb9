// bench/startup-child.mjs — one cold start, in a fresh process (spawned by bench/engines.ts): import the
// engine, load one model, run one forward pass; print one JSON line with the times and the peak memory.
//
//   node [--experimental-wasm-relaxed-simd] bench/startup-child.mjs '<json spec>'
//   spec: { engine: "ours-simd" | "ours-relaxed" | "ort-web" | "ort-node", dtype: "f32" | "int8",
//           ids: number[][] ([B,T]),
//           ours: { bundle, wasm, wasmRelaxed, dir } (dir: config.json + model.safetensors),
//           ort: { graph, data, dataFile, webDist } }
//   prints: { cold_ms, import_ms, load_ms, first_ms, peak_mb, base_mb, head: first 8 outputs of token 0 }
//
// cold_ms runs from just before the engine's import() to the first result; the model files are read
// inside that window (the parent reads them once first, so they come from the page cache). Ours opens
// the checkpoint as a Node app does (TensorStore.fromSources over a file source: what openTensors /
// loadBertDir in "edgeformer/node" do), so each tensor is read from the file straight into wasm memory;
// onnxruntime gets the graph and its data as bytes, as its API takes them. Peak memory
// is the process's high-water resident set (VmHWM, or getrusage's maxrss where /proc is missing);
// base_mb is the resident set before the import (Node itself).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";

function statusMiB(field) {
  try {
    const m = readFileSync("/proc/self/status", "utf8").match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
    if (m) return Number(m[1]) / 1024;
  } catch {}
  return undefined;
}

function peakMiB() {
  return statusMiB("VmHWM") ?? process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB
}

const spec = JSON.parse(process.argv[2] ?? "null");
if (!spec || !Array.isArray(spec.ids)) {
  console.error("usage: node bench/startup-child.mjs '<json spec>' (see the header)");
  process.exit(2);
}
const batch = spec.ids.length;
const seq = spec.ids[0].length;
const base_mb = statusMiB("VmRSS") ?? process.memoryUsage().rss / 2 ** 20;

async function ours(relaxed) {
  const t0 = performance.now();
  const ef = await import(pathToFileURL(spec.ours.bundle).href);
  const simd = readFileSync(spec.ours.wasm);
  const rt = relaxed
    ? await ef.createRuntime({ simd, relaxedSimd: readFileSync(spec.ours.wasmRelaxed) })
    : await ef.createRuntime({ simd, relaxed: false });
  if (relaxed && !rt.relaxed) throw new Error("relaxed SIMD did not validate on this engine");
  const t1 = performance.now();
  const config = ef.bertConfigFromJson(JSON.parse(readFileSync(join(spec.ours.dir, "config.json"), "utf8")));
  const source = ef.fileSource(join(spec.ours.dir, "model.safetensors"));
  const store = ef.TensorStore.fromSources([{ source, name: "model.safetensors" }]);
  const model = new ef.BertModel(rt, config, store, { dtype: spec.dtype });
  const t2 = performance.now();
  const out = model.forward({ inputIds: Int32Array.from(spec.ids.flat()), batch, seq });
  const head = Array.from(out.lastHiddenState.subarray(0, 8));
  const t3 = performance.now();
  return { t0, t1, t2, t3, head };
}

async function ort(kind) {
  const t0 = performance.now();
  let mod;
  if (kind === "web") {
    mod = await import("onnxruntime-web");
    const dist = spec.ort.webDist;
    mod.env.wasm.wasmPaths = {
      mjs: pathToFileURL(join(dist, "ort-wasm-simd-threaded.mjs")).href,
      wasm: pathToFileURL(join(dist, "ort-wasm-simd-threaded.wasm")).href,
    };
    mod.env.wasm.numThreads = 1;
    mod.env.wasm.proxy = false;
  } else {
    const m = await import("onnxruntime-node");
    mod = m.default ?? m;
  }
  mod.env.logLevel = "error";
  const t1 = performance.now();
  const session =
    kind === "web"
      ? await mod.InferenceSession.create(new Uint8Array(readFileSync(spec.ort.graph)), {
          executionProviders: ["wasm"],
          graphOptimizationLevel: "all",
          externalData: [{ path: spec.ort.dataFile, data: readFileSync(spec.ort.data) }],
        })
      : await mod.InferenceSession.create(spec.ort.graph, {
          executionProviders: ["cpu"],
          intraOpNumThreads: 1,
          interOpNumThreads: 1,
          executionMode: "sequential",
          graphOptimizationLevel: "all",
        });
  const t2 = performance.now();
  const dims = [batch, seq];
  const i64 = (vals) => new mod.Tensor("int64", BigInt64Array.from(vals, BigInt), dims);
  const feeds = {};
  for (const name of session.inputNames) {
    if (name === "input_ids") feeds[name] = i64(spec.ids.flat());
    else if (name === "attention_mask") feeds[name] = i64(new Array(batch * seq).fill(1));
    else if (name === "token_type_ids") feeds[name] = i64(new Array(batch * seq).fill(0));
    else throw new Error(`unexpected graph input ${name}`);
  }
  const result = await session.run(feeds);
  const out = result.last_hidden_state ?? result[session.outputNames[0]];
  const head = Array.from(out.data.subarray(0, 8));
  const t3 = performance.now();
  return { t0, t1, t2, t3, head };
}

const runners = {
  "ours-simd": () => ours(false),
  "ours-relaxed": () => ours(true),
  "ort-web": () => ort("web"),
  "ort-node": () => ort("node"),
};
const run = runners[spec.engine];
if (!run) {
  console.error(
    `unknown engine ${JSON.stringify(spec.engine)} (expected ${Object.keys(runners).join(", ")})`,
  );
  process.exit(2);
}
const r = await run();
process.stdout.write(
  `${JSON.stringify({
    cold_ms: r.t3 - r.t0,
    import_ms: r.t1 - r.t0,
    load_ms: r.t2 - r.t1,
    first_ms: r.t3 - r.t2,
    peak_mb: peakMiB(),
    base_mb,
    head: r.head,
  })}\n`,
);
// onnxruntime-web keeps no worker alive with numThreads = 1 and proxy = false, but exit explicitly so a
// native thread pool cannot hold the process open.
process.exit(0);
