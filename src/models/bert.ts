// BERT (Devlin et al.): token + segment + position embeddings, a post-LN Transformer encoder with
// bidirectional attention, and the heads Hugging Face checkpoints carry: pooler, masked-LM (tied to the
// word embeddings unless the checkpoint has its own decoder), next-sentence, sequence and token
// classification, extractive question answering. forward() reads as the list of kernel calls. When the
// weights hold Houlsby adapters ({layer}.attention.output.adapter.*, {layer}.output.adapter.*; see
// adapters.ts) each one runs on its sublayer's output projection before the residual add + LayerNorm.
// Multi-task classifiers (from multi-task fine-tuning): one head per task, classifier.{task}.weight
// [L_task, C] / classifier.{task}.bias, labels in config.json's edgeformer_tasks. Every head is loaded;
// option `task` picks the one `classify` uses (default: the first task), and config.id2label / numLabels
// are that task's; forward's wants.task runs another task's head for one call. A task trained with a
// prefix before its texts records it (taskPrefix; src/tasks/classify.ts puts it back).

import { Epilogue, MaskKind } from "../runtime/kernels.ts";
import type { KernelRuntime } from "../runtime/load.ts";
import { AdapterLayer, adapterBottleneck, adapterSublayers, adapterTensorShapes } from "./adapters.ts";
import type { BertConfig } from "./bert-config.ts";
import { Linear, type WeightDType } from "./linear.ts";
import { quantizeRows } from "./quantize.ts";
import { CheckpointError, checkTensors, type TensorStore } from "./tensors.ts";

export interface BertInput {
  /** [B,T] token ids, row-major. */
  inputIds: Int32Array;
  /** [B,T] 1 = real token, 0 = padding; all ones when absent. */
  attentionMask?: Int32Array;
  /** [B,T] segment ids; zeros when absent. */
  tokenTypeIds?: Int32Array;
  batch: number;
  seq: number;
}

export interface BertWants {
  /** hidden_states.0 (embeddings) … hidden_states.L, each [B,T,C]. */
  hiddenStates?: boolean;
  /** attentions.l: softmax probabilities [B,H,T,T]. */
  attentions?: boolean;
  /** MLM logits: "all" rows ([B,T,V]) or the listed flat row indices b·T + t ([n,V]). */
  mlm?: "all" | number[];
  nsp?: boolean;
  pooled?: boolean;
  /** Sequence classification logits [B, labels]. */
  classify?: boolean;
  /** Multi-task models: the task whose head classify runs (default: the model's selected task). */
  task?: string;
  /** Token classification logits [B,T,labels]. */
  tokenClassify?: boolean;
  /** Question answering start/end logits [B,T] each. */
  qa?: boolean;
}

export interface BertOutput {
  lastHiddenState: Float32Array; // [B,T,C]
  hiddenStates?: Float32Array[];
  attentions?: Float32Array[];
  mlmLogits?: Float32Array;
  nspLogits?: Float32Array; // [B,2]
  pooled?: Float32Array; // [B,C]
  classifyLogits?: Float32Array; // [B,labels]
  tokenClassifyLogits?: Float32Array; // [B,T,labels]
  qaStartLogits?: Float32Array; // [B,T]
  qaEndLogits?: Float32Array; // [B,T]
}

interface Norm {
  w: number;
  b: number;
}

interface Layer {
  qkv: Linear; // [3C, C]: query, key, value stacked
  attnOut: Linear;
  ln1: Norm;
  inter: Linear;
  out: Linear;
  ln2: Norm;
  /** Houlsby adapters after the attention output and the FFN output projections (when present). */
  attnAdapter?: AdapterLayer;
  ffnAdapter?: AdapterLayer;
}

export type BertHead = "mlm" | "nsp" | "pooler" | "classifier" | "qa";

const REQUIRED_HEADS: Record<string, BertHead[]> = {
  BertForPreTraining: ["mlm", "nsp", "pooler"],
  BertForMaskedLM: ["mlm"],
  BertForNextSentencePrediction: ["nsp", "pooler"],
  BertForSequenceClassification: ["classifier", "pooler"],
  BertForTokenClassification: ["classifier"],
  BertForQuestionAnswering: ["qa"],
  BertModel: [],
};

/** Loads a Linear from the store: f32 tensors (quantized when dtype is int8) or our int8 format. */
export function loadLinear(
  rt: KernelRuntime,
  store: TensorStore,
  name: string,
  dtype: WeightDType,
  withBias = true,
): Linear {
  const bias = withBias ? store.float32(`${name}.bias`) : undefined;
  return Linear.load(rt, store, `${name}.weight`, dtype, { bias });
}

/** Weight as f32, dequantizing our int8 format (used where weights are stacked before packing). */
export function weightF32(store: TensorStore, name: string): Float32Array {
  if (store.dtype(name) !== "I8") return store.float32(name);
  const q = store.int8(name);
  const s = store.float32(`${name}_scale`);
  const [N, K] = store.shape(name);
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) out[n * K + k] = q[n * K + k] * s[n];
  return out;
}

/**
 * A float tensor as f32 in wasm memory: copied (F16/BF16 converted) straight from the store, or
 * dequantized when it is our int8 format. Returns its pointer.
 */
function placeF32(rt: KernelRuntime, store: TensorStore, name: string): number {
  const { arena } = rt;
  if (store.dtype(name) === "I8") return arena.put(weightF32(store, name));
  const n = store.shape(name).reduce((a, b) => a * b, 1);
  const ptr = arena.allocF32(n);
  store.float32Into(name, arena.f32(ptr, n));
  return ptr;
}

/**
 * An upper bound of the bytes loading takes in the arena: every expected tensor the store has, as it
 * will be placed (packed Linears, int8 or f32 tables, f32 vectors), plus the largest staging area (q|k|v
 * stacked), so memory grows once instead of once per tensor.
 */
function loadBytesBound(
  rt: KernelRuntime,
  store: TensorStore,
  exp: Map<string, number[]>,
  dtype: WeightDType,
  c: BertConfig,
): number {
  let bytes = 0;
  let staging = 0;
  for (const [name, shape] of exp) {
    if (!store.has(name)) continue;
    const n = shape.reduce((a, b) => a * b, 1);
    const stored = store.dtype(name) === "I8" ? "I8" : "float";
    if (/embeddings\.word_embeddings\.weight$/.test(name)) {
      bytes += dtype === "int8" ? n + shape[0] * 4 : n * 4;
      if (dtype === "int8" && stored === "float") staging = Math.max(staging, n * 5);
    } else if (shape.length === 2 && !name.includes("embeddings.")) {
      const adapter = name.includes(".adapter."); // f32 Linears in every model
      const b = Linear.loadBounds(
        rt,
        shape[0],
        shape[1],
        adapter ? "float" : stored,
        adapter ? "f32" : dtype,
      );
      bytes += b.bytes;
      staging = Math.max(staging, b.staging);
    } else bytes += n * 4;
    bytes += 64;
  }
  const C = c.hiddenSize;
  staging = Math.max(staging, 3 * Linear.loadBounds(rt, C, C, "float", dtype).staging); // q|k|v
  if (exp.has("cls.predictions.bias") && !store.has("cls.predictions.decoder.weight")) {
    const b = Linear.loadBounds(rt, c.vocabSize, C, "float", dtype); // decoder tied to the table
    bytes += b.bytes;
    staging = Math.max(staging, b.staging);
  }
  return bytes + staging + 2 ** 20;
}

const TASK_HEAD = /^classifier\.([^.]+)\.weight$/;

export class BertModel {
  /** The config; for a multi-task model, id2label / numLabels are the selected task's. */
  readonly config: BertConfig;
  readonly heads: Set<BertHead>;
  /** Tasks of a multi-task model, in config order (empty: none). */
  readonly tasks: readonly string[];
  /** The task whose head classify runs by default (multi-task models). */
  readonly task?: string;
  private readonly taskHeads = new Map<string, { head: Linear; labels: string[]; prefix: string }>();
  readonly dtype: WeightDType;
  /** Bytes of wasm memory the weights occupy. */
  readonly weightBytes: number;
  private readonly tok: number; // [V,C] f32, or int8 rows when tokScales is set
  private readonly tokScales: number; // [V] f32 row scales of an int8 token table, else 0
  private readonly pos: number;
  private readonly seg: number;
  private readonly embLn: Norm;
  private readonly layers: Layer[] = [];
  private readonly pooler?: Linear;
  private readonly mlmTransform?: Linear;
  private readonly mlmLn?: Norm;
  private readonly mlmDecoder?: Linear;
  private readonly nsp?: Linear;
  private readonly classifier?: Linear;
  private readonly qa?: Linear;
  private readonly tokenClassification: boolean;
  /** Bottleneck width of the model's adapters (undefined: no adapters). */
  readonly adapterBottleneck?: number;

  /** True for BertForTokenClassification (its classifier runs on every token). */
  get isTokenClassifier(): boolean {
    return this.tokenClassification;
  }

  constructor(
    readonly rt: KernelRuntime,
    config: BertConfig,
    store: TensorStore,
    opts: { dtype?: WeightDType; task?: string } = {},
  ) {
    const c = config;
    const dtype = opts.dtype ?? "f32";
    this.dtype = dtype;
    const p = store.has("bert.embeddings.word_embeddings.weight") ? "bert." : "";
    const heads = new Set<BertHead>();
    if (store.has("cls.predictions.transform.dense.weight")) heads.add("mlm");
    if (store.has("cls.seq_relationship.weight")) heads.add("nsp");
    if (store.has(`${p}pooler.dense.weight`)) heads.add("pooler");
    if (store.has("classifier.weight")) heads.add("classifier");
    if (store.has("qa_outputs.weight")) heads.add("qa");
    const arch = c.architectures[0] ?? "BertModel";
    const required = REQUIRED_HEADS[arch];
    if (!required)
      throw new CheckpointError(
        `config.json: architecture ${arch} is not supported (${Object.keys(REQUIRED_HEADS).join(", ")})`,
      );
    for (const h of required) heads.add(h);
    this.tokenClassification = arch === "BertForTokenClassification";
    // per-task heads: the config's tasks (labels) or, without them, the heads the store has (by name)
    const taskLabels: [string, string[], string][] = c.tasks
      ? c.tasks.map((t) => [t.name, t.id2label, t.prefix])
      : store
          .names()
          .map((n) => TASK_HEAD.exec(n)?.[1])
          .filter((t): t is string => t !== undefined)
          .sort()
          .map((t) => [
            t,
            Array.from({ length: store.shape(`classifier.${t}.weight`)[0] }, (_, i) => `LABEL_${i}`),
            "",
          ]);
    this.tasks = Object.freeze(taskLabels.map(([t]) => t));
    if (this.tasks.length) {
      if (this.tokenClassification)
        throw new CheckpointError("per-task classifier heads are for sequence classification only");
      if (opts.task !== undefined && !this.tasks.includes(opts.task))
        throw new CheckpointError(
          `this model has no head for task ${JSON.stringify(opts.task)} (tasks: ${this.tasks.join(", ")})`,
        );
      this.task = opts.task ?? this.tasks[0];
      heads.add("classifier");
      heads.add("pooler");
    } else if (opts.task !== undefined)
      throw new CheckpointError(
        `task ${JSON.stringify(opts.task)} asked for, but this model has no per-task classifier heads`,
      );
    this.heads = heads;
    const selected = taskLabels.find(([t]) => t === this.task)?.[1];
    this.config = selected ? { ...config, id2label: [...selected], numLabels: selected.length } : config;

    // Expected tensors → shapes, then one check that reports every problem by name.
    const C = c.hiddenSize;
    const F = c.intermediateSize;
    const V = c.vocabSize;
    const L = c.numLabels;
    const exp = new Map<string, number[]>();
    const lin = (name: string, n: number, k: number) => {
      exp.set(`${name}.weight`, [n, k]);
      exp.set(`${name}.bias`, [n]);
    };
    const ln = (name: string) => {
      exp.set(`${name}.weight`, [C]);
      exp.set(`${name}.bias`, [C]);
    };
    exp.set(`${p}embeddings.word_embeddings.weight`, [V, C]);
    exp.set(`${p}embeddings.position_embeddings.weight`, [c.maxPositions, C]);
    exp.set(`${p}embeddings.token_type_embeddings.weight`, [c.typeVocabSize, C]);
    ln(`${p}embeddings.LayerNorm`);
    for (let i = 0; i < c.numLayers; i++) {
      const l = `${p}encoder.layer.${i}`;
      for (const n of ["query", "key", "value"]) lin(`${l}.attention.self.${n}`, C, C);
      lin(`${l}.attention.output.dense`, C, C);
      ln(`${l}.attention.output.LayerNorm`);
      lin(`${l}.intermediate.dense`, F, C);
      lin(`${l}.output.dense`, C, F);
      ln(`${l}.output.LayerNorm`);
    }
    const optional = new Set<string>();
    if (heads.has("pooler")) lin(`${p}pooler.dense`, C, C);
    if (heads.has("mlm")) {
      lin("cls.predictions.transform.dense", C, C);
      ln("cls.predictions.transform.LayerNorm");
      exp.set("cls.predictions.bias", [V]);
      exp.set("cls.predictions.decoder.weight", [V, C]);
      exp.set("cls.predictions.decoder.bias", [V]);
      optional.add("cls.predictions.decoder.weight"); // absent when tied to the word embeddings
      optional.add("cls.predictions.decoder.bias"); // a duplicate of cls.predictions.bias when saved
    }
    if (heads.has("nsp")) lin("cls.seq_relationship", 2, C);
    if (this.tasks.length) for (const [t, labels] of taskLabels) lin(`classifier.${t}`, labels.length, C);
    else if (heads.has("classifier")) lin("classifier", L, C);
    if (heads.has("qa")) lin("qa_outputs", 2, C);
    const r = adapterBottleneck(store);
    this.adapterBottleneck = r;
    if (r !== undefined)
      for (const sub of adapterSublayers({ modelType: "bert", numLayers: c.numLayers }, p))
        for (const [n, shape] of adapterTensorShapes(sub, C, r)) exp.set(n, shape);
    const isScaleOfExpected = (n: string) =>
      n.endsWith(".weight_scale") && exp.has(n.slice(0, -"_scale".length));
    const isBuffer = (n: string) => n.endsWith("embeddings.position_ids");
    // a single-head classifier under per-task heads (a base's, under a multi-task adapter) is not used
    const isReplacedHead = (n: string) =>
      this.tasks.length > 0 && /^classifier\.(weight|bias|weight_scale)$/.test(n);
    checkTensors(store, exp, {
      optional,
      ignored: (n) => isScaleOfExpected(n) || isBuffer(n) || isReplacedHead(n),
      what: "BERT checkpoint",
    });

    const { arena } = rt;
    arena.reserve(loadBytesBound(rt, store, exp, dtype, c));
    const start = arena.mark();
    const wordName = `${p}embeddings.word_embeddings.weight`;
    if (dtype === "int8" && store.dtype(wordName) === "I8") {
      this.tok = arena.alloc(V * C); // [V,C] i8, copied straight from the store
      store.int8Into(wordName, arena.i8(this.tok, V * C));
      this.tokScales = arena.put(store.float32(`${wordName}_scale`)); // [V]
    } else if (dtype === "int8") {
      const wordQ = quantizeRows(rt, store.float32(wordName), V, C);
      this.tok = arena.put(wordQ.q);
      this.tokScales = arena.put(wordQ.scales);
    } else {
      this.tok = placeF32(rt, store, wordName); // [V,C]
      this.tokScales = 0;
    }
    this.pos = placeF32(rt, store, `${p}embeddings.position_embeddings.weight`); // [P,C]
    this.seg = placeF32(rt, store, `${p}embeddings.token_type_embeddings.weight`); // [S,C]
    const norm = (name: string): Norm => ({
      w: arena.put(store.float32(`${name}.weight`)),
      b: arena.put(store.float32(`${name}.bias`)),
    });
    this.embLn = norm(`${p}embeddings.LayerNorm`);
    for (let i = 0; i < c.numLayers; i++) {
      const l = `${p}encoder.layer.${i}`;
      const s = `${l}.attention.self`;
      const qkvB = new Float32Array(3 * C); // [3C]: query | key | value
      const names = ["query", "key", "value"].map((n, j) => {
        qkvB.set(store.float32(`${s}.${n}.bias`), j * C);
        return `${s}.${n}.weight`;
      });
      this.layers.push({
        // int8 checkpoints stay as stored in an int8 model (dequantized in an f32 one)
        qkv: Linear.stacked(rt, store, names, C, dtype, "row", { bias: qkvB, dequantize: dtype !== "int8" }),
        attnOut: loadLinear(rt, store, `${l}.attention.output.dense`, dtype),
        ln1: norm(`${l}.attention.output.LayerNorm`),
        inter: loadLinear(rt, store, `${l}.intermediate.dense`, dtype),
        out: loadLinear(rt, store, `${l}.output.dense`, dtype),
        ln2: norm(`${l}.output.LayerNorm`),
        attnAdapter: AdapterLayer.load(rt, store, `${l}.attention.output`, C),
        ffnAdapter: AdapterLayer.load(rt, store, `${l}.output`, C),
      });
    }
    if (heads.has("pooler")) this.pooler = loadLinear(rt, store, `${p}pooler.dense`, dtype);
    if (heads.has("mlm")) {
      this.mlmTransform = loadLinear(rt, store, "cls.predictions.transform.dense", dtype);
      this.mlmLn = norm("cls.predictions.transform.LayerNorm");
      const decoderName = store.has("cls.predictions.decoder.weight")
        ? "cls.predictions.decoder.weight"
        : `${p}embeddings.word_embeddings.weight`;
      this.mlmDecoder = Linear.fromF32(
        rt,
        weightF32(store, decoderName),
        store.float32("cls.predictions.bias"),
        V,
        C,
        dtype,
      );
    }
    if (heads.has("nsp")) this.nsp = loadLinear(rt, store, "cls.seq_relationship", dtype);
    for (const [t, labels, prefix] of taskLabels)
      this.taskHeads.set(t, { head: loadLinear(rt, store, `classifier.${t}`, dtype), labels, prefix });
    if (this.task) this.classifier = this.taskHeads.get(this.task)!.head;
    else if (heads.has("classifier")) this.classifier = loadLinear(rt, store, "classifier", dtype);
    if (heads.has("qa")) this.qa = loadLinear(rt, store, "qa_outputs", dtype);
    this.weightBytes = arena.mark() - start;
  }

  forward(input: BertInput, wants: BertWants = {}): BertOutput {
    const c = this.config;
    const { rt } = this;
    const { arena, k } = rt;
    const { batch: B, seq: T } = input;
    const C = c.hiddenSize;
    const H = c.numHeads;
    const D = C / H;
    const F = c.intermediateSize;
    const M = B * T;
    if (!(B > 0 && T > 0)) throw new RangeError(`BERT: empty input (batch ${B}, sequence ${T})`);
    if (T > c.maxPositions)
      throw new RangeError(`BERT: sequence of ${T} tokens exceeds max_position_embeddings ${c.maxPositions}`);
    if (input.inputIds.length !== M)
      throw new RangeError(`BERT: input_ids has ${input.inputIds.length} values, expected ${B}×${T}`);
    for (const [name, a] of [
      ["attention_mask", input.attentionMask],
      ["token_type_ids", input.tokenTypeIds],
    ] as const) {
      if (a && a.length !== M)
        throw new RangeError(`BERT: ${name} has ${a.length} values, expected ${B}×${T}`);
    }
    const out: BertOutput = { lastHiddenState: new Float32Array(0) };
    const mark = arena.mark();
    try {
      // embeddings: word + position + segment, then LayerNorm
      const ids = arena.put(input.inputIds);
      const posIds = arena.put(Int32Array.from({ length: M }, (_, i) => i % T));
      const segIds = arena.put(input.tokenTypeIds ?? new Int32Array(M));
      const keyMask = arena.put(input.attentionMask ?? new Int32Array(M).fill(1));
      const x = arena.allocF32(M * C); // [B,T,C] hidden state between layers
      const [V, P, S] = [c.vocabSize, c.maxPositions, c.typeVocabSize];
      const bad = this.tokScales
        ? k.embed_q8_f32(x, ids, posIds, segIds, this.tok, this.tokScales, this.pos, this.seg, M, C, V, P, S)
        : k.embed_f32(x, ids, posIds, segIds, this.tok, this.pos, this.seg, M, C, V, P, S);
      if (bad > 0)
        throw new RangeError(
          `BERT: ${bad} token or segment ids are outside the vocabulary (${c.vocabSize}) or type vocabulary (${c.typeVocabSize})`,
        );
      k.layernorm_f32(x, 0, 0, x, this.embLn.w, this.embLn.b, M, C, c.layerNormEps);
      if (wants.hiddenStates) out.hiddenStates = [arena.readF32(x, M * C)];
      if (wants.attentions) out.attentions = [];

      const qkv = arena.allocF32(M * 3 * C); // [B,T,3C]: q | k | v per row
      const ctx = arena.allocF32(M * C); // [B,T,C] attention output before projection
      const h = arena.allocF32(M * C); // [B,T,C] after attention block
      const inter = arena.allocF32(M * F); // [B,T,F]
      const probs = wants.attentions ? arena.allocF32(B * H * T * T) : 0; // [B,H,T,T]
      const scratch = arena.alloc(k.attention_scratch_size(T, T, D));
      for (const layer of this.layers) {
        layer.qkv.forward(qkv, x, M);
        k.attention_f32(
          ctx,
          probs,
          scratch,
          qkv,
          qkv + C * 4,
          qkv + 2 * C * 4,
          0,
          keyMask,
          B,
          H,
          T,
          T,
          D,
          1 / Math.sqrt(D),
          MaskKind.none,
          0,
          T * 3 * C,
          3 * C,
          T * 3 * C,
          3 * C,
          T * 3 * C,
          3 * C,
          T * C,
          C,
        );
        if (probs) out.attentions!.push(arena.readF32(probs, B * H * T * T));
        if (layer.attnAdapter) {
          layer.attnOut.forward(h, ctx, M); // [B,T,C] projection, then adapter, then + x
          layer.attnAdapter.apply(h, M);
          k.add_f32(h, h, x, M * C);
        } else layer.attnOut.forward(h, ctx, M, Epilogue.residual, x);
        k.layernorm_f32(h, 0, 0, h, layer.ln1.w, layer.ln1.b, M, C, c.layerNormEps);
        layer.inter.forward(inter, h, M, c.act);
        if (layer.ffnAdapter) {
          layer.out.forward(x, inter, M); // the layer input is no longer needed
          layer.ffnAdapter.apply(x, M);
          k.add_f32(x, x, h, M * C);
        } else layer.out.forward(x, inter, M, Epilogue.residual, h);
        k.layernorm_f32(x, 0, 0, x, layer.ln2.w, layer.ln2.b, M, C, c.layerNormEps);
        if (wants.hiddenStates) out.hiddenStates!.push(arena.readF32(x, M * C));
      }
      out.lastHiddenState = arena.readF32(x, M * C);

      const needPooled = wants.pooled || wants.nsp || (wants.classify && !this.tokenClassification);
      if (needPooled) {
        if (!this.pooler) throw new CheckpointError("this BERT checkpoint has no pooler");
        const cls = arena.allocF32(B * C); // [B,C] the [CLS] rows
        for (let b = 0; b < B; b++) arena.f32(cls + b * C * 4, C).set(arena.f32(x + b * T * C * 4, C));
        const pooled = arena.allocF32(B * C);
        this.pooler.forward(pooled, cls, B, Epilogue.tanh);
        if (wants.pooled) out.pooled = arena.readF32(pooled, B * C);
        if (wants.nsp) out.nspLogits = this.head(this.nsp, "next-sentence", pooled, B);
        if (wants.classify && !this.tokenClassification)
          out.classifyLogits = this.head(
            wants.task === undefined ? this.classifier : this.taskHead(wants.task).head,
            "classification",
            pooled,
            B,
          );
      }
      if (wants.classify && this.tokenClassification)
        throw new CheckpointError("this checkpoint classifies tokens: use tokenClassify");
      if (wants.tokenClassify) {
        if (!this.tokenClassification)
          throw new CheckpointError("this checkpoint has no token-classification head");
        out.tokenClassifyLogits = this.head(this.classifier, "token classification", x, M);
      }
      if (wants.qa) {
        const logits = this.head(this.qa, "question answering", x, M); // [M,2]
        out.qaStartLogits = Float32Array.from({ length: M }, (_, i) => logits[2 * i]);
        out.qaEndLogits = Float32Array.from({ length: M }, (_, i) => logits[2 * i + 1]);
      }
      if (wants.mlm) out.mlmLogits = this.mlm(x, M, wants.mlm);
      return out;
    } finally {
      arena.reset(mark);
    }
  }

  /** The labels of a task's head (multi-task models). */
  taskLabels(task: string): string[] {
    return [...this.taskHead(task).labels];
  }

  /** The prefix a task's texts were trained with ("" for none). */
  taskPrefix(task: string): string {
    return this.taskHead(task).prefix;
  }

  private taskHead(task: string): { head: Linear; labels: string[]; prefix: string } {
    const h = this.taskHeads.get(task);
    if (!h)
      throw new CheckpointError(
        this.tasks.length
          ? `this model has no head for task ${JSON.stringify(task)} (tasks: ${this.tasks.join(", ")})`
          : `task ${JSON.stringify(task)} asked for, but this model has no per-task classifier heads`,
      );
    return h;
  }

  private head(layer: Linear | undefined, what: string, x: number, rows: number): Float32Array {
    if (!layer) throw new CheckpointError(`this BERT checkpoint has no ${what} head`);
    const { arena } = this.rt;
    const y = arena.allocF32(rows * layer.N);
    layer.forward(y, x, rows);
    return arena.readF32(y, rows * layer.N);
  }

  /** MLM head on all rows of x [M,C] or on the listed rows only (fill-mask needs just the masks). */
  private mlm(x: number, M: number, rows: "all" | number[]): Float32Array {
    if (!this.mlmTransform || !this.mlmDecoder || !this.mlmLn)
      throw new CheckpointError("this BERT checkpoint has no masked-LM head");
    const { arena, k } = this.rt;
    const C = this.config.hiddenSize;
    const V = this.config.vocabSize;
    let src = x;
    let n = M;
    if (rows !== "all") {
      n = rows.length;
      src = arena.allocF32(n * C);
      rows.forEach((r, i) => {
        if (!(r >= 0 && r < M)) throw new RangeError(`BERT: MLM row ${r} is outside 0..${M - 1}`);
        arena.f32(src + i * C * 4, C).set(arena.f32(x + r * C * 4, C));
      });
    }
    if (n === 0) return new Float32Array(0);
    const t = arena.allocF32(n * C); // [n,C] transform output
    this.mlmTransform.forward(t, src, n, this.config.act);
    k.layernorm_f32(t, 0, 0, t, this.mlmLn.w, this.mlmLn.b, n, C, this.config.layerNormEps);
    const logits = arena.allocF32(n * V); // [n,V]
    this.mlmDecoder.forward(logits, t, n);
    return arena.readF32(logits, n * V);
  }
}
