// Houlsby adapters (Houlsby et al. 2019): a bottleneck adapter(z) = z + up(relu(down(z))) after a
// sublayer's output projection (down [r,C], up [C,r]), initialized as the exact identity (down ~ N(0,
// 0.02²) seeded, up and both biases 0). This file holds what training, inference (BERT and T5) and the
// worker share: the tensor names ({sublayer}.adapter.down.weight …), the list of sublayers that get one,
// the seeded initialization, the adapter folder format (adapter_config.json + adapter.safetensors, the
// adapters plus every other tensor that was trained), its validation against a base model, the overlay
// of an adapter's tensors on a base model's, and the inference-side layer (f32 GEMMs, also inside int8
// models). Pure: no Node imports.
import { Epilogue } from "../runtime/kernels.ts";
import type { KernelRuntime } from "../runtime/load.ts";
import { normals } from "../train/data/random.ts";
import { Linear } from "./linear.ts";
import { CheckpointError, TensorStore } from "./tensors.ts";

export const ADAPTER_FORMAT = "edgeformer-adapter";
export const ADAPTER_VERSION = 1;
/** Files of an adapter folder. */
export const ADAPTER_CONFIG_FILE = "adapter_config.json";
export const ADAPTER_WEIGHTS_FILE = "adapter.safetensors";
/** Standard deviation of the down-projection's initialization. */
export const ADAPTER_INIT_STD = 0.02;

export type AdapterModelType = "bert" | "t5";

/** The base config fields an adapter records and checks (those its tensors' shapes depend on). */
export const ADAPTER_BASE_FIELDS: Record<AdapterModelType, readonly string[]> = {
  bert: ["vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"],
  t5: ["vocab_size", "d_model", "num_layers", "num_decoder_layers", "num_heads", "d_ff"],
};

export interface AdapterConfig {
  format: typeof ADAPTER_FORMAT;
  version: typeof ADAPTER_VERSION;
  model_type: AdapterModelType;
  /** r: the bottleneck width. */
  bottleneck: number;
  /** ADAPTER_BASE_FIELDS of the base model's config.json. */
  base: Record<string, number>;
  /** What the adapter was trained for, e.g. "sequence-classification" or "text2text". */
  task?: string;
  /** Architecture of the model with the adapter (e.g. BertForSequenceClassification). */
  architectures?: string[];
  /** Classification labels (as config.json's id2label / label2id). */
  id2label?: Record<string, string>;
  label2id?: Record<string, number>;
  /** Multi-task classification: each task's labels (as config.json's edgeformer_tasks; heads classifier.{task}.*). */
  edgeformer_tasks?: Record<
    string,
    { id2label: Record<string, string>; label2id?: Record<string, number>; prefix?: string }
  >;
  /** Names of all tensors in adapter.safetensors. */
  trained: string[];
}

const ADAPTER_TENSOR = /^(.+)\.adapter\.(down|up)\.(weight|bias)$/;

/** True for {sublayer}.adapter.{down,up}.{weight,bias}. */
export function isAdapterTensor(name: string): boolean {
  return ADAPTER_TENSOR.test(name);
}

/** Shape facts an architecture's sublayer list depends on. */
export type AdapterArch =
  | { modelType: "bert"; numLayers: number }
  | { modelType: "t5"; numLayers: number; numDecoderLayers: number };

/**
 * The sublayers that get an adapter, by tensor-name prefix. BERT: after the attention output projection
 * and after the FFN output projection of every layer (bert.encoder.layer.{i}.attention.output,
 * bert.encoder.layer.{i}.output). T5: every sublayer of every block (encoder.block.{i}.layer.{0,1};
 * decoder.block.{i}.layer.{0,1,2}: self-attention, cross-attention, feed-forward).
 */
export function adapterSublayers(arch: AdapterArch, bertPrefix = "bert."): string[] {
  const out: string[] = [];
  if (arch.modelType === "bert") {
    for (let i = 0; i < arch.numLayers; i++) {
      out.push(`${bertPrefix}encoder.layer.${i}.attention.output`, `${bertPrefix}encoder.layer.${i}.output`);
    }
    return out;
  }
  for (let i = 0; i < arch.numLayers; i++)
    for (let j = 0; j < 2; j++) out.push(`encoder.block.${i}.layer.${j}`);
  for (let i = 0; i < arch.numDecoderLayers; i++)
    for (let j = 0; j < 3; j++) out.push(`decoder.block.${i}.layer.${j}`);
  return out;
}

/** The four tensors of one sublayer's adapter: [name, shape] (C: model width, r: bottleneck). */
export function adapterTensorShapes(sublayer: string, C: number, r: number): [string, number[]][] {
  const a = `${sublayer}.adapter`;
  return [
    [`${a}.down.weight`, [r, C]],
    [`${a}.down.bias`, [r]],
    [`${a}.up.weight`, [C, r]],
    [`${a}.up.bias`, [C]],
  ];
}

/**
 * The initial values of an adapter tensor: down.weight ~ N(0, 0.02²) from a stream that depends only on
 * (seed, name); up.weight and the biases 0, so the adapter starts as the exact identity.
 */
export function initAdapterTensor(name: string, size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  if (name.endsWith(".adapter.down.weight")) {
    let h = (seed ^ 0x5a17ad) >>> 0;
    for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
    const r = normals(h);
    for (let i = 0; i < size; i++) out[i] = r() * ADAPTER_INIT_STD;
  }
  return out;
}

/** The bottleneck r of the adapters in a store (undefined when it has none); all must agree. */
export function adapterBottleneck(store: {
  names(): string[];
  shape(name: string): number[];
}): number | undefined {
  let r: number | undefined;
  for (const n of store.names()) {
    if (!n.endsWith(".adapter.down.weight")) continue;
    const rr = store.shape(n)[0];
    if (r !== undefined && rr !== r)
      throw new CheckpointError(`adapters disagree on the bottleneck: ${n} has ${rr}, others ${r}`);
    r = rr;
  }
  return r;
}

/** The base fields an adapter records, read from the base model's config.json. */
export function adapterBaseFields(
  modelType: AdapterModelType,
  config: Record<string, unknown>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of ADAPTER_BASE_FIELDS[modelType]) {
    let v = config[f];
    // T5 configs may leave num_decoder_layers out (= num_layers)
    if (v === undefined && f === "num_decoder_layers") v = config.num_layers;
    if (typeof v === "number") out[f] = v;
  }
  return out;
}

function fail(msg: string): never {
  throw new CheckpointError(`${ADAPTER_CONFIG_FILE}: ${msg}`);
}

/** Validates a parsed adapter_config.json; throws CheckpointError naming the first problem. */
export function readAdapterConfig(json: unknown): AdapterConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) fail("not a JSON object");
  const j = json as Record<string, unknown>;
  if (j.format !== ADAPTER_FORMAT)
    fail(`format is ${JSON.stringify(j.format)}, expected "${ADAPTER_FORMAT}" (is this an adapter folder?)`);
  if (j.version !== ADAPTER_VERSION)
    fail(
      `version ${JSON.stringify(j.version)} is not supported (this build reads version ${ADAPTER_VERSION})`,
    );
  if (j.model_type !== "bert" && j.model_type !== "t5")
    fail(`model_type must be "bert" or "t5", got ${JSON.stringify(j.model_type)}`);
  if (!(Number.isInteger(j.bottleneck) && (j.bottleneck as number) >= 1))
    fail(`bottleneck must be an integer ≥ 1, got ${JSON.stringify(j.bottleneck)}`);
  const base = j.base;
  if (typeof base !== "object" || base === null || Array.isArray(base)) fail("base must be an object");
  for (const [k, v] of Object.entries(base))
    if (!(Number.isInteger(v) && (v as number) >= 0))
      fail(`base.${k} must be an integer, got ${JSON.stringify(v)}`);
  for (const f of ADAPTER_BASE_FIELDS[j.model_type]) {
    if (f === "num_decoder_layers") continue;
    if (!(f in base)) fail(`base.${f} is missing`);
  }
  if (!Array.isArray(j.trained) || j.trained.length === 0 || !j.trained.every((n) => typeof n === "string"))
    fail("trained must be a non-empty list of tensor names");
  if (!j.trained.some(isAdapterTensor)) fail("trained lists no adapter tensors (*.adapter.down.weight …)");
  if (j.task !== undefined && typeof j.task !== "string") fail("task must be a string");
  if (
    j.architectures !== undefined &&
    !(Array.isArray(j.architectures) && j.architectures.every((a) => typeof a === "string"))
  )
    fail("architectures must be a list of strings");
  if (j.id2label !== undefined) {
    const m = j.id2label;
    if (
      typeof m !== "object" ||
      m === null ||
      Array.isArray(m) ||
      !Object.values(m).every((v) => typeof v === "string")
    )
      fail("id2label must map class indices to label strings");
  }
  if (j.label2id !== undefined) {
    const m = j.label2id;
    if (
      typeof m !== "object" ||
      m === null ||
      Array.isArray(m) ||
      !Object.values(m).every((v) => Number.isInteger(v))
    )
      fail("label2id must map labels to class indices");
  }
  return j as unknown as AdapterConfig;
}

/**
 * Checks that an adapter fits a base model (its config.json): same model type and the same recorded
 * base fields. Throws CheckpointError listing every mismatch.
 */
export function checkAdapterBase(
  adapter: AdapterConfig,
  baseConfig: Record<string, unknown>,
  what = "adapter",
): void {
  const type = baseConfig.model_type === "mt5" ? "t5" : baseConfig.model_type;
  if (type !== adapter.model_type)
    throw new CheckpointError(
      `${what} was trained on a ${adapter.model_type} model but the base model is ${JSON.stringify(baseConfig.model_type)}`,
    );
  const have = adapterBaseFields(adapter.model_type, baseConfig);
  const diffs = Object.entries(adapter.base)
    .filter(([k, v]) => have[k] !== v)
    .map(([k, v]) => `${k} ${v} (base: ${have[k] ?? "absent"})`);
  if (diffs.length) throw new CheckpointError(`${what} does not match the base model: ${diffs.join(", ")}`);
}

/**
 * The base model's config.json with the adapter's task settings applied (architectures, labels), as
 * the combined model's config.
 */
export function adaptedConfig(
  baseConfig: Record<string, unknown>,
  adapter: AdapterConfig,
): Record<string, unknown> {
  const out = { ...baseConfig };
  if (adapter.architectures) out.architectures = [...adapter.architectures];
  if (adapter.id2label) {
    out.id2label = { ...adapter.id2label };
    out.num_labels = Object.keys(adapter.id2label).length;
  }
  if (adapter.label2id) out.label2id = { ...adapter.label2id };
  if (adapter.edgeformer_tasks) out.edgeformer_tasks = structuredClone(adapter.edgeformer_tasks);
  return out;
}

/** A TensorStore whose tensors are the base's, with the adapter's replacing or adding to them. */
class OverlayStore extends TensorStore {
  constructor(
    private readonly base: TensorStore,
    private readonly top: TensorStore,
    /** Base names hidden (scales of int8 tensors the top replaces with f32 ones). */
    private readonly hidden: ReadonlySet<string>,
  ) {
    super([]);
  }
  private pick(name: string): TensorStore {
    return this.top.has(name) ? this.top : this.base;
  }
  override names(): string[] {
    return [...new Set([...this.base.names(), ...this.top.names()])].filter((n) => !this.hidden.has(n));
  }
  override has(name: string): boolean {
    return this.top.has(name) || (this.base.has(name) && !this.hidden.has(name));
  }
  override shape(name: string): number[] {
    return this.pick(name).shape(name);
  }
  override dtype(name: string) {
    return this.pick(name).dtype(name);
  }
  override float32(name: string): Float32Array {
    return this.pick(name).float32(name);
  }
  override int8(name: string): Int8Array {
    return this.pick(name).int8(name);
  }
  override fileOf(name: string): string {
    return this.pick(name).fileOf(name);
  }
}

/**
 * The base model's tensors overlaid by an adapter's (adapter tensors added; trained layer norms and head
 * replacing the base's). Every adapter tensor that replaces a base tensor must have its shape, except a
 * classification / QA head, which may replace one of another size; an int8 base tensor replaced by an
 * f32 one drops its `_scale`.
 */
export function overlayTensors(base: TensorStore, adapter: TensorStore): TensorStore {
  const problems: string[] = [];
  for (const n of adapter.names()) {
    if (!base.has(n)) {
      if (!isAdapterTensor(n) && !isHeadTensor(n)) problems.push(`${n} is not in the base model`);
      continue;
    }
    const a = adapter.shape(n);
    const b = base.shape(n);
    // a task head may replace the base's head of another size (e.g. other labels)
    if (isHeadTensor(n) && n !== "lm_head.weight") continue;
    if (a.length !== b.length || a.some((d, i) => d !== b[i]))
      problems.push(`${n} is [${a.join(",")}] but [${b.join(",")}] in the base model`);
  }
  if (problems.length)
    throw new CheckpointError(
      `adapter does not match the base model: ${problems.slice(0, 6).join("; ")}${problems.length > 6 ? `; … (${problems.length} in all)` : ""}`,
    );
  const hidden = new Set(
    adapter
      .names()
      .filter((n) => base.has(`${n}_scale`) && base.dtype(n) === "I8" && adapter.dtype(n) !== "I8")
      .map((n) => `${n}_scale`),
  );
  return new OverlayStore(base, adapter, hidden);
}

/** The store without the tensors `hide` picks (e.g. a classification head of the wrong size). */
export function hideTensors(store: TensorStore, hide: (name: string) => boolean): TensorStore {
  return new OverlayStore(store, new TensorStore([]), new Set(store.names().filter(hide)));
}

/**
 * Task heads an adapter may add to a base that lacks them (e.g. a new classifier on a pretrained base, or
 * a multi-task model's classifier.{task}.* heads).
 */
function isHeadTensor(name: string): boolean {
  return /^(classifier(\.[^.]+)?|bert\.pooler\.dense|pooler\.dense|lm_head|qa_outputs)\.(weight|bias)$/.test(
    name,
  );
}

/** One sublayer's adapter at inference: f32 GEMMs (also inside int8 models; they are small). */
export class AdapterLayer {
  private constructor(
    private readonly rt: KernelRuntime,
    readonly r: number,
    readonly C: number,
    private readonly down: Linear,
    private readonly up: Linear,
  ) {}

  /** The adapter of `sublayer` from the store, or undefined when the store has none for it. */
  static load(rt: KernelRuntime, store: TensorStore, sublayer: string, C: number): AdapterLayer | undefined {
    const a = `${sublayer}.adapter`;
    if (!store.has(`${a}.down.weight`)) return undefined;
    const [r, K] = store.shape(`${a}.down.weight`);
    if (K !== C) throw new CheckpointError(`${a}.down.weight is [${r},${K}], expected [${r},${C}]`);
    const expect: [string, number[]][] = adapterTensorShapes(sublayer, C, r);
    for (const [n, shape] of expect) {
      if (!store.has(n)) throw new CheckpointError(`adapter of ${sublayer}: missing tensor ${n}`);
      const got = store.shape(n);
      if (got.length !== shape.length || got.some((d, i) => d !== shape[i]))
        throw new CheckpointError(`${n} is [${got.join(",")}], expected [${shape.join(",")}]`);
    }
    const down = Linear.fromF32(
      rt,
      store.float32(`${a}.down.weight`),
      store.float32(`${a}.down.bias`),
      r,
      C,
      "f32",
    );
    const up = Linear.fromF32(
      rt,
      store.float32(`${a}.up.weight`),
      store.float32(`${a}.up.bias`),
      C,
      r,
      "f32",
    );
    return new AdapterLayer(rt, r, C, down, up);
  }

  /** Bytes of wasm memory the adapter holds. */
  get bytes(): number {
    return this.down.bytes + this.up.bytes;
  }

  /** z [M,C] ← z + up(relu(down(z))), in place (scratch from the arena, released before returning). */
  apply(z: number, M: number): void {
    const { arena } = this.rt;
    const mark = arena.mark();
    const h = arena.allocF32(M * this.r); // [M,r]
    this.down.forward(h, z, M, Epilogue.relu);
    this.up.forward(z, h, M, Epilogue.residual, z);
    arena.reset(mark);
  }
}
