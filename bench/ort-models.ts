// bench/ort-models.ts — the onnxruntime side of the whole-model benchmarks (run with tsx: `npx tsx …` or
// `node bench/run.mjs <script>`; TypeScript so it can import the weight generator from src/ directly).
//
// preparePerfModel() builds bench/.cache/<model>/: copies of the graphs in bench/perf/<model>/ plus their
// external data files, written from the *_recipes.json with weights from the manifest generator
// (src/io/manifest-weights.ts; transposed and, for int8, quantized as quantize_dynamic did). Streaming,
// one parameter at a time, so BERT-base f32 never needs more than one copy of its largest tensor.
// ortEncoderMs() times one encoder graph (BERT / T5 encoder) single-threaded on onnxruntime-web (SIMD
// wasm, loaded from the package's dist/) or onnxruntime-node (CPU EP); ortT5GreedyMsPerToken() runs
// greedy decoding for t5-small with encoder → cross_kv → decoder_step and its past KV cache;
// openOrtEncoder() keeps one encoder session open so the grid (bench/models.ts) times many shapes on it.
// Sessions are created per call and released before returning (no weights kept between calls; the
// onnxruntime-web wasm heap never shrinks, though: it stays as large as the biggest model loaded so far).

import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import { generateParam, shapeSize, type WeightsManifest } from "../src/io/manifest-weights.ts";
// @ts-expect-error plain JS module without types
import { ensureBenchDeps } from "./ensure-deps.mjs";
import { type CellPolicy, timeCellAsync } from "./timing.ts";

export type PerfModelName = "bert-minilm-l6" | "bert-base" | "t5-small-encoder" | "t5-small";
export type Engine = "web" | "node";
export type DType = "f32" | "int8";

export const PERF_MODELS: readonly PerfModelName[] = [
  "bert-minilm-l6",
  "bert-base",
  "t5-small-encoder",
  "t5-small",
];
const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const PERF_SRC_DIR = join(BENCH_DIR, "perf");
export const PERF_CACHE_DIR = join(BENCH_DIR, ".cache");

// ---------------------------------------------------------------------------------------------------
// Graph preparation

interface Quantize {
  dtype: "int8" | "uint8";
  scale: number;
  zero_point: number;
  formula?: string;
}

interface Recipe {
  source: string;
  transpose: boolean;
  initializer: string;
  shape: number[];
  dtype: "float32" | "int8" | "uint8";
  offset: number;
  length: number;
  quantize?: Quantize;
}

interface RecipeFile {
  data_file: string;
  data_size: number;
  inline_initializers_kept?: string[];
  recipes: Recipe[];
}

/** One prepared graph: its copy in bench/.cache/<model>/ and its external data file beside it. */
export interface PreparedGraph {
  graph: string; // absolute path of the .onnx copy
  data: string; // absolute path of the external data file
  dataFile: string; // the data file's name as the graph refers to it (for onnxruntime-web's externalData)
  dataSize: number;
}

export interface PreparedModel {
  name: PerfModelName;
  dir: string; // bench/.cache/<model>
  config: Record<string, unknown>;
  golden: Record<string, unknown>;
  /** Keyed by graph ("model" for the encoder folders; "encoder" | "cross_kv" | "decoder_step" for t5-small). */
  graphs: Record<string, Record<DType, PreparedGraph>>;
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

function checkModelName(name: string): asserts name is PerfModelName {
  if (!(PERF_MODELS as readonly string[]).includes(name))
    throw new TypeError(
      `unknown perf model ${JSON.stringify(name)}; expected one of ${PERF_MODELS.join(", ")}`,
    );
}

/** Round half to even (numpy rint) of a float. */
function rintHalfEven(q: number): number {
  const r = Math.round(q); // half-up
  return r - q === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The bytes one recipe contributes to the data file (row-major, little-endian, recipe.shape). */
function recipeBytes(recipe: Recipe, w: Float32Array, srcShape: number[]): Uint8Array {
  const n = shapeSize(recipe.shape);
  if (n !== w.length)
    throw new Error(`${recipe.initializer}: ${n} elements in the recipe, ${w.length} in the source`);
  // element j of the output reads source element src(j)
  let rows = 0;
  let cols = 0;
  if (recipe.transpose) {
    if (srcShape.length !== 2 || recipe.shape[0] !== srcShape[1] || recipe.shape[1] !== srcShape[0])
      throw new Error(`${recipe.initializer}: cannot transpose [${srcShape}] into [${recipe.shape}]`);
    [rows, cols] = srcShape; // source [rows][cols] → output [cols][rows]
  }
  const q = recipe.quantize;
  if (recipe.dtype === "float32") {
    if (q) throw new Error(`${recipe.initializer}: float32 recipe with quantization`);
    if (!recipe.transpose) return new Uint8Array(w.buffer, w.byteOffset, w.byteLength);
    const out = new Float32Array(n);
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      for (let c = 0; c < cols; c++) out[c * rows + r] = w[base + c];
    }
    return new Uint8Array(out.buffer);
  }
  if (!q || q.dtype !== recipe.dtype)
    throw new Error(`${recipe.initializer}: ${recipe.dtype} recipe needs a matching quantize entry`);
  // clip(rint(w / scale) + zero_point): the quotient is a float32 division (float64 division of two
  // float32 values rounded once to float32 is the correctly rounded float32 quotient), then half-to-even.
  const scale = Math.fround(q.scale);
  const zp = q.zero_point;
  const [lo, hi] = q.dtype === "int8" ? [-128, 127] : [0, 255];
  const out = q.dtype === "int8" ? new Int8Array(n) : new Uint8Array(n);
  const quant = (v: number): number => {
    const x = rintHalfEven(Math.fround(v / scale)) + zp;
    return Math.min(Math.max(x, lo), hi);
  };
  if (!recipe.transpose) for (let j = 0; j < n; j++) out[j] = quant(w[j]);
  else
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      for (let c = 0; c < cols; c++) out[c * rows + r] = quant(w[base + c]);
    }
  return new Uint8Array(out.buffer);
}

/** Writes one external data file from its recipes (to a temp file, renamed when complete). */
function writeDataFile(recipes: RecipeFile, manifest: WeightsManifest, path: string): void {
  const params = new Map(manifest.params.map((p) => [p.name, p]));
  const tmp = `${path}.partial-${process.pid}`;
  const fd = openSync(tmp, "w");
  try {
    let cachedName = "";
    let cachedData: Float32Array = new Float32Array(0);
    let written = 0;
    for (const recipe of [...recipes.recipes].sort((a, b) => a.offset - b.offset)) {
      const p = params.get(recipe.source);
      if (!p) throw new Error(`${recipe.initializer}: source ${recipe.source} is not in the manifest`);
      if (cachedName !== p.name) {
        cachedData = new Float32Array(0); // drop the previous parameter before making the next one
        cachedData = generateParam(p);
        cachedName = p.name;
      }
      const bytes = recipeBytes(recipe, cachedData, p.shape);
      if (bytes.byteLength !== recipe.length)
        throw new Error(`${recipe.initializer}: ${bytes.byteLength} bytes, recipe says ${recipe.length}`);
      for (let done = 0; done < bytes.byteLength; )
        done += writeSync(fd, bytes, done, bytes.byteLength - done, recipe.offset + done);
      written = Math.max(written, recipe.offset + recipe.length);
    }
    if (written !== recipes.data_size)
      throw new Error(
        `${recipes.data_file}: recipes cover ${written} bytes, data_size is ${recipes.data_size}`,
      );
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

/**
 * Makes bench/.cache/<name>/ ready: graph copies plus external data files written from the recipes.
 * A data file already present with the recipe's `data_size` is kept (delete bench/.cache to rebuild).
 */
export async function preparePerfModel(name: PerfModelName): Promise<PreparedModel> {
  checkModelName(name);
  const src = join(PERF_SRC_DIR, name);
  const dir = join(PERF_CACHE_DIR, name);
  mkdirSync(dir, { recursive: true });
  let manifest: WeightsManifest | null = null;
  const graphs: PreparedModel["graphs"] = {};
  const recipeNames = name === "t5-small" ? ["encoder", "cross_kv", "decoder_step"] : ["onnx"];
  for (const prefix of recipeNames) {
    const key = name === "t5-small" ? prefix : "model";
    const entry = {} as Record<DType, PreparedGraph>;
    for (const dtype of ["f32", "int8"] as const) {
      const recipes = readJson<RecipeFile>(join(src, `${prefix}_${dtype}_recipes.json`));
      const graphName = recipes.data_file.replace(/\.data$/, "");
      const graph = join(dir, graphName);
      const data = join(dir, recipes.data_file);
      const graphSrc = join(src, graphName);
      if (!existsSync(graph) || statSync(graph).size !== statSync(graphSrc).size)
        copyFileSync(graphSrc, graph);
      if (!existsSync(data) || statSync(data).size !== recipes.data_size) {
        manifest ??= readJson<WeightsManifest>(join(src, "weights_manifest.json"));
        const t0 = performance.now();
        writeDataFile(recipes, manifest, data);
        process.stderr.write(
          `[bench] wrote ${name}/${recipes.data_file} (${(recipes.data_size / 2 ** 20).toFixed(1)} MiB, ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`,
        );
      }
      entry[dtype] = { graph, data, dataFile: recipes.data_file, dataSize: recipes.data_size };
    }
    graphs[key] = entry;
  }
  return {
    name,
    dir,
    config: readJson(join(src, "config.json")),
    golden: readJson(join(src, "golden.json")),
    graphs,
  };
}

// ---------------------------------------------------------------------------------------------------
// onnxruntime engines (same setup as ort-matmul.mjs: one thread, no proxy worker, files from dist/)

// Minimal structural types for what we use of onnxruntime (its packages live in bench/node_modules and
// are installed on first run, so the project's type check must not depend on them).
interface OrtTensorData {
  data: Float32Array;
  dims: readonly number[];
}
type Feeds = Record<string, unknown>;
interface InferenceSession {
  inputNames: readonly string[];
  outputNames: readonly string[];
  inputMetadata?: readonly { name: string; isTensor?: boolean; type?: string }[];
  run(feeds: Feeds): Promise<Record<string, OrtTensorData>>;
  release(): Promise<void>;
}
interface OrtModule {
  InferenceSession: { create(...args: unknown[]): Promise<InferenceSession> };
  Tensor: new (type: string, data: unknown, dims: readonly number[]) => unknown;
  env: { logLevel?: string; wasm: Record<string, unknown> };
}

/** import() with a computed specifier, so TypeScript does not look for the package's types. */
function importOptional(name: string): Promise<unknown> {
  return import(name);
}

const require = createRequire(import.meta.url);
let webPromise: Promise<OrtModule> | null = null;
let nodePromise: Promise<OrtModule> | null = null;

function loadWeb(): Promise<OrtModule> {
  webPromise ??= (async () => {
    await ensureBenchDeps();
    const ort = (await importOptional("onnxruntime-web")) as OrtModule; // "node" condition → dist/ort.node.min.mjs
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

function loadNode(): Promise<OrtModule> {
  nodePromise ??= (async () => {
    await ensureBenchDeps();
    const mod = (await importOptional("onnxruntime-node")) as { default?: OrtModule } & OrtModule;
    const ort = mod.default ?? mod;
    ort.env.logLevel = "error";
    return ort;
  })();
  return nodePromise;
}

function checkEngine(engine: string, dtype: string): void {
  if (engine !== "web" && engine !== "node")
    throw new TypeError(`engine must be "web" or "node", got ${engine}`);
  if (dtype !== "f32" && dtype !== "int8") throw new TypeError(`dtype must be "f32" or "int8", got ${dtype}`);
}

/** A single-threaded session for one prepared graph. Web gets graph and data as bytes; node reads the files. */
async function openSession(ort: OrtModule, engine: Engine, g: PreparedGraph): Promise<InferenceSession> {
  if (engine === "node")
    return ort.InferenceSession.create(g.graph, {
      executionProviders: ["cpu"],
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
    });
  // The data bytes are only referenced by this call: the wasm heap keeps its own copy.
  const model = readFileSync(g.graph);
  return ort.InferenceSession.create(new Uint8Array(model.buffer, model.byteOffset, model.byteLength), {
    executionProviders: ["wasm"],
    graphOptimizationLevel: "all",
    externalData: [{ path: g.dataFile, data: readFileSync(g.data) }],
  });
}

/** The element type a session wants for an input (int64 unless the graph says otherwise). */
function inputType(session: InferenceSession, name: string): "int64" | "int32" | "float32" {
  const meta = session.inputMetadata?.find((m) => m.name === name);
  if (meta?.isTensor && (meta.type === "int32" || meta.type === "float32")) return meta.type;
  return "int64";
}

function intTensor(
  ort: OrtModule,
  type: "int64" | "int32" | "float32",
  values: ArrayLike<number>,
  dims: number[],
) {
  if (type === "int64") return new ort.Tensor("int64", BigInt64Array.from(Array.from(values), BigInt), dims);
  if (type === "int32") return new ort.Tensor("int32", Int32Array.from(values), dims);
  return new ort.Tensor("float32", Float32Array.from(values), dims);
}

function median(xs: number[]): number {
  const s = Float64Array.from(xs).sort();
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function vocabSize(config: Record<string, unknown>): number {
  return Number(config.vocab_size);
}

/** Deterministic token ids for timing runs: [CLS] … [SEP] for BERT, … </s> for T5 (content is irrelevant to speed). */
function syntheticIds(model: PerfModelName, vocab: number, batch: number, seq: number): number[][] {
  const isBert = model.startsWith("bert");
  return Array.from({ length: batch }, (_, b) =>
    Array.from({ length: seq }, (_, t) => {
      if (isBert && t === 0) return 101;
      if (t === seq - 1 && seq > 1) return isBert ? 102 : 1;
      return 1000 + ((b * 7919 + t * 37) % (vocab - 2000));
    }),
  );
}

function toRows(ids: number[] | number[][]): number[][] {
  return Array.isArray(ids[0]) ? (ids as number[][]) : [ids as number[]];
}

export interface OrtEncoderOptions {
  model: PerfModelName;
  engine: Engine;
  dtype: DType;
  seq?: number;
  batch?: number;
  /** keep timing until at least this long and `minRuns` runs (default 1000 ms) */
  minTimeMs?: number;
  /** untimed runs first (default 3) … */
  warmup?: number;
  /** … and for at least this long (default 1000 ms): V8 runs wasm on its baseline compiler until the
   * optimized code is ready, which makes onnxruntime-web's first runs in a process 2-5× slower */
  warmupMs?: number;
  /** at least this many timed runs (default 5) */
  minRuns?: number;
  /** token ids [batch][seq] (or one row); default: synthetic ids of the given seq and batch */
  inputIds?: number[] | number[][];
  /** default: all ones */
  attentionMask?: number[] | number[][];
}

export interface OrtEncoderResult {
  medianMs: number;
  /** last_hidden_state of the last timed run, [batch, seq, hidden] row-major */
  output: Float32Array;
  dims: number[];
  runs: number;
}

/**
 * Times the encoder graph (bert-* / t5-small-encoder "model", or t5-small's "encoder") single-threaded.
 * Inputs are int64 `input_ids`, `attention_mask` and, for BERT, `token_type_ids` (zeros).
 */
export async function ortEncoderMs({
  model,
  engine,
  dtype,
  seq = 128,
  batch = 1,
  minTimeMs = 1000,
  warmup = 3,
  warmupMs = 1000,
  minRuns = 5,
  inputIds,
  attentionMask,
}: OrtEncoderOptions): Promise<OrtEncoderResult> {
  checkEngine(engine, dtype);
  const prepared = await preparePerfModel(model);
  const g = (prepared.graphs.model ?? prepared.graphs.encoder)[dtype];
  const rows = inputIds ? toRows(inputIds) : syntheticIds(model, vocabSize(prepared.config), batch, seq);
  batch = rows.length;
  seq = rows[0].length;
  if (rows.some((r) => r.length !== seq)) throw new RangeError("inputIds rows must all have the same length");
  const mask = attentionMask ? toRows(attentionMask).flat() : new Array<number>(batch * seq).fill(1);
  if (mask.length !== batch * seq) throw new RangeError("attentionMask must match inputIds");

  const ort = engine === "web" ? await loadWeb() : await loadNode();
  const session = await openSession(ort, engine, g);
  try {
    const dims = [batch, seq];
    const feeds: Record<string, unknown> = {};
    for (const name of session.inputNames) {
      const type = inputType(session, name);
      if (name === "input_ids") feeds[name] = intTensor(ort, type, rows.flat(), dims);
      else if (name === "attention_mask") feeds[name] = intTensor(ort, type, mask, dims);
      else if (name === "token_type_ids")
        feeds[name] = intTensor(ort, type, new Array(batch * seq).fill(0), dims);
      else throw new Error(`${basename(g.graph)}: unexpected input ${name}`);
    }
    const outName = session.outputNames.includes("last_hidden_state")
      ? "last_hidden_state"
      : session.outputNames[0];
    const run = () => session.run(feeds as Feeds);
    let result: Record<string, OrtTensorData> | undefined;
    const warmStart = performance.now();
    for (let i = 0; i < warmup || (warmup > 0 && performance.now() - warmStart < warmupMs); i++)
      result = await run();
    const times: number[] = [];
    const start = performance.now();
    for (;;) {
      const t0 = performance.now();
      result = await run();
      const t1 = performance.now();
      times.push(t1 - t0);
      if (times.length >= minRuns && t1 - start >= minTimeMs) break;
    }
    const out = result![outName] as OrtTensorData;
    return {
      medianMs: median(times),
      output: Float32Array.from(out.data),
      dims: [...out.dims],
      runs: times.length,
    };
  } finally {
    await session.release?.();
  }
}

/** One encoder graph loaded once (a session), timed at several shapes by the whole-model grid. */
export interface OrtEncoderHandle {
  /** Times the graph on these ids ([batch][seq]) under a cell policy; output = last run's first output. */
  time(inputIds: number[][], policy: CellPolicy): Promise<OrtEncoderResult>;
  release(): Promise<void>;
}

/** Opens the encoder graph of `model` (bert-* / t5-small-encoder "model", or t5-small's "encoder"). */
export async function openOrtEncoder(
  model: PerfModelName,
  engine: Engine,
  dtype: DType,
): Promise<OrtEncoderHandle> {
  checkEngine(engine, dtype);
  const prepared = await preparePerfModel(model);
  const g = (prepared.graphs.model ?? prepared.graphs.encoder)[dtype];
  const ort = engine === "web" ? await loadWeb() : await loadNode();
  const session = await openSession(ort, engine, g);
  const outName = session.outputNames.includes("last_hidden_state")
    ? "last_hidden_state"
    : session.outputNames[0];
  return {
    async time(inputIds, policy) {
      const batch = inputIds.length;
      const seq = inputIds[0]?.length ?? 0;
      if (seq === 0 || inputIds.some((r) => r.length !== seq))
        throw new RangeError("inputIds rows must all have the same, non-zero length");
      const dims = [batch, seq];
      const feeds: Record<string, unknown> = {};
      for (const name of session.inputNames) {
        const type = inputType(session, name);
        if (name === "input_ids") feeds[name] = intTensor(ort, type, inputIds.flat(), dims);
        else if (name === "attention_mask")
          feeds[name] = intTensor(ort, type, new Array(batch * seq).fill(1), dims);
        else if (name === "token_type_ids")
          feeds[name] = intTensor(ort, type, new Array(batch * seq).fill(0), dims);
        else throw new Error(`${basename(g.graph)}: unexpected input ${name}`);
      }
      let result: Record<string, OrtTensorData> | undefined;
      const t = await timeCellAsync(async () => {
        result = await session.run(feeds as Feeds);
      }, policy);
      const out = result![outName] as OrtTensorData;
      return { medianMs: t.medianMs, runs: t.runs, output: Float32Array.from(out.data), dims: [...out.dims] };
    },
    async release() {
      await session.release?.();
    },
  };
}

export interface OrtT5GreedyOptions {
  engine: Engine;
  dtype: DType;
  /** encoder token ids [batch][len] (or one row); should end with </s> (1) like the tokenizer's output */
  inputIds: number[] | number[][];
  attentionMask?: number[] | number[][];
  /** default 20 */
  maxNewTokens?: number;
  /** timed full generations (default 3); the medians are reported */
  repeats?: number;
  /** untimed generations first: at least one, and until this much time has passed (default 1000 ms) */
  warmupMs?: number;
}

export interface OrtT5GreedyResult {
  /** median over repeats of (decoder_step time, incl. feeds and argmax) / generated tokens */
  msPerToken: number;
  /** median encoder graph time */
  encoderMs: number;
  /** median cross_kv graph time (the cross-attention K/V projections, once per input) */
  crossKvMs: number;
  /** [batch][1 + generated], starting with the decoder start token 0; after </s> a row is padded with 0 (HF) */
  ids: number[][];
  steps: number;
}

/**
 * Greedy decoding on t5-small's three graphs with the past KV cache, single-threaded:
 * encoder(input_ids, attention_mask) → cross_kv(encoder_hidden_states) → decoder_step per token
 * (input_ids [B,1], encoder_attention_mask, past_key.i/past_value.i [B,H,P,D] from P = 0, cross_key.i/
 * cross_value.i) → logits [B,1,V], present_key.i/present_value.i. Stops at maxNewTokens or when all rows hit </s>.
 */
export async function ortT5GreedyMsPerToken({
  engine,
  dtype,
  inputIds,
  attentionMask,
  maxNewTokens = 20,
  repeats = 3,
  warmupMs = 1000,
}: OrtT5GreedyOptions): Promise<OrtT5GreedyResult> {
  checkEngine(engine, dtype);
  const prepared = await preparePerfModel("t5-small");
  const { config } = prepared;
  const heads = Number(config.num_heads);
  const dKv = Number(config.d_kv);
  const eos = Number(config.eos_token_id ?? 1);
  const pad = Number(config.pad_token_id ?? 0);
  const start = Number(config.decoder_start_token_id ?? 0);
  const rows = toRows(inputIds);
  const batch = rows.length;
  const len = rows[0].length;
  if (rows.some((r) => r.length !== len)) throw new RangeError("inputIds rows must all have the same length");
  const mask = attentionMask ? toRows(attentionMask).flat() : new Array<number>(batch * len).fill(1);
  if (mask.length !== batch * len) throw new RangeError("attentionMask must match inputIds");

  const ort = engine === "web" ? await loadWeb() : await loadNode();
  const sessions: InferenceSession[] = [];
  try {
    const open = async (key: string) => {
      const s = await openSession(ort, engine, prepared.graphs[key][dtype]);
      sessions.push(s);
      return s;
    };
    const encoder = await open("encoder");
    const crossKv = await open("cross_kv");
    const decoder = await open("decoder_step");

    const encFeeds: Record<string, unknown> = {
      input_ids: intTensor(ort, inputType(encoder, "input_ids"), rows.flat(), [batch, len]),
      attention_mask: intTensor(ort, inputType(encoder, "attention_mask"), mask, [batch, len]),
    };
    const encMask = intTensor(ort, inputType(decoder, "encoder_attention_mask"), mask, [batch, len]);
    const pastNames = decoder.inputNames.filter((n) => n.startsWith("past_"));
    const crossInput = crossKv.inputNames[0];
    const idType = inputType(decoder, "input_ids");

    const generate = async () => {
      const t0 = performance.now();
      const enc = await encoder.run(encFeeds as Feeds);
      const t1 = performance.now();
      const cross = await crossKv.run({ [crossInput]: enc.last_hidden_state ?? enc[encoder.outputNames[0]] });
      const t2 = performance.now();
      const ids = rows.map(() => [start]);
      const done = new Array<boolean>(batch).fill(false);
      const feeds: Record<string, unknown> = { encoder_attention_mask: encMask };
      for (const n of decoder.inputNames)
        if (n.startsWith("cross_")) {
          if (!cross[n])
            throw new Error(`cross_kv has no output ${n} (has ${crossKv.outputNames.join(", ")})`);
          feeds[n] = cross[n];
        }
      for (const n of pastNames)
        feeds[n] = new ort.Tensor("float32", new Float32Array(0), [batch, heads, 0, dKv]);
      let steps = 0;
      for (let step = 0; step < maxNewTokens && !done.every(Boolean); step++) {
        feeds.input_ids = intTensor(
          ort,
          idType,
          ids.map((r) => r[r.length - 1]),
          [batch, 1],
        );
        const out = await decoder.run(feeds as Feeds);
        const logits = (out.logits as OrtTensorData).data;
        const vocab = logits.length / batch;
        for (let b = 0; b < batch; b++) {
          let best = 0;
          let bestV = -Infinity;
          const base = b * vocab;
          for (let v = 0; v < vocab; v++)
            if (logits[base + v] > bestV) {
              bestV = logits[base + v];
              best = v;
            }
          const next = done[b] ? pad : best;
          ids[b].push(next);
          if (next === eos) done[b] = true;
        }
        for (const n of pastNames) feeds[n] = out[n.replace(/^past_/, "present_")];
        steps++;
      }
      const t3 = performance.now();
      return { ids, steps, encoderMs: t1 - t0, crossKvMs: t2 - t1, decodeMs: t3 - t2 };
    };

    // check the cache wiring once, with readable errors
    for (const n of pastNames)
      if (!decoder.outputNames.includes(n.replace(/^past_/, "present_")))
        throw new Error(`decoder_step has input ${n} but no matching present_ output`);

    const warmStart = performance.now();
    let last = await generate();
    while (performance.now() - warmStart < warmupMs) last = await generate();
    const enc: number[] = [];
    const cross: number[] = [];
    const perTok: number[] = [];
    for (let r = 0; r < Math.max(1, repeats); r++) {
      last = await generate();
      enc.push(last.encoderMs);
      cross.push(last.crossKvMs);
      perTok.push(last.decodeMs / Math.max(1, last.steps));
    }
    return {
      msPerToken: median(perTok),
      encoderMs: median(enc),
      crossKvMs: median(cross),
      ids: last.ids,
      steps: last.steps,
    };
  } finally {
    for (const s of sessions) await s.release?.();
  }
}
