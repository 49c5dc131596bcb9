// Per-engine costs besides speed: cold start (fresh process: import the engine → first result) and
// peak memory (the process's high-water resident set after loading + one forward pass) on MiniLM-L6,
// seq 128, batch 1, f32 and int8, for ours (SIMD, relaxed SIMD), onnxruntime-web (WASM, one thread)
// and onnxruntime-node (one thread); and the size of each engine's .wasm (raw and gzip -9).
// Each measurement is a child process (bench/startup-child.mjs), so module caches, compiled wasm and
// JIT state never carry over; children run interleaved, `repeats` times each, and the median is kept.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { WASM_RELAXED_URL, WASM_URL } from "../src/runtime/node.ts";
import { bundleEdgeformer } from "./bundle.ts";
// @ts-expect-error plain JS module without types
import { BENCH_DIR, ensureBenchDeps } from "./ensure-deps.mjs";
import { benchIds } from "./grid.ts";
import { type DType, preparePerfModel } from "./ort-models.ts";
import { oursCheckpointDir } from "./perf-weights.ts";
import { machineLine, markdownTable, type Row } from "./report.ts";
import { median } from "./timing.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MODEL = "bert-minilm-l6";
const SEQ = 128;
const BATCH = 1;
const CHILD = fileURLToPath(new URL("./startup-child.mjs", import.meta.url));
export const STARTUP_ENGINES = ["edgeformer-simd", "edgeformer-relaxed", "ort-web", "ort-node"] as const;
const CHILD_ENGINE: Record<(typeof STARTUP_ENGINES)[number], string> = {
  "edgeformer-simd": "ours-simd",
  "edgeformer-relaxed": "ours-relaxed",
  "ort-web": "ort-web",
  "ort-node": "ort-node",
};

/** V8 flags for children: relaxed SIMD is behind a flag on Node 20 (as in bench/run.mjs). */
export function childFlags(): string[] {
  return Number(process.versions.node.split(".")[0]) === 20 ? ["--experimental-wasm-relaxed-simd"] : [];
}

/** Runs `node <flags> script <json>` and parses the last stdout line as JSON. */
export function runChild(
  script: string,
  spec: unknown,
  timeoutMs = 600_000,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...childFlags(), script, JSON.stringify(spec)], {
      cwd: BENCH_DIR,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      const last = out.trim().split("\n").pop() ?? "";
      if (code !== 0) {
        reject(new Error(`${relative(ROOT, script)} failed (${signal ?? `exit ${code}`}):\n${err.trim()}`));
        return;
      }
      try {
        resolve(JSON.parse(last) as Record<string, unknown>);
      } catch {
        reject(new Error(`${relative(ROOT, script)} printed no JSON result:\n${out}\n${err}`));
      }
    });
  });
}

/** Whether this Node validates our relaxed-SIMD build (children get the same flags as this process). */
function relaxedAvailable(): boolean {
  return WebAssembly.validate(readFileSync(WASM_RELAXED_URL));
}

export interface StartupOptions {
  /** child processes per engine × dtype (median kept); default 3 */
  repeats?: number;
  progress?: (msg: string) => void;
}

/** Cold start and peak memory rows: {model, part: "startup", engine, dtype, seq, batch, ms (first pass), cold_ms, peak_mb, …}. */
export async function measureStartup({
  repeats = 3,
  progress = () => {},
}: StartupOptions = {}): Promise<Row[]> {
  await ensureBenchDeps();
  const require = createRequire(join(BENCH_DIR, "package.json"));
  const webDist = dirname(require.resolve("onnxruntime-web/ort-wasm-simd-threaded.wasm"));
  const bundle = await bundleEdgeformer();
  const prepared = await preparePerfModel(MODEL);
  const ids = benchIds("bert", Number(prepared.config.vocab_size), SEQ, BATCH);
  const engines = STARTUP_ENGINES.filter((e) => e !== "edgeformer-relaxed" || relaxedAvailable());
  if (engines.length < STARTUP_ENGINES.length)
    progress("relaxed SIMD does not validate here: no relaxed rows");
  const specs: { engine: string; dtype: DType; spec: unknown }[] = [];
  for (const dtype of ["f32", "int8"] as const) {
    const dir = await oursCheckpointDir(MODEL, dtype);
    const g = prepared.graphs.model[dtype];
    // read every file once so all children find them in the page cache
    for (const f of [join(dir, "model.safetensors"), g.graph, g.data]) readFileSync(f);
    for (const engine of engines)
      specs.push({
        engine,
        dtype,
        spec: {
          engine: CHILD_ENGINE[engine],
          dtype,
          ids,
          ours: {
            bundle,
            wasm: fileURLToPath(WASM_URL),
            wasmRelaxed: fileURLToPath(WASM_RELAXED_URL),
            dir,
          },
          ort: { graph: g.graph, data: g.data, dataFile: g.dataFile, webDist },
        },
      });
  }
  const results = new Map<string, Record<string, unknown>[]>();
  for (let r = 0; r < repeats; r++)
    for (const s of specs) {
      const res = await runChild(CHILD, s.spec);
      const key = `${s.engine}|${s.dtype}`;
      results.set(key, [...(results.get(key) ?? []), res]);
      progress(
        `startup ${s.engine} ${s.dtype} #${r + 1}: ${(res.cold_ms as number).toFixed(0)} ms, ${(res.peak_mb as number).toFixed(0)} MiB`,
      );
    }
  checkHeads(results);
  const rows: Row[] = [];
  for (const s of specs) {
    const list = results.get(`${s.engine}|${s.dtype}`)!;
    const med = (k: string) => median(list.map((x) => x[k] as number));
    rows.push({
      model: MODEL,
      part: "startup",
      engine: s.engine,
      dtype: s.dtype,
      seq: SEQ,
      batch: BATCH,
      ms: med("first_ms"),
      cold_ms: med("cold_ms"),
      peak_mb: med("peak_mb"),
      import_ms: med("import_ms"),
      load_ms: med("load_ms"),
      base_mb: med("base_mb"),
      runs: list.length,
    });
  }
  return rows;
}

/** Every f32 engine's first result must agree with onnxruntime-node's (same weights, same ids). */
function checkHeads(results: Map<string, Record<string, unknown>[]>): void {
  const ref = results.get("ort-node|f32")?.[0]?.head as number[] | undefined;
  if (!ref) return;
  for (const [key, list] of results) {
    if (!key.endsWith("|f32")) continue;
    const head = list[0].head as number[];
    const d = Math.max(...head.map((v, i) => Math.abs(v - ref[i])));
    if (!(d <= 1e-3))
      throw new Error(`startup: ${key} first result differs from onnxruntime-node f32 (max |diff| ${d})`);
  }
}

export interface WasmSize {
  engine: string;
  file: string;
  bytes: number;
  gzip_bytes: number;
  /** what the file is used for */
  note: string;
}

function sizeOf(engine: string, path: string, note: string): WasmSize {
  const bytes = readFileSync(path);
  return {
    engine,
    file: relative(ROOT, path),
    bytes: bytes.byteLength,
    gzip_bytes: gzipSync(bytes, { level: 9 }).byteLength,
    note,
  };
}

/** Sizes of our two builds, onnxruntime-web's wasm files (ours pinned, and transformers.js's own), and onnxruntime-node's native libraries. */
export async function engineSizes(): Promise<WasmSize[]> {
  await ensureBenchDeps();
  const out = [
    sizeOf("edgeformer", fileURLToPath(WASM_URL), "SIMD build"),
    sizeOf("edgeformer", fileURLToPath(WASM_RELAXED_URL), "relaxed-SIMD build"),
  ];
  const require = createRequire(join(BENCH_DIR, "package.json"));
  const variant: Record<string, string> = {
    "ort-wasm-simd-threaded.wasm": "CPU",
    "ort-wasm-simd-threaded.jsep.wasm": "CPU + WebGPU/WebNN (JSEP)",
    "ort-wasm-simd-threaded.asyncify.wasm": "CPU + WebGPU (asyncify)",
    "ort-wasm-simd-threaded.jspi.wasm": "CPU + WebGPU (JSPI)",
  };
  // which file each comparison actually runs (the others are the package's other variants)
  const runs: Record<string, Record<string, string>> = {
    ours: { "ort-wasm-simd-threaded.wasm": "the ort-web rows" },
    tfjs: {
      "ort-wasm-simd-threaded.wasm": "transformers.js-wasm here",
      "ort-wasm-simd-threaded.asyncify.wasm": "transformers.js's default in browsers",
    },
  };
  const webDirs: [string, string, Record<string, string>][] = [
    [
      `onnxruntime-web ${pkgVersion("onnxruntime-web")}`,
      dirname(require.resolve("onnxruntime-web/ort-wasm-simd-threaded.wasm")),
      runs.ours,
    ],
  ];
  const tfjsWeb = join(BENCH_DIR, "node_modules/@huggingface/transformers/node_modules/onnxruntime-web/dist");
  if (existsSync(tfjsWeb)) {
    const v = JSON.parse(readFileSync(join(tfjsWeb, "../package.json"), "utf8")).version as string;
    const tf = pkgVersion("@huggingface/transformers");
    webDirs.push([
      `onnxruntime-web ${v.replace(/-dev\..*$/, "-dev")} (in transformers.js ${tf})`,
      tfjsWeb,
      runs.tfjs,
    ]);
  }
  for (const [engine, dir, used] of webDirs)
    for (const f of readdirSync(dir)
      .filter((n) => /^ort-wasm-simd-threaded.*\.wasm$/.test(n))
      .sort())
      out.push(
        sizeOf(
          engine,
          join(dir, f),
          [variant[f] ?? "", used[f] && `run by ${used[f]}`].filter(Boolean).join("; "),
        ),
      );
  const nodeBin = join(
    BENCH_DIR,
    "node_modules/onnxruntime-node/bin/napi-v6",
    process.platform,
    process.arch,
  );
  if (existsSync(nodeBin))
    for (const f of readdirSync(nodeBin).sort())
      if (statSync(join(nodeBin, f)).isFile())
        out.push(
          sizeOf(
            `onnxruntime-node ${pkgVersion("onnxruntime-node")}`,
            join(nodeBin, f),
            "native library (no wasm)",
          ),
        );
  return out;
}

/** A package's version from bench/node_modules (its exports may hide package.json from require). */
function pkgVersion(name: string): string {
  return JSON.parse(readFileSync(join(BENCH_DIR, "node_modules", name, "package.json"), "utf8")).version;
}

const KiB = (n: number) => Math.round(n / 1024);

/** The "engines" section of BENCHMARKS.md: cold start and memory (when measured) and sizes. */
export function enginesSection(startup: Row[] | undefined, sizes: WasmSize[], date: string): string {
  const lines = ["## Engines: cold start, peak memory, `.wasm` size (`npm run bench:models`)", ""];
  if (!startup?.length) lines.push("Cold start and peak memory: not yet measured on a quiet machine.", "");
  else {
    const get = (engine: string, dtype: string, k: string) =>
      startup.find((r) => r.engine === engine && r.dtype === dtype)?.[k] as number | undefined;
    lines.push(
      `Machine: ${machineLine()}; ${date}. MiniLM-L6 (\`bench/perf/bert-minilm-l6\`), seq ${SEQ}, batch ${BATCH}.`,
      "Each cell is a fresh `node` process (bench/startup-child.mjs; median of",
      `${startup[0].runs} processes per cell, run interleaved). cold start = from just before the engine's`,
      "`import()` to the first last_hidden_state: import (ours: our bundled public API, built by esbuild,",
      "plus compiling and instantiating our .wasm; onnxruntime-web compiles its wasm inside session",
      "creation), load (read the model files — page cache warm — and build the model or session: our",
      "safetensors checkpoint, f32 or our int8 format; onnxruntime's perf graph plus its data file, int8 =",
      "`quantize_dynamic`), and one forward pass. peak RSS = the process's high-water resident set",
      "(VmHWM) after that pass, Node's own included; Node = the resident set before the import.",
      "",
      markdownTable(
        startup.map((r) => ({
          engine: r.engine,
          dtype: r.dtype,
          "cold start ms": r.cold_ms,
          "import ms": r.import_ms,
          "load ms": r.load_ms,
          "first pass ms": r.ms,
          "peak RSS MiB": r.peak_mb,
          "Node MiB": r.base_mb,
        })),
        [
          "engine",
          "dtype",
          "cold start ms",
          "import ms",
          "load ms",
          "first pass ms",
          "peak RSS MiB",
          "Node MiB",
        ],
      ),
      "",
    );
    const ratio = (e: string, d: string) => {
      const a = get(e, d, "cold_ms");
      const b = get("ort-web", d, "cold_ms");
      return a && b ? `${(a / b).toFixed(2)}×` : "n/a";
    };
    lines.push(
      `Cold start / onnxruntime-web's (target ≤ 0.2×): SIMD f32 ${ratio("edgeformer-simd", "f32")}, int8 ${ratio("edgeformer-simd", "int8")}; relaxed f32 ${ratio("edgeformer-relaxed", "f32")}, int8 ${ratio("edgeformer-relaxed", "int8")}.`,
      "",
    );
  }
  lines.push(
    "### Engine binaries",
    "",
    "Sizes of the files each engine downloads or loads (gzip -9 for what a CDN would send); onnxruntime-node",
    "has no wasm: its native libraries are listed for comparison.",
    "",
    markdownTable(
      sizes.map((s) => ({
        engine: s.engine,
        file: `\`${s.file.replace(/^bench\/node_modules\//, "")}\``,
        use: s.note,
        KiB: KiB(s.bytes),
        "gzip KiB": KiB(s.gzip_bytes),
      })),
      ["engine", "file", "use", "KiB", "gzip KiB"],
    ),
  );
  return lines.join("\n");
}
