// BERT training on the kernels: a parameter store (src/train/params.ts) holding every parameter of
// BertForPreTraining / BertForMaskedLM / BertForNextSentencePrediction / BertForSequenceClassification
// under its Hugging Face name, a training forward that saves what the backward needs, the losses (MLM
// cross-entropy over mlm_labels, NSP over next_sentence_label, classification over labels; −100 is
// ignored), the backward as the reverse list of backward kernel calls, and AdamW. The MLM decoder is
// tied to the word embeddings (its gradient sums into bert.embeddings.word_embeddings.weight). The
// forward runs the same kernels as src/models/bert.ts (fused QKV GEMM, residual epilogues, erf GELU)
// on packed copies of the Linear weights, re-packed after each optimizer step. No dropout.
// Houlsby adapters (option `adapters`, or found in the weights; see src/models/adapters.ts) add a
// bottleneck z + up(relu(down(z))) on the attention output and FFN output projections of every layer,
// before the residual add + LayerNorm, with their own backward. Parameters the store marks frozen
// (ParamStore.setTrainable) get no gradient computed, and the backward stops below the lowest layer that
// has a trainable parameter (gradual unfreezing).
// Multi-task classification (option `heads`): one shared encoder and pooler with one classifier head per
// task, stored as classifier.{task}.weight [L_task, C] and classifier.{task}.bias [L_task] (task names
// without dots) in place of classifier.weight / classifier.bias, in the order given. A batch with labels
// names the head it trains (BertBatch.task, the head's index); the loss and gradients go through that head
// only (the other heads' gradients are left as they are: zero after zero-grad). With one head the layout
// equals the single-head trainer's (same offsets), so a one-task run is the single-head run.

import type { TensorInput } from "../io/safetensors.ts";
import {
  adapterBottleneck,
  adapterSublayers,
  adapterTensorShapes,
  initAdapterTensor,
  isAdapterTensor,
} from "../models/adapters.ts";
import type { BertInput } from "../models/bert.ts";
import type { BertConfig } from "../models/bert-config.ts";
import { CheckpointError, type TensorStore } from "../models/tensors.ts";
import { Epilogue, MaskKind } from "../runtime/kernels.ts";
import type { KernelRuntime } from "../runtime/load.ts";
import { normals } from "./data/random.ts";
import { hasWeightDecay, type ParamSpec, ParamStore } from "./params.ts";
import { TrainerBase, type TrainRunOptions } from "./trainer-base.ts";

export type BertTrainArch =
  | "BertForPreTraining"
  | "BertForMaskedLM"
  | "BertForNextSentencePrediction"
  | "BertForSequenceClassification";

const ARCH_HEADS: Record<BertTrainArch, { mlm: boolean; nsp: boolean; classifier: boolean }> = {
  BertForPreTraining: { mlm: true, nsp: true, classifier: false },
  BertForMaskedLM: { mlm: true, nsp: false, classifier: false },
  BertForNextSentencePrediction: { mlm: false, nsp: true, classifier: false },
  BertForSequenceClassification: { mlm: false, nsp: false, classifier: true },
};

/** A training batch: a BertInput plus the labels of the heads to train (field names as src/train/data). */
export interface BertBatch extends BertInput {
  /** [B·T] MLM targets, −100 where no loss. */
  mlmLabels?: Int32Array;
  /** [B] 0 = B follows A, 1 = random (−100 ignored). */
  nextSentenceLabel?: Int32Array;
  /** [B] sequence-classification labels (−100 ignored). */
  labels?: Int32Array;
  /** Multi-head trainers: index of the classifier head (BertTrainerOptions.heads) the labels train. */
  task?: number;
}

export interface BertLosses {
  /** Sum of the losses computed (PyTorch's total_loss = mlm + nsp for pretraining). */
  loss: number;
  mlmLoss?: number;
  nspLoss?: number;
  classifyLoss?: number;
}

export interface BertTrainOutput extends BertLosses {
  /** Flat row indices b·T + t of the MLM rows with a label (the only rows the MLM head runs on). */
  mlmRows?: Int32Array;
  /** [mlmRows.length, V] MLM logits of those rows (when asked for). */
  mlmLogits?: Float32Array;
  /** [B,2] (when asked for). */
  nspLogits?: Float32Array;
  /** [B,labels] (when asked for). */
  classifyLogits?: Float32Array;
}

export interface BertTrainerOptions {
  /** Default: config.architectures[0]. */
  arch?: BertTrainArch;
  /** Initial weights by Hugging Face name; without them every parameter is initialized randomly. */
  weights?: TensorStore;
  /** Initialize parameters the checkpoint lacks (e.g. a new classifier head) instead of failing. */
  initMissing?: boolean;
  /** Seed and standard deviation (config initializer_range; default 0.02) of the random init. */
  seed?: number;
  initializerRange?: number;
  /** MLM decoder tied to the word embeddings (Hugging Face's default, tie_word_embeddings). */
  tieWordEmbeddings?: boolean;
  /**
   * Houlsby adapters of this bottleneck width on every layer, initialized as the identity (seeded; default
   * seed: `seed`) unless `weights` has them. Without this option, adapters in `weights` are still used.
   */
  adapters?: { bottleneck: number; seed?: number };
  /**
   * Sequence classification with one head per task (classifier.{name}.weight [numLabels, C] and
   * classifier.{name}.bias [numLabels]) instead of the single classifier; config.numLabels is not used.
   */
  heads?: readonly ClassifierHeadSpec[];
}

/** One task's classification head of a multi-head trainer. */
export interface ClassifierHeadSpec {
  /** Task name: non-empty, no dots (it becomes part of the tensor names). */
  name: string;
  numLabels: number;
}

/** Prefix of a multi-task head's tensors: classifier.{task}. */
export function classifierHeadPrefix(task: string): string {
  return `classifier.${task}`;
}

/** Checks head specs: at least one, names non-empty without dots and unique, ≥ 2 labels each. */
export function checkHeadSpecs(heads: readonly ClassifierHeadSpec[]): void {
  if (heads.length === 0) throw new RangeError("training: heads must list at least one task");
  const seen = new Set<string>();
  for (const h of heads) {
    if (typeof h.name !== "string" || h.name === "" || /[.\s]/.test(h.name))
      throw new RangeError(
        `training: head name ${JSON.stringify(h.name)} must be non-empty, without dots or spaces`,
      );
    if (seen.has(h.name)) throw new RangeError(`training: head ${JSON.stringify(h.name)} is listed twice`);
    seen.add(h.name);
    if (!(Number.isInteger(h.numLabels) && h.numLabels >= 2))
      throw new RangeError(
        `training: head ${h.name} needs an integer number of labels ≥ 2, got ${h.numLabels}`,
      );
  }
}

export interface RunOptions extends TrainRunOptions {
  /** Multiplies the gradient of the loss (e.g. 1/N when accumulating N micro-batches). Default 1. */
  lossScale?: number;
  /** Per-head overrides of lossScale for the MLM and next-sentence losses (e.g. a data-parallel shard's
   * share of the batch's masked tokens / sequences, so shard gradients sum to the full batch's). */
  mlmLossScale?: number;
  nspLossScale?: number;
}

/** A Linear y = x·Wᵀ + b: byte pointers into the parameter / gradient regions and its packed copy. */
interface Lin {
  N: number;
  K: number;
  w: number; // [N,K] unpacked (Hugging Face layout)
  b: number; // [N]
  dw: number;
  db: number;
  wp: number; // pack_weights_f32 panels of w
  /** Parameter names behind w and b (three each for the fused QKV). */
  wNames: string[];
  bNames: string[];
}

interface Norm {
  w: number; // [C]
  b: number; // [C]
  dw: number;
  db: number;
  wName: string;
  bName: string;
}

/** A Houlsby adapter: down [r,C] with ReLU, up [C,r], plus the identity. */
interface Adapter {
  down: Lin;
  up: Lin;
}

interface Layer {
  qkv: Lin; // [3C,C]: query, key, value weights adjacent in the parameter region
  attnOut: Lin; // [C,C]
  ln1: Norm;
  inter: Lin; // [F,C]
  out: Lin; // [C,F]
  ln2: Norm;
  attnAdapter?: Adapter;
  ffnAdapter?: Adapter;
}

/** Activations of one adapter (byte pointers). */
interface AdapterActs {
  z: number; // [M,C] adapter input (the projection's output)
  pre: number; // [M,r] down(z) before ReLU
  act: number; // [M,r] ReLU output
}

/** Activations one layer's forward saves for its backward (byte pointers). */
interface LayerActs {
  xin: number; // [M,C] layer input
  qkv: number; // [M,3C]
  probs: number; // [B,H,T,T] softmax probabilities
  ctx: number; // [M,C] attention output (before the output projection)
  res1: number; // [M,C] ctx·Woᵀ + bo + xin (LayerNorm 1 input; adapter(ctx·Woᵀ + bo) + xin with adapters)
  mean1: number; // [M]
  rstd1: number; // [M]
  h: number; // [M,C] LayerNorm 1 output
  pre: number; // [M,F] h·Wiᵀ + bi (GELU input)
  act: number; // [M,F] GELU output
  res2: number; // [M,C] act·Woutᵀ + bout + h (LayerNorm 2 input)
  mean2: number; // [M]
  rstd2: number; // [M]
  xout: number; // [M,C] layer output
  attnAdapter?: AdapterActs;
  ffnAdapter?: AdapterActs;
}

/** Everything the forward leaves for the backward (byte pointers into the arena; shapes beside). */
interface Saved {
  B: number;
  T: number;
  M: number;
  ids: number; // [M] i32
  gradIds: number; // [M] i32, padding-token ids replaced by −1 (nn.Embedding padding_idx gets no gradient)
  posIds: number; // [M] i32
  segIds: number; // [M] i32
  emb: number; // [M,C] word + position + segment (embedding LayerNorm input)
  embMean: number; // [M]
  embRstd: number; // [M]
  layers: LayerActs[];
  mlm?: {
    n: number; // labeled rows
    rows: number; // [n] i32 flat row indices
    xr: number; // [n,C] gathered final hidden rows
    tpre: number; // [n,C] transform pre-activation
    tact: number; // [n,C] transform GELU output (LayerNorm input)
    mean: number; // [n]
    rstd: number; // [n]
    tln: number; // [n,C] LayerNorm output (decoder input)
    dlogits: number; // [n,V]
  };
  pooled?: {
    clsIdx: number; // [B] i32 flat row of each [CLS] token (b·T)
    cls: number; // [B,C]
    ppre: number; // [B,C] pooler pre-activation
    pooled: number; // [B,C]
    dnsp: number; // [B,2] or 0
    dcls: number; // [B,labels] or 0
    clsHead?: Lin; // the classifier head that ran
  };
}

const PAD_GRAD_ID = -1;

export class BertTrainer extends TrainerBase<BertBatch, BertTrainOutput, RunOptions> {
  readonly arch: BertTrainArch;
  readonly params: ParamStore;
  /** "bert." (head models). */
  readonly prefix = "bert.";
  readonly tied: boolean;
  /** Bottleneck width of the adapters (undefined: no adapters). */
  readonly adapterBottleneck?: number;
  private readonly heads: { mlm: boolean; nsp: boolean; classifier: boolean; pooler: boolean };
  private readonly tok: number; // [V,C]
  private readonly dtok: number;
  private readonly pos: number; // [P,C]
  private readonly dpos: number;
  private readonly seg: number; // [S,C]
  private readonly dseg: number;
  private readonly embLn: Norm;
  private readonly layers: Layer[] = [];
  private readonly pooler?: Lin;
  private readonly mlmTransform?: Lin;
  private readonly mlmLn?: Norm;
  private readonly decoder?: Lin; // w / dw are the word embeddings' when tied
  private readonly nsp?: Lin;
  /** Classifier heads: [classifier] (single-head), or one per task in `headNames` order. */
  private readonly classifiers: Lin[] = [];
  /** Task names of a multi-head trainer (undefined: the single classifier head). */
  readonly headNames?: readonly string[];

  constructor(
    readonly rt: KernelRuntime,
    readonly config: BertConfig,
    opts: BertTrainerOptions = {},
  ) {
    super();
    const arch = (opts.arch ?? config.architectures[0] ?? "BertModel") as BertTrainArch;
    const heads = ARCH_HEADS[arch];
    if (!heads)
      throw new CheckpointError(
        `training: architecture ${arch} is not supported (${Object.keys(ARCH_HEADS).join(", ")})`,
      );
    if (opts.heads) {
      if (!heads.classifier)
        throw new CheckpointError(`training: heads need BertForSequenceClassification, not ${arch}`);
      checkHeadSpecs(opts.heads);
      this.headNames = Object.freeze(opts.heads.map((h) => h.name));
    } else if (heads.classifier && config.numLabels < 2)
      throw new CheckpointError(
        `training: sequence classification needs num_labels ≥ 2 (got ${config.numLabels}; regression is not supported)`,
      );
    this.arch = arch;
    this.heads = { ...heads, pooler: heads.nsp || heads.classifier };
    this.tied = opts.tieWordEmbeddings ?? true;
    const c = config;
    const [C, F, V, P, S] = [c.hiddenSize, c.intermediateSize, c.vocabSize, c.maxPositions, c.typeVocabSize];
    const p = this.prefix;

    // Parameter specs in layout order (decay / no-decay groups are split by ParamStore, order kept).
    const specs: ParamSpec[] = [];
    const add = (name: string, shape: number[]) => specs.push({ name, shape, decay: hasWeightDecay(name) });
    const lin = (name: string, n: number, k: number) => {
      add(`${name}.weight`, [n, k]);
      add(`${name}.bias`, [n]);
    };
    const ln = (name: string) => {
      add(`${name}.weight`, [C]);
      add(`${name}.bias`, [C]);
    };
    add(`${p}embeddings.word_embeddings.weight`, [V, C]);
    add(`${p}embeddings.position_embeddings.weight`, [P, C]);
    add(`${p}embeddings.token_type_embeddings.weight`, [S, C]);
    ln(`${p}embeddings.LayerNorm`);
    for (let i = 0; i < c.numLayers; i++) {
      const l = `${p}encoder.layer.${i}`;
      // weights first, then biases: each trio lands adjacent in its group (fused QKV W [3C,C], b [3C])
      for (const n of ["query", "key", "value"]) add(`${l}.attention.self.${n}.weight`, [C, C]);
      for (const n of ["query", "key", "value"]) add(`${l}.attention.self.${n}.bias`, [C]);
      lin(`${l}.attention.output.dense`, C, C);
      ln(`${l}.attention.output.LayerNorm`);
      lin(`${l}.intermediate.dense`, F, C);
      lin(`${l}.output.dense`, C, F);
      ln(`${l}.output.LayerNorm`);
    }
    if (this.heads.pooler) lin(`${p}pooler.dense`, C, C);
    if (heads.mlm) {
      lin("cls.predictions.transform.dense", C, C);
      ln("cls.predictions.transform.LayerNorm");
      add("cls.predictions.bias", [V]);
      if (!this.tied) add("cls.predictions.decoder.weight", [V, C]);
    }
    if (heads.nsp) lin("cls.seq_relationship", 2, C);
    const headSpecs = opts.heads ?? (heads.classifier ? [{ name: "", numLabels: c.numLabels }] : []);
    const headPrefix = (name: string) => (opts.heads ? classifierHeadPrefix(name) : "classifier");
    for (const h of headSpecs) lin(headPrefix(h.name), h.numLabels, C);
    const stored = opts.weights ? adapterBottleneck(opts.weights) : undefined;
    const r = opts.adapters?.bottleneck ?? stored;
    if (opts.adapters && !(Number.isInteger(r) && r! >= 1))
      throw new RangeError(`training: adapter bottleneck must be an integer ≥ 1, got ${r}`);
    if (opts.adapters && stored !== undefined && stored !== r)
      throw new CheckpointError(
        `training: adapters of bottleneck ${r} asked for, but the weights have ${stored}`,
      );
    this.adapterBottleneck = r;
    const sublayers =
      r === undefined ? [] : adapterSublayers({ modelType: "bert", numLayers: c.numLayers }, p);
    for (const sub of sublayers)
      for (const [name, shape] of adapterTensorShapes(sub, C, r!)) add(name, shape);

    const params = new ParamStore(rt, specs);
    this.params = params;
    const std = opts.initializerRange ?? 0.02;
    const seed = opts.seed ?? 0;
    const init = (names: string[]) => {
      initParams(
        params,
        names.filter((n) => !isAdapterTensor(n)),
        seed,
        std,
        c.padTokenId,
        p,
      );
      for (const n of names.filter(isAdapterTensor))
        params.set(n, initAdapterTensor(n, params.entry(n).size, opts.adapters?.seed ?? seed));
    };
    if (opts.weights) {
      // The decoder bias is saved as cls.predictions.bias (and a duplicate cls.predictions.decoder.bias).
      const missing = params.load(opts.weights, { allowMissing: true });
      const required = opts.initMissing ? [] : missing.filter((n) => !isAdapterTensor(n));
      if (required.length) params.load(opts.weights); // throws, listing the missing tensors
      init(missing);
    } else {
      init(params.names());
    }

    // Pointers.
    const { arena, k } = rt;
    const linear = (name: string, N: number, K: number, w?: string, dw?: string): Lin => {
      const l: Lin = {
        N,
        K,
        w: params.ptr(w ?? `${name}.weight`),
        dw: params.gradPtr(dw ?? `${name}.weight`),
        b: params.ptr(`${name}.bias`),
        db: params.gradPtr(`${name}.bias`),
        wp: arena.alloc(k.packed_size_f32(N, K)),
        wNames: [w ?? `${name}.weight`],
        bNames: [`${name}.bias`],
      };
      this.linears.push(l);
      return l;
    };
    const norm = (name: string): Norm => ({
      w: params.ptr(`${name}.weight`),
      b: params.ptr(`${name}.bias`),
      dw: params.gradPtr(`${name}.weight`),
      db: params.gradPtr(`${name}.bias`),
      wName: `${name}.weight`,
      bName: `${name}.bias`,
    });
    const adapter = (sub: string): Adapter | undefined =>
      r === undefined
        ? undefined
        : { down: linear(`${sub}.adapter.down`, r, C), up: linear(`${sub}.adapter.up`, C, r) };
    const word = `${p}embeddings.word_embeddings.weight`;
    this.tok = params.ptr(word);
    this.dtok = params.gradPtr(word);
    this.pos = params.ptr(`${p}embeddings.position_embeddings.weight`);
    this.dpos = params.gradPtr(`${p}embeddings.position_embeddings.weight`);
    this.seg = params.ptr(`${p}embeddings.token_type_embeddings.weight`);
    this.dseg = params.gradPtr(`${p}embeddings.token_type_embeddings.weight`);
    this.embLn = norm(`${p}embeddings.LayerNorm`);
    for (let i = 0; i < c.numLayers; i++) {
      const l = `${p}encoder.layer.${i}`;
      const s = `${l}.attention.self`;
      // the layout puts key and value right after query (weights and biases): check it
      for (const [a, b] of [
        ["query", "key"],
        ["key", "value"],
      ]) {
        for (const t of ["weight", "bias"]) {
          const ea = params.entry(`${s}.${a}.${t}`);
          if (params.entry(`${s}.${b}.${t}`).offset !== ea.offset + ea.size)
            throw new Error(`BertTrainer: ${s} ${t}s are not adjacent`);
        }
      }
      const qkv = linear(`${s}.query`, 3 * C, C);
      qkv.wNames = ["query", "key", "value"].map((n) => `${s}.${n}.weight`);
      qkv.bNames = ["query", "key", "value"].map((n) => `${s}.${n}.bias`);
      this.layers.push({
        qkv,
        attnOut: linear(`${l}.attention.output.dense`, C, C),
        ln1: norm(`${l}.attention.output.LayerNorm`),
        inter: linear(`${l}.intermediate.dense`, F, C),
        out: linear(`${l}.output.dense`, C, F),
        ln2: norm(`${l}.output.LayerNorm`),
        attnAdapter: adapter(`${l}.attention.output`),
        ffnAdapter: adapter(`${l}.output`),
      });
    }
    if (this.heads.pooler) this.pooler = linear(`${p}pooler.dense`, C, C);
    if (heads.mlm) {
      this.mlmTransform = linear("cls.predictions.transform.dense", C, C);
      this.mlmLn = norm("cls.predictions.transform.LayerNorm");
      const dec = this.tied ? word : "cls.predictions.decoder.weight";
      this.decoder = {
        N: V,
        K: C,
        w: params.ptr(dec),
        dw: params.gradPtr(dec),
        b: params.ptr("cls.predictions.bias"),
        db: params.gradPtr("cls.predictions.bias"),
        wp: arena.alloc(k.packed_size_f32(V, C)),
        wNames: [dec],
        bNames: ["cls.predictions.bias"],
      };
      this.linears.push(this.decoder);
    }
    if (heads.nsp) this.nsp = linear("cls.seq_relationship", 2, C);
    for (const h of headSpecs) this.classifiers.push(linear(headPrefix(h.name), h.numLabels, C));
    this.repack();
  }

  /** The parameters under their Hugging Face names (the tied decoder weight omitted, as HF saves it). */
  exportWeights(): Record<string, TensorInput> {
    return this.params.tensors("params");
  }

  /** d(loss)/d(parameter) under the Hugging Face names (tied decoder's part inside the word embeddings). */
  exportGradients(): Record<string, TensorInput> {
    return this.params.tensors("grads");
  }

  private checkBatch(batch: BertBatch): void {
    const c = this.config;
    const { batch: B, seq: T } = batch;
    const M = B * T;
    if (!(Number.isInteger(B) && Number.isInteger(T) && B > 0 && T > 0))
      throw new RangeError(`BERT: empty input (batch ${B}, sequence ${T})`);
    if (T > c.maxPositions)
      throw new RangeError(`BERT: sequence of ${T} tokens exceeds max_position_embeddings ${c.maxPositions}`);
    const sized: [string, Int32Array | undefined, number][] = [
      ["input_ids", batch.inputIds, M],
      ["attention_mask", batch.attentionMask, M],
      ["token_type_ids", batch.tokenTypeIds, M],
      ["mlm_labels", batch.mlmLabels, M],
      ["next_sentence_label", batch.nextSentenceLabel, B],
      ["labels", batch.labels, B],
    ];
    for (const [name, a, n] of sized)
      if (a && a.length !== n) throw new RangeError(`BERT: ${name} has ${a.length} values, expected ${n}`);
    const h = this.heads;
    if (batch.mlmLabels && !h.mlm)
      throw new RangeError(`BERT: mlm_labels given but ${this.arch} has no MLM head`);
    if (batch.nextSentenceLabel && !h.nsp)
      throw new RangeError(`BERT: next_sentence_label given but ${this.arch} has no next-sentence head`);
    if (batch.labels && !h.classifier)
      throw new RangeError(`BERT: labels given but ${this.arch} has no classification head`);
    if (!batch.mlmLabels && !batch.nextSentenceLabel && !batch.labels)
      throw new RangeError("BERT: no labels (mlm_labels, next_sentence_label or labels) to compute a loss");
    const checkLabels = (name: string, a: Int32Array | undefined, n: number) => {
      if (!a) return;
      for (const y of a)
        if (y !== -100 && !(y >= 0 && y < n))
          throw new RangeError(`BERT: ${name} has label ${y} outside [0, ${n}) (−100 = ignored)`);
    };
    checkLabels("mlm_labels", batch.mlmLabels, c.vocabSize);
    checkLabels("next_sentence_label", batch.nextSentenceLabel, 2);
    if (batch.task !== undefined && !this.headNames)
      throw new RangeError("BERT: task given but this trainer has a single classifier head");
    if (batch.labels && this.headNames) {
      const t = batch.task;
      if (!(Number.isInteger(t) && t! >= 0 && t! < this.headNames.length))
        throw new RangeError(
          `BERT: labels need the task (head index 0…${this.headNames.length - 1}: ${this.headNames.join(", ")}), got ${t}`,
        );
    }
    if (batch.labels) checkLabels("labels", batch.labels, this.classifierHead(batch).N);
  }

  /** Index of a multi-head trainer's head by task name (throws for unknown names). */
  headIndex(task: string): number {
    const i = this.headNames?.indexOf(task) ?? -1;
    if (i < 0)
      throw new RangeError(
        `BERT: no classifier head for task ${JSON.stringify(task)} (heads: ${this.headNames?.join(", ") ?? "a single classifier"})`,
      );
    return i;
  }

  /** Number of labels of each classifier head (single-head: [numLabels]). */
  get headSizes(): number[] {
    return this.classifiers.map((l) => l.N);
  }

  /** The classifier head a batch trains: its task's (multi-head) or the only one. */
  private classifierHead(batch: BertBatch): Lin {
    return this.classifiers[this.headNames ? batch.task! : 0];
  }

  protected run(batch: BertBatch, grad: boolean, opts: RunOptions): BertTrainOutput {
    this.checkBatch(batch);
    const { arena } = this.rt;
    const mark = arena.mark();
    try {
      const { out, saved } = this.forward(batch, grad, opts);
      if (grad) this.backward(saved);
      return out;
    } finally {
      arena.reset(mark);
    }
  }

  private forward(batch: BertBatch, grad: boolean, opts: RunOptions): { out: BertTrainOutput; saved: Saved } {
    const c = this.config;
    const { arena, k } = this.rt;
    const { batch: B, seq: T } = batch;
    const [C, H, F, V, P, S] = [
      c.hiddenSize,
      c.numHeads,
      c.intermediateSize,
      c.vocabSize,
      c.maxPositions,
      c.typeVocabSize,
    ];
    const D = C / H;
    const M = B * T;
    const eps = c.layerNormEps;
    const dloss = opts.lossScale ?? 1;

    // embeddings: word + position + segment, then LayerNorm
    const ids = arena.put(batch.inputIds); // [M] i32
    const gradIds = arena.put(batch.inputIds.map((id) => (id === c.padTokenId ? PAD_GRAD_ID : id))); // [M]
    const posIds = arena.put(Int32Array.from({ length: M }, (_, i) => i % T)); // [M]
    const segIds = arena.put(batch.tokenTypeIds ?? new Int32Array(M)); // [M]
    const keyMask = arena.put(batch.attentionMask ?? new Int32Array(M).fill(1)); // [B,T]
    const emb = arena.allocF32(M * C); // [M,C]
    const bad = k.embed_f32(emb, ids, posIds, segIds, this.tok, this.pos, this.seg, M, C, V, P, S);
    if (bad > 0)
      throw new RangeError(
        `BERT: ${bad} token or segment ids are outside the vocabulary (${V}) or type vocabulary (${S})`,
      );
    const embMean = arena.allocF32(M); // [M]
    const embRstd = arena.allocF32(M); // [M]
    let x = arena.allocF32(M * C); // [M,C]
    k.layernorm_f32(x, embMean, embRstd, emb, this.embLn.w, this.embLn.b, M, C, eps);

    // encoder layers, saving every activation the backward reads
    const scratch = arena.alloc(k.attention_scratch_size(T, T, D));
    const layers: LayerActs[] = [];
    for (const l of this.layers) {
      const a: LayerActs = {
        xin: x,
        qkv: arena.allocF32(M * 3 * C),
        probs: arena.allocF32(B * H * T * T),
        ctx: arena.allocF32(M * C),
        res1: arena.allocF32(M * C),
        mean1: arena.allocF32(M),
        rstd1: arena.allocF32(M),
        h: arena.allocF32(M * C),
        pre: arena.allocF32(M * F),
        act: arena.allocF32(M * F),
        res2: arena.allocF32(M * C),
        mean2: arena.allocF32(M),
        rstd2: arena.allocF32(M),
        xout: arena.allocF32(M * C),
      };
      k.matmul_f32(a.qkv, 0, x, l.qkv.wp, l.qkv.b, 0, M, C, 3 * C, Epilogue.bias);
      k.attention_f32(
        a.ctx,
        a.probs,
        scratch,
        a.qkv,
        a.qkv + C * 4,
        a.qkv + 2 * C * 4,
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
      if (l.attnAdapter) {
        a.attnAdapter = this.adapterForward(l.attnAdapter, a.res1, a.ctx, l.attnOut, x, M);
      } else k.matmul_f32(a.res1, 0, a.ctx, l.attnOut.wp, l.attnOut.b, x, M, C, C, Epilogue.residual);
      k.layernorm_f32(a.h, a.mean1, a.rstd1, a.res1, l.ln1.w, l.ln1.b, M, C, eps);
      k.matmul_f32(a.act, a.pre, a.h, l.inter.wp, l.inter.b, 0, M, C, F, c.act);
      if (l.ffnAdapter) {
        a.ffnAdapter = this.adapterForward(l.ffnAdapter, a.res2, a.act, l.out, a.h, M);
      } else k.matmul_f32(a.res2, 0, a.act, l.out.wp, l.out.b, a.h, M, F, C, Epilogue.residual);
      k.layernorm_f32(a.xout, a.mean2, a.rstd2, a.res2, l.ln2.w, l.ln2.b, M, C, eps);
      layers.push(a);
      x = a.xout;
    }

    const saved: Saved = { B, T, M, ids, gradIds, posIds, segIds, emb, embMean, embRstd, layers };
    const out: BertTrainOutput = { loss: 0 };
    const lossBuf = arena.allocF32(1); // [1]

    // MLM head on the labeled rows only (ignored rows add nothing to the loss or the gradients)
    if (batch.mlmLabels) {
      const all = batch.mlmLabels;
      const rowList: number[] = [];
      for (let r = 0; r < M; r++) if (all[r] !== -100) rowList.push(r);
      const n = rowList.length;
      out.mlmRows = Int32Array.from(rowList);
      if (n === 0) {
        out.mlmLoss = Number.NaN; // PyTorch: mean over no rows
        if (opts.logits) out.mlmLogits = new Float32Array(0);
      } else {
        const rows = arena.put(out.mlmRows); // [n] i32
        const labels = arena.put(Int32Array.from(rowList, (r) => all[r])); // [n] i32
        const m = {
          n,
          rows,
          xr: arena.allocF32(n * C),
          tpre: arena.allocF32(n * C),
          tact: arena.allocF32(n * C),
          mean: arena.allocF32(n),
          rstd: arena.allocF32(n),
          tln: arena.allocF32(n * C),
          dlogits: grad ? arena.allocF32(n * V) : 0,
        };
        const logits = arena.allocF32(n * V); // [n,V]
        k.embed_f32(m.xr, rows, 0, 0, x, 0, 0, n, C, M, 0, 0); // gather rows of x [M,C]
        const t = this.mlmTransform!;
        k.matmul_f32(m.tact, m.tpre, m.xr, t.wp, t.b, 0, n, C, C, c.act);
        k.layernorm_f32(m.tln, m.mean, m.rstd, m.tact, this.mlmLn!.w, this.mlmLn!.b, n, C, eps);
        const d = this.decoder!;
        k.matmul_f32(logits, 0, m.tln, d.wp, d.b, 0, n, C, V, Epilogue.bias);
        if (grad) k.zero_f32(m.dlogits, n * V);
        k.cross_entropy_f32(m.dlogits, lossBuf, logits, labels, n, V, opts.mlmLossScale ?? dloss);
        out.mlmLoss = arena.f32(lossBuf, 1)[0];
        if (opts.logits) out.mlmLogits = arena.readF32(logits, n * V);
        saved.mlm = m;
      }
    }

    // pooler ([CLS] rows → dense → tanh), then next-sentence and classification heads
    if (batch.nextSentenceLabel || batch.labels) {
      const pl = this.pooler!;
      const clsIdx = arena.put(Int32Array.from({ length: B }, (_, b) => b * T)); // [B] i32
      const s: NonNullable<Saved["pooled"]> = {
        clsIdx,
        cls: arena.allocF32(B * C),
        ppre: arena.allocF32(B * C),
        pooled: arena.allocF32(B * C),
        dnsp: 0,
        dcls: 0,
      };
      k.embed_f32(s.cls, clsIdx, 0, 0, x, 0, 0, B, C, M, 0, 0);
      k.matmul_f32(s.pooled, s.ppre, s.cls, pl.wp, pl.b, 0, B, C, C, Epilogue.tanh);
      const head = (
        lin: Lin,
        labelsArr: Int32Array,
        scale: number,
      ): { loss: number; dlogits: number; logits?: Float32Array } => {
        const logits = arena.allocF32(B * lin.N); // [B,N]
        k.matmul_f32(logits, 0, s.pooled, lin.wp, lin.b, 0, B, C, lin.N, Epilogue.bias);
        const dlogits = grad ? arena.allocF32(B * lin.N) : 0; // [B,N]
        if (dlogits) k.zero_f32(dlogits, B * lin.N);
        k.cross_entropy_f32(dlogits, lossBuf, logits, arena.put(labelsArr), B, lin.N, scale);
        return {
          loss: arena.f32(lossBuf, 1)[0],
          dlogits,
          logits: opts.logits ? arena.readF32(logits, B * lin.N) : undefined,
        };
      };
      if (batch.nextSentenceLabel) {
        const r = head(this.nsp!, batch.nextSentenceLabel, opts.nspLossScale ?? dloss);
        out.nspLoss = r.loss;
        s.dnsp = r.dlogits;
        if (r.logits) out.nspLogits = r.logits;
      }
      if (batch.labels) {
        const cl = this.classifierHead(batch);
        const r = head(cl, batch.labels, dloss);
        out.classifyLoss = r.loss;
        s.dcls = r.dlogits;
        s.clsHead = cl;
        if (r.logits) out.classifyLogits = r.logits;
      }
      saved.pooled = s;
    }
    out.loss = (out.mlmLoss ?? 0) + (out.nspLoss ?? 0) + (out.classifyLoss ?? 0);
    return { out, saved };
  }

  /**
   * Forward of a projection followed by its adapter and the residual add:
   * out [M,C] = z + up(relu(down(z))) + residual with z = x·Wᵀ + b. Returns what the backward needs.
   */
  private adapterForward(
    ad: Adapter,
    out: number,
    x: number,
    proj: Lin,
    residual: number,
    M: number,
  ): AdapterActs {
    const { arena, k } = this.rt;
    const C = this.config.hiddenSize;
    const r = ad.down.N;
    const a: AdapterActs = {
      z: arena.allocF32(M * C),
      pre: arena.allocF32(M * r),
      act: arena.allocF32(M * r),
    };
    k.matmul_f32(a.z, 0, x, proj.wp, proj.b, 0, M, proj.K, C, Epilogue.bias);
    k.matmul_f32(a.act, a.pre, a.z, ad.down.wp, ad.down.b, 0, M, C, r, Epilogue.relu);
    k.matmul_f32(out, 0, a.act, ad.up.wp, ad.up.b, a.z, M, r, C, Epilogue.residual);
    k.add_f32(out, out, residual, M * C);
    return a;
  }

  /** The reverse list of backward kernel calls; every gradient buffer is zeroed before it accumulates. */
  private backward(s: Saved): void {
    const c = this.config;
    const { arena, k } = this.rt;
    const { B, T, M, layers } = s;
    const [C, H, F, V, P, S] = [
      c.hiddenSize,
      c.numHeads,
      c.intermediateSize,
      c.vocabSize,
      c.maxPositions,
      c.typeVocabSize,
    ];
    const D = C / H;
    const zeros = (n: number) => {
      const p = arena.allocF32(n);
      k.zero_f32(p, n);
      return p;
    };
    // gradient pointers of trainable parameters only (0: the kernel skips that gradient)
    const params = this.params;
    const on = (name: string) => params.isTrainable(name);
    const dW = (l: Lin) => (l.wNames.some(on) ? l.dw : 0);
    const dB = (l: Lin) => (l.bNames.some(on) ? l.db : 0);
    const dNw = (n: Norm) => (on(n.wName) ? n.dw : 0);
    const dNb = (n: Norm) => (on(n.bName) ? n.db : 0);
    const lin = (l: Lin | undefined) => (l ? [...l.wNames, ...l.bNames] : []);
    const nrm = (n: Norm) => [n.wName, n.bName];
    const p = this.prefix;
    const embNames = [
      `${p}embeddings.word_embeddings.weight`,
      `${p}embeddings.position_embeddings.weight`,
      `${p}embeddings.token_type_embeddings.weight`,
      ...nrm(this.embLn),
    ];
    // needed[i]: layer i or anything below it (embeddings included) has a trainable parameter
    const needed: boolean[] = [];
    let below = embNames.some(on);
    for (let i = 0; i < this.layers.length; i++) {
      const l = this.layers[i];
      const names = [
        ...lin(l.qkv),
        ...lin(l.attnOut),
        ...nrm(l.ln1),
        ...lin(l.inter),
        ...lin(l.out),
        ...nrm(l.ln2),
        ...lin(l.attnAdapter?.down),
        ...lin(l.attnAdapter?.up),
        ...lin(l.ffnAdapter?.down),
        ...lin(l.ffnAdapter?.up),
      ];
      below ||= names.some(on);
      needed.push(below);
    }
    const embTrainable = embNames.some(on);
    let g = zeros(M * C); // [M,C] d loss / d (current layer output)

    // MLM head: decoder (tied: dW into the word embeddings), LayerNorm, GELU, transform, scatter to rows
    if (s.mlm) {
      const m = s.mlm;
      const d = this.decoder!;
      const t = this.mlmTransform!;
      const ln = this.mlmLn!;
      const dtln = zeros(m.n * C); // [n,C]
      k.matmul_backward_f32(dtln, dW(d), dB(d), m.dlogits, m.tln, d.w, m.n, C, V);
      const dtact = zeros(m.n * C); // [n,C]
      k.layernorm_backward_f32(dtact, dNw(ln), dNb(ln), m.mean, m.rstd, dtln, m.tact, ln.w, m.n, C);
      const dtpre = zeros(m.n * C); // [n,C]
      k.activation_backward_f32(dtpre, dtact, m.tpre, m.n * C, c.act);
      const dxr = zeros(m.n * C); // [n,C]
      k.matmul_backward_f32(dxr, dW(t), dB(t), dtpre, m.xr, t.w, m.n, C, C);
      k.embed_backward_f32(g, 0, 0, dxr, m.rows, 0, 0, m.n, C, M, 0, 0); // scatter-add into g rows
    }

    // NSP / classifier → pooler (tanh) → [CLS] rows
    if (s.pooled) {
      const pp = s.pooled;
      const pl = this.pooler!;
      const dpooled = zeros(B * C); // [B,C]
      if (pp.dnsp) {
        const h = this.nsp!;
        k.matmul_backward_f32(dpooled, dW(h), dB(h), pp.dnsp, pp.pooled, h.w, B, C, 2);
      }
      if (pp.dcls) {
        const h = pp.clsHead!;
        k.matmul_backward_f32(dpooled, dW(h), dB(h), pp.dcls, pp.pooled, h.w, B, C, h.N);
      }
      const dppre = zeros(B * C); // [B,C]
      k.activation_backward_f32(dppre, dpooled, pp.ppre, B * C, Epilogue.tanh);
      const dcls = zeros(B * C); // [B,C]
      k.matmul_backward_f32(dcls, dW(pl), dB(pl), dppre, pp.cls, pl.w, B, C, C);
      k.embed_backward_f32(g, 0, 0, dcls, pp.clsIdx, 0, 0, B, C, M, 0, 0);
    }

    // encoder layers in reverse, down to the lowest one that has (or sits above) a trainable parameter
    const dh = arena.allocF32(M * C); // [M,C] d/d h (LayerNorm 1 output), then + the FFN path
    let g2 = arena.allocF32(M * C); // [M,C] d/d layer input
    const dact = arena.allocF32(M * F); // [M,F]
    const dpre = arena.allocF32(M * F); // [M,F]
    const dctx = arena.allocF32(M * C); // [M,C]
    const dqkv = arena.allocF32(M * 3 * C); // [M,3C]
    const r = this.adapterBottleneck ?? 0;
    const dz = r ? arena.allocF32(M * C) : 0; // [M,C] d/d adapter input
    const dadAct = r ? arena.allocF32(M * r) : 0; // [M,r]
    const dadPre = r ? arena.allocF32(M * r) : 0; // [M,r]
    // d out → d z for out = z + up(relu(down(z))) (+ residual, handled by the caller); returns dz
    const adapterBackward = (ad: Adapter, a: AdapterActs, dout: number): number => {
      arena.f32(dz, M * C).set(arena.f32(dout, M * C)); // identity path
      k.zero_f32(dadAct, M * r);
      k.matmul_backward_f32(dadAct, dW(ad.up), dB(ad.up), dout, a.act, ad.up.w, M, r, C);
      k.zero_f32(dadPre, M * r);
      k.activation_backward_f32(dadPre, dadAct, a.pre, M * r, Epilogue.relu);
      k.matmul_backward_f32(dz, dW(ad.down), dB(ad.down), dadPre, a.z, ad.down.w, M, C, r);
      return dz;
    };
    const scratch = arena.alloc(k.attention_backward_scratch_size(T, T, D));
    for (let i = layers.length - 1; i >= 0; i--) {
      if (!needed[i]) break; // nothing trainable here or below
      const l = this.layers[i];
      const a = layers[i];
      // LayerNorm 2: d res2 → dh (res2 = act·Woutᵀ + bout + h, so d h starts as d res2)
      k.zero_f32(dh, M * C);
      k.layernorm_backward_f32(dh, dNw(l.ln2), dNb(l.ln2), a.mean2, a.rstd2, g, a.res2, l.ln2.w, M, C);
      // FFN adapter (d z2 = d res2 + the bottleneck path), FFN output GEMM, GELU, FFN input GEMM (dX → dh)
      const dz2 = l.ffnAdapter ? adapterBackward(l.ffnAdapter, a.ffnAdapter!, dh) : dh;
      k.zero_f32(dact, M * F);
      k.matmul_backward_f32(dact, dW(l.out), dB(l.out), dz2, a.act, l.out.w, M, F, C);
      k.zero_f32(dpre, M * F);
      k.activation_backward_f32(dpre, dact, a.pre, M * F, c.act);
      k.matmul_backward_f32(dh, dW(l.inter), dB(l.inter), dpre, a.h, l.inter.w, M, C, F);
      // LayerNorm 1: d res1 → g2 (res1 = ctx·Woᵀ + bo + xin, so d xin starts as d res1)
      k.zero_f32(g2, M * C);
      k.layernorm_backward_f32(g2, dNw(l.ln1), dNb(l.ln1), a.mean1, a.rstd1, dh, a.res1, l.ln1.w, M, C);
      // attention adapter, output projection, attention, fused QKV GEMM (its dX adds into g2)
      const dz1 = l.attnAdapter ? adapterBackward(l.attnAdapter, a.attnAdapter!, g2) : g2;
      k.zero_f32(dctx, M * C);
      k.matmul_backward_f32(dctx, dW(l.attnOut), dB(l.attnOut), dz1, a.ctx, l.attnOut.w, M, C, C);
      k.zero_f32(dqkv, M * 3 * C);
      k.attention_backward_f32(
        dqkv,
        dqkv + C * 4,
        dqkv + 2 * C * 4,
        0,
        a.probs,
        scratch,
        a.qkv,
        a.qkv + C * 4,
        a.qkv + 2 * C * 4,
        dctx,
        B,
        H,
        T,
        T,
        D,
        1 / Math.sqrt(D),
        T * 3 * C,
        3 * C,
        T * 3 * C,
        3 * C,
        T * 3 * C,
        3 * C,
        T * C,
        C,
      );
      const dxin = (i > 0 ? needed[i - 1] : embTrainable) ? g2 : 0;
      k.matmul_backward_f32(dxin, dW(l.qkv), dB(l.qkv), dqkv, a.xin, l.qkv.w, M, C, 3 * C);
      [g, g2] = [g2, g];
    }
    if (!embTrainable) return;

    // embedding LayerNorm, then scatter-add into the three tables (no gradient for padding_idx rows)
    const demb = zeros(M * C); // [M,C]
    const e = this.embLn;
    k.layernorm_backward_f32(demb, dNw(e), dNb(e), s.embMean, s.embRstd, g, s.emb, e.w, M, C);
    const [word, pos, seg] = embNames;
    const dpos = on(pos) ? this.dpos : 0;
    const dseg = on(seg) ? this.dseg : 0;
    if (dpos || dseg) k.embed_backward_f32(0, dpos, dseg, demb, s.ids, s.posIds, s.segIds, M, C, V, P, S);
    if (on(word)) k.embed_backward_f32(this.dtok, 0, 0, demb, s.gradIds, 0, 0, M, C, V, P, S);
  }
}

/**
 * Hugging Face's BertPreTrainedModel._init_weights: Linear and embedding weights ~ N(0, std), biases 0,
 * LayerNorm weight 1 and bias 0, the word embedding's padding row 0. Each tensor's values depend only on
 * (seed, name), so adding a head does not change the others.
 */
export function initParams(
  params: ParamStore,
  names: readonly string[],
  seed: number,
  std: number,
  padTokenId: number,
  prefix = "bert.",
): void {
  for (const name of names) {
    const e = params.entry(name);
    const out = new Float32Array(e.size);
    if (name.includes("LayerNorm")) {
      if (name.endsWith("weight")) out.fill(1);
    } else if (!name.endsWith("bias")) {
      let h = seed >>> 0;
      for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
      const r = normals(h);
      for (let i = 0; i < e.size; i++) out[i] = r() * std;
      if (name === `${prefix}embeddings.word_embeddings.weight`) {
        const C = e.shape[1];
        if (padTokenId >= 0 && padTokenId < e.shape[0]) out.fill(0, padTokenId * C, (padTokenId + 1) * C);
      }
    }
    params.set(name, out);
  }
}
