// Fine-tuning a pretrained model into a run folder, the engine of `edgeformer finetune`. BERT: sequence
// classification on labelled text (a new head when the base has none of the right size; labels from
// --labels, the base's id2label, or the data); T5: text-to-text pairs (src/train/finetune-tasks.ts).
// Three strategies: full (every parameter trains), unfreeze (gradual unfreezing: the top block and head
// first, one more block every --unfreeze-every steps, top down, embeddings last; src/train/unfreeze.ts)
// and adapters (Houlsby adapters added to every block; only adapters, layer norms and the head train).
// Frozen parameters get no update and no optimizer state (ParamStore's trainable mask). Data: JSONL or
// CSV (src/train/finetune-data.ts), tokenized once, visited in a seeded order per epoch, so a step's
// batch follows from (epoch, index) alone. AdamW with warm-up and linear or cosine decay, global-norm
// clipping; held-out loss and accuracy (and the majority-class baseline) every evalEvery steps;
// metrics.jsonl and curves.svg, atomic checkpoints (full models, adapters included) with exact resume,
// a clear stop on a NaN or infinite loss or gradient — all shared with pretraining (checkpoint.ts,
// metrics.ts, progress.ts, schedule.ts, run-loop.ts). At the end the run folder holds the result: for full and
// unfreeze a complete model folder (config.json, model.safetensors, the base's tokenizer files); for
// adapters an adapter folder (adapter_config.json + adapter.safetensors with every trained tensor).
// One thread. Multi-task BERT fine-tuning (tasks.json, one head per task) is src/train/finetune-multitask.ts,
// which shares this file's defaults and output writer, and with it src/train/finetune-loop.ts (common
// settings checks, base model loading, the step tail: logging, evaluation, checkpoints).
import { readFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { writeSafetensors } from "../io/safetensors.ts";
import {
  ADAPTER_CONFIG_FILE,
  ADAPTER_FORMAT,
  ADAPTER_VERSION,
  ADAPTER_WEIGHTS_FILE,
  type AdapterConfig,
  adapterBaseFields,
  hideTensors,
} from "../models/adapters.ts";
import { bertConfigFromJson } from "../models/bert-config.ts";
import { t5ConfigFromJson } from "../models/t5-config.ts";
import type { TensorStore } from "../models/tensors.ts";
import type { KernelRuntime } from "../runtime/load.ts";
import { loadRuntime } from "../runtime/node.ts";
import type { Tokenizer } from "../tokenizers/types.ts";
import { BertTrainer } from "./bert-train.ts";
import { writeFileAtomic } from "./checkpoint.ts";
import {
  batchesPerEpoch,
  deriveSeed,
  type EpochPosition,
  epochBatches,
  epochPermutation,
} from "./data/index.ts";
import {
  FinetuneDataError,
  labelList,
  majority,
  readClassificationData,
  readTextPairData,
} from "./finetune-data.ts";
import {
  checkInt,
  checkLr,
  checkOptimizerSettings,
  checkSameData,
  checkStrategy,
  type FinetuneCommonSettings,
  FinetuneLoop,
  type FinetuneRunResult,
  finishSettings,
  loadBaseTokenizer,
  loadStartWeights,
  resultTail,
} from "./finetune-loop.ts";
import {
  type BertClassifyExample,
  BertClassifyTask,
  type FinetuneTask,
  type StepStats,
  T5TextTask,
  tokenizeClassify,
  tokenizeTextPair,
} from "./finetune-tasks.ts";
import { type CurveSpec, MetricsLog } from "./metrics.ts";
import type { ParamStore } from "./params.ts";
import { Progress } from "./progress.ts";
import { PretrainSettingsError, readJson, TrainingDivergedError } from "./run-files.ts";
import { keepFixed, optimizerOf, RunFolder, type RunOptions } from "./run-loop.ts";
import { learningRate } from "./schedule.ts";
import { T5Trainer } from "./t5-train.ts";
import type { T5Example } from "./t5data/index.ts";
import { type UnfreezeArch, unfreezeStage, unfreezeStages, unfreezeTrainable } from "./unfreeze.ts";

export { PretrainSettingsError, TrainingDivergedError };

export const FINETUNE_STRATEGIES = ["full", "unfreeze", "adapters"] as const;
export type FinetuneStrategy = (typeof FINETUNE_STRATEGIES)[number];

/** Settings of a run: saved in trainer_state.json and reused by resume. */
export interface FinetuneSettings extends FinetuneCommonSettings {
  data: string;
  evalData?: string;
  /** When set, steps = ⌈epochs · batches per epoch⌉. */
  epochs?: number;
  /** T5: target tokens. */
  targetLen: number;
  /** BERT: the label list (order = class index). */
  labels?: string[];
}

/** Settings that define the data or the model: a resumed run must keep them. */
const FIXED: (keyof FinetuneSettings)[] = [
  "model",
  "data",
  "evalData",
  "strategy",
  "unfreezeEvery",
  "bottleneck",
  "batch",
  "seqLen",
  "targetLen",
  "seed",
  "evalExamples",
  "labels",
];

export const FINETUNE_DEFAULTS: Omit<FinetuneSettings, "model" | "data" | "strategy" | "warmup"> = {
  unfreezeEvery: 0,
  bottleneck: 64,
  steps: 1000,
  batch: 16,
  lr: 0,
  schedule: "linear",
  seqLen: 128,
  targetLen: 32,
  seed: 42,
  evalEvery: 200,
  saveEvery: 500,
  logEvery: 10,
  maxGradNorm: 1,
  weightDecay: 0.01,
  evalExamples: 1000,
  keep: 2,
};

export const DEFAULT_LR: Record<FinetuneStrategy, number> = { full: 1e-4, unfreeze: 1e-4, adapters: 1e-3 };

export interface FinetuneOptions extends Partial<FinetuneSettings>, RunOptions<BertTrainer | T5Trainer> {}

export interface FinetuneEval {
  loss: number;
  accuracy: number;
  /** Accuracy of always predicting the training data's most frequent label (T5: target). */
  majority_accuracy: number;
  examples: number;
}

export interface FinetuneResult extends FinetuneRunResult<FinetuneEval> {
  model_type: "bert" | "t5";
  train_examples: number;
  eval_examples: number;
  labels?: string[];
}

const SEED_INIT = 1;
const SEED_ORDER = 2;
const SEED_EVAL = 3;
const SEED_ADAPTERS = 4;

const TOKENIZER_FILES = [
  "vocab.txt",
  "tokenizer.json",
  "tokenizer_config.json",
  "spiece.model",
  "special_tokens_map.json",
];

const CURVES: CurveSpec = {
  lossTitle: "loss (cross-entropy)",
  accuracy: [{ key: "accuracy", label: "accuracy" }],
};

function checkSettings(s: FinetuneSettings): void {
  for (const k of ["steps", "batch", "logEvery", "keep", "bottleneck", "targetLen"] as const)
    checkInt(s, k, 1);
  for (const k of ["warmup", "evalEvery", "saveEvery", "unfreezeEvery", "evalExamples"] as const)
    checkInt(s, k, 0);
  checkInt(s, "seqLen", 4);
  checkStrategy(s, FINETUNE_STRATEGIES);
  checkLr(s);
  if (s.epochs !== undefined && !(s.epochs > 0))
    throw new PretrainSettingsError(`epochs must be > 0, got ${s.epochs}`);
  checkOptimizerSettings(s);
}

/** Settings: defaults < the checkpoint's (resume) < the options given; data/model settings must not change on resume. */
function resolveSettings(given: FinetuneOptions, saved: FinetuneSettings | undefined): FinetuneSettings {
  const keys = new Set([
    ...Object.keys(FINETUNE_DEFAULTS),
    "model",
    "data",
    "evalData",
    "strategy",
    "warmup",
    "epochs",
    "labels",
  ]);
  const explicit: Partial<FinetuneSettings> = {};
  for (const [k, v] of Object.entries(given))
    if (v !== undefined && keys.has(k)) (explicit as Record<string, unknown>)[k] = v;
  if (explicit.epochs !== undefined && explicit.steps !== undefined)
    throw new PretrainSettingsError("give either steps or epochs, not both");
  keepFixed(FIXED, explicit, saved);
  // steps given on resume replace the saved epochs
  if (saved && explicit.steps !== undefined) explicit.epochs = undefined;
  const s = { ...FINETUNE_DEFAULTS, ...saved, ...explicit } as FinetuneSettings;
  const newRunLr = !saved && explicit.lr === undefined ? (DEFAULT_LR[s.strategy] ?? 0) : undefined;
  return finishSettings(s, ["data", "a data file is required (--data FILE)"], newRunLr, checkSettings);
}

async function readDataFile(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    throw new PretrainSettingsError(
      `data ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}

/** At most `n` items: a seeded sample kept in file order when there are more. */
function sample<T>(items: T[], n: number, seed: number): T[] {
  if (items.length <= n) return items;
  const idx = Array.from(epochPermutation(items.length, seed, 0).subarray(0, n)).sort((a, b) => a - b);
  return idx.map((i) => items[i]);
}

/** The tokenizer files of the base folder (copied into a full-model output). */
export async function tokenizerFiles(dir: string): Promise<Record<string, string | Uint8Array>> {
  const out: Record<string, string | Uint8Array> = {};
  for (const name of TOKENIZER_FILES) {
    const b = await readFile(join(dir, name)).catch(() => undefined);
    if (b) out[name] = name === "spiece.model" ? new Uint8Array(b) : b.toString("utf8");
  }
  return out;
}

interface Prepared<E> {
  task: FinetuneTask<E>;
  train: E[];
  evalItems: E[];
  majorityAccuracy: number;
  configJson: Record<string, unknown>;
  labels?: string[];
  adapterExtras: Partial<AdapterConfig>;
}

/**
 * Which parameters a fine-tuning strategy trains at each step: all (full), the adapters' (adapters), or
 * gradual unfreezing's stages (unfreeze; settings.unfreezeEvery 0 becomes the steps spread evenly over
 * the stages). Sets the trainable mask of `startStep`.
 */
export class StrategyMask {
  readonly stages: number;
  /** The unfreezing stage in force (0 for full and adapters). */
  stage: number;

  constructor(
    private readonly settings: Pick<FinetuneSettings, "strategy" | "unfreezeEvery" | "steps">,
    private readonly arch: UnfreezeArch,
    private readonly adapterTrains: (name: string) => boolean,
    private readonly params: ParamStore,
    startStep: number,
  ) {
    this.stages = unfreezeStages(arch);
    if (settings.strategy === "unfreeze" && settings.unfreezeEvery === 0)
      settings.unfreezeEvery = Math.max(1, Math.floor(settings.steps / this.stages));
    this.stage = this.stageAt(startStep);
    params.setTrainable(this.maskAt(startStep));
  }

  private maskAt(step: number): (n: string) => boolean {
    const s = this.settings;
    return s.strategy === "full"
      ? () => true
      : s.strategy === "adapters"
        ? this.adapterTrains
        : unfreezeTrainable(this.arch, step, s.unfreezeEvery);
  }

  private stageAt(step: number): number {
    return this.settings.strategy === "unfreeze"
      ? unfreezeStage(this.arch, step, this.settings.unfreezeEvery)
      : 0;
  }

  /** Before step `step` (0-based): moves to its stage, saying so on `progress` when it changes. */
  advance(step: number, progress: Progress): void {
    const s = this.stageAt(step);
    if (s === this.stage) return;
    this.stage = s;
    this.params.setTrainable(this.maskAt(step));
    progress.line(
      `step ${step + 1}: unfreezing stage ${s} of ${this.stages} (${this.params.trainableCount} of ${this.params.count} parameters trainable)`,
    );
  }
}

/** Sums step stats over batches of examples. */
function evaluateTask<E>(
  task: FinetuneTask<E>,
  items: readonly E[],
  batch: number,
): { loss: number; accuracy: number } {
  let loss = 0;
  let weight = 0;
  let correct = 0;
  for (let i = 0; i < items.length; i += batch) {
    const s = task.evaluate(items.slice(i, i + batch));
    loss += s.loss * s.weight;
    weight += s.weight;
    correct += s.correct;
  }
  return { loss: weight ? loss / weight : 0, accuracy: items.length ? correct / items.length : 0 };
}

export async function finetune(opts: FinetuneOptions): Promise<FinetuneResult> {
  // ---- resume state, settings ----
  const run = await RunFolder.open(opts, (state) => {
    if (state.kind === "finetune-multitask")
      throw new PretrainSettingsError(
        `${opts.out} holds a multi-task run (tasks.json): resume it with its --tasks, or with --resume --out alone`,
      );
  });
  const { out, latest, state } = run;
  const say = (s: string) => run.say(s);
  const settings = resolveSettings(opts, state?.settings as FinetuneSettings | undefined);

  // ---- base model, tokenizer, data ----
  const baseConfig = await readJson(join(settings.model, "config.json"), "base model config");
  const modelType = baseConfig.model_type === "mt5" ? "t5" : baseConfig.model_type;
  if (modelType !== "bert" && modelType !== "t5")
    throw new PretrainSettingsError(
      `--model ${settings.model}: model_type ${JSON.stringify(baseConfig.model_type)} cannot be fine-tuned (bert, t5)`,
    );
  const tokenizer = await loadBaseTokenizer(settings.model);
  const tokFiles = await tokenizerFiles(settings.model);
  const rt = opts.runtime ?? (await loadRuntime());
  const weights = await loadStartWeights(settings.model, latest);
  const adapters =
    settings.strategy === "adapters"
      ? { bottleneck: settings.bottleneck, seed: deriveSeed(settings.seed, SEED_ADAPTERS) }
      : undefined;

  let prep: Prepared<BertClassifyExample> | Prepared<T5Example>;
  try {
    prep =
      modelType === "bert"
        ? await prepareBert(rt, settings, baseConfig, weights, tokenizer, adapters, !!latest)
        : await prepareT5(rt, settings, baseConfig, weights, tokenizer, adapters);
  } catch (e) {
    if (e instanceof FinetuneDataError) throw new PretrainSettingsError(e.message);
    throw e;
  }
  const task = prep.task as FinetuneTask<unknown>;
  const trainItems = prep.train as unknown[];
  const evalItems = prep.evalItems as unknown[];
  const trainer = task.trainer;
  const params = trainer.params;

  // ---- step count, schedule, masks ----
  const perEpoch = batchesPerEpoch(trainItems.length, settings.batch);
  if (settings.epochs !== undefined) settings.steps = Math.max(1, Math.ceil(settings.epochs * perEpoch));
  if (settings.warmup < 0) settings.warmup = Math.round(settings.steps * 0.1);
  const startStep = run.startStep;
  const mask = new StrategyMask(settings, task.unfreezeArch, (n) => task.adapterTrains(n), params, startStep);
  await run.loadOptimizer(params);
  const { schedule, adamw, saved: optimizerState } = optimizerOf(settings);
  const data = {
    model_type: modelType,
    train_examples: trainItems.length,
    eval_examples: evalItems.length,
    labels: prep.labels,
    vocab_size: tokenizer.vocabSize,
  };
  checkSameData(state, data);
  const trainableNow = () => params.trainableCount;
  say(
    `finetune ${modelType} (${settings.strategy}): ${trainItems.length} training and ${evalItems.length} held-out examples, ${perEpoch} steps per epoch, ${settings.steps} steps; ${trainableNow()} of ${params.count} parameters trainable${settings.strategy === "unfreeze" ? ` (stage ${mask.stage} of ${mask.stages}, one more block every ${settings.unfreezeEvery} steps)` : ""}`,
  );

  let position: EpochPosition = latest
    ? { epoch: state!.epoch as number, index: state!.index as number }
    : { epoch: 0, index: 0 };
  const metrics = await MetricsLog.open(out, latest ? startStep : undefined);
  if (latest)
    say(`resuming from ${latest.dir} (step ${startStep}, epoch ${position.epoch}, batch ${position.index})`);
  const result: FinetuneResult = {
    out,
    model_type: modelType,
    strategy: settings.strategy,
    steps: settings.steps,
    train_examples: trainItems.length,
    eval_examples: evalItems.length,
    ...resultTail(params, settings.strategy, latest),
  };
  if (prep.labels) result.labels = prep.labels;
  if (latest) result.resumed_from = startStep;
  const progress = new Progress(settings.steps, startStep, run.stream, run.progressMode);

  const runEval = (): FinetuneEval => {
    const r = evaluateTask(task, evalItems, settings.batch);
    return { ...r, majority_accuracy: prep.majorityAccuracy, examples: evalItems.length };
  };
  const trainerState = (step: number) => ({
    version: 1,
    kind: "finetune",
    step,
    total_steps: settings.steps,
    epoch: position.epoch,
    index: position.index,
    steps_per_epoch: perEpoch,
    elapsed_s: run.elapsed(),
    unfreeze_stage: settings.strategy === "unfreeze" ? mask.stage : undefined,
    seeds: {
      seed: settings.seed,
      init: deriveSeed(settings.seed, SEED_INIT),
      order: deriveSeed(settings.seed, SEED_ORDER),
      eval: deriveSeed(settings.seed, SEED_EVAL),
      adapters: deriveSeed(settings.seed, SEED_ADAPTERS),
      rng: "mulberry32",
    },
  });

  const loop = new FinetuneLoop({
    run,
    progress,
    metrics,
    settings,
    title: `fine-tuning (${settings.strategy})`,
    curves: CURVES,
    hasEval: evalItems.length > 0,
    evaluate: (n) => {
      const ev = runEval();
      result.eval = ev;
      return {
        fields: { ...ev },
        line: (took) =>
          `eval at step ${n}: loss ${ev.loss.toFixed(4)}, accuracy ${(100 * ev.accuracy).toFixed(2)}% (majority baseline ${(100 * ev.majority_accuracy).toFixed(2)}%, ${ev.examples} examples, ${took})`,
      };
    },
    result,
    checkpoint: {
      config: prep.configJson,
      tokenizer: tokFiles,
      trainer,
      state: trainerState,
      schedule,
      optimizer: optimizerState,
      data,
    },
    afterStep: opts.afterStep,
  });
  try {
    const batches = epochBatches(trainItems, {
      batchSize: settings.batch,
      seed: deriveSeed(settings.seed, SEED_ORDER),
      start: position,
    });
    let loss = Number.NaN;
    let win = { loss: 0, weight: 0, correct: 0, count: 0 };
    for (let step = startStep; step < settings.steps; step++) {
      const n = step + 1;
      mask.advance(step, progress);
      if (opts.beforeStep) {
        opts.beforeStep(n, trainer);
      }
      const item = batches.next().value!;
      const lr = learningRate(schedule, step);
      const stats: StepStats = task.lossAndGrad(item.items);
      const clip = run.clip(params, settings.maxGradNorm, stats.loss, n, lr);
      trainer.adamwStep({ ...adamw, lr }, clip.scale);
      position = item.next;
      loss = stats.loss;
      win = {
        loss: win.loss + stats.loss * stats.weight,
        weight: win.weight + stats.weight,
        correct: win.correct + stats.correct,
        count: win.count + stats.count,
      };
      await loop.after(n, { loss, tokens: stats.tokens, lr, gradNorm: clip.norm }, () => {
        // loss and accuracy averaged over the steps since the last log line
        const w = {
          head: { epoch: Number((item.epoch + (item.index + 1) / perEpoch).toFixed(4)) },
          loss: win.weight ? win.loss / win.weight : loss,
          accuracy: win.count ? win.correct / win.count : 0,
        };
        win = { loss: 0, weight: 0, correct: 0, count: 0 };
        return w;
      });
    }
    loop.end(loss, (e) => e as unknown as FinetuneEval);
    result.files = await writeOutput(out, settings, prep, trainer, tokFiles, baseConfig, modelType);
  } catch (e) {
    await loop.stopped(e);
    throw e;
  }
  return run.finish(result);
}

/** The run folder's result: a complete model folder, or an adapter folder. Returns the files written. */
export async function writeOutput(
  out: string,
  settings: Pick<FinetuneSettings, "strategy" | "model">,
  prep: Pick<Prepared<unknown>, "configJson" | "adapterExtras">,
  trainer: BertTrainer | T5Trainer,
  tokFiles: Record<string, string | Uint8Array>,
  baseConfig: Record<string, unknown>,
  modelType: "bert" | "t5",
): Promise<string[]> {
  const all = trainer.exportWeights();
  if (settings.strategy !== "adapters") {
    await writeFileAtomic(join(out, "config.json"), `${JSON.stringify(prep.configJson, null, 2)}\n`);
    await writeFileAtomic(join(out, "model.safetensors"), writeSafetensors(all, { format: "pt" }));
    for (const [name, data] of Object.entries(tokFiles)) await writeFileAtomic(join(out, name), data);
    return ["config.json", "model.safetensors", ...Object.keys(tokFiles)];
  }
  const trained = trainer.params.trainableNames();
  const tensors = Object.fromEntries(trained.map((n) => [n, all[n]]));
  const cfg: AdapterConfig = {
    format: ADAPTER_FORMAT,
    version: ADAPTER_VERSION,
    model_type: modelType,
    bottleneck: trainer.adapterBottleneck!,
    base: adapterBaseFields(modelType, baseConfig),
    ...prep.adapterExtras,
    trained,
  };
  await writeFileAtomic(join(out, ADAPTER_CONFIG_FILE), `${JSON.stringify(cfg, null, 2)}\n`);
  await writeFileAtomic(
    join(out, ADAPTER_WEIGHTS_FILE),
    writeSafetensors(tensors, { format: "pt", base_model: basename(resolve(settings.model)) }),
  );
  return [ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE];
}

// ---- BERT sequence classification ----

async function prepareBert(
  rt: KernelRuntime,
  s: FinetuneSettings,
  baseConfig: Record<string, unknown>,
  weights: TensorStore,
  tokenizer: Tokenizer,
  adapters: { bottleneck: number; seed: number } | undefined,
  resumed: boolean,
): Promise<Prepared<BertClassifyExample>> {
  const trainData = readClassificationData(await readDataFile(s.data), s.data);
  const evalData = s.evalData ? readClassificationData(await readDataFile(s.evalData), s.evalData) : [];
  // labels: --labels, else the base's own classifier labels when they cover the data, else the data's
  let given = s.labels;
  const baseCfg = bertConfigFromJson(baseConfig);
  const baseIsClassifier =
    baseCfg.architectures[0] === "BertForSequenceClassification" && weights.has("classifier.weight");
  if (!given && baseIsClassifier && baseCfg.numLabels >= 2) {
    const seen = new Set(trainData.map((e) => e.label));
    if ([...seen].every((l) => baseCfg.id2label.includes(l))) given = baseCfg.id2label;
  }
  const labels = labelList(trainData, given);
  s.labels = labels;
  const unknown = evalData.filter((e) => !labels.includes(e.label));
  if (unknown.length)
    throw new FinetuneDataError(
      `${s.evalData}: ${unknown.length} examples have labels the training data does not (${[...new Set(unknown.map((e) => e.label))].slice(0, 5).join(", ")})`,
    );
  const id2label = Object.fromEntries(labels.map((l, i) => [String(i), l]));
  const label2id = Object.fromEntries(labels.map((l, i) => [l, i]));
  const configJson: Record<string, unknown> = {
    ...baseConfig,
    architectures: ["BertForSequenceClassification"],
    id2label,
    label2id,
  };
  delete configJson.num_labels;
  const config = bertConfigFromJson(configJson);
  if (s.seqLen > config.maxPositions)
    throw new PretrainSettingsError(
      `seqLen ${s.seqLen} exceeds the model's max_position_embeddings ${config.maxPositions}`,
    );
  // a base classifier head of another size is dropped (a new one is initialized)
  let store = weights;
  if (!resumed && weights.has("classifier.weight") && weights.shape("classifier.weight")[0] !== labels.length)
    store = hideTensors(weights, (n) => n.startsWith("classifier."));
  const trainer = new BertTrainer(rt, config, {
    arch: "BertForSequenceClassification",
    weights: store,
    initMissing: !resumed,
    seed: deriveSeed(s.seed, SEED_INIT),
    initializerRange: typeof baseConfig.initializer_range === "number" ? baseConfig.initializer_range : 0.02,
    tieWordEmbeddings: baseConfig.tie_word_embeddings !== false,
    adapters: resumed ? undefined : adapters,
  });
  const padId = tokenizer.special.pad ?? config.padTokenId;
  const tok = (e: (typeof trainData)[number]) =>
    tokenizeClassify(tokenizer, e.text, e.textPair, label2id[e.label], s.seqLen);
  const evalSample = sample(evalData, s.evalExamples, deriveSeed(s.seed, SEED_EVAL));
  const maj = majority(
    trainData.map((e) => e.label),
    labels,
  );
  return {
    task: new BertClassifyTask(trainer, padId),
    train: trainData.map(tok),
    evalItems: evalSample.map(tok),
    majorityAccuracy: evalSample.length
      ? evalSample.filter((e) => e.label === maj.value).length / evalSample.length
      : 0,
    configJson,
    labels,
    adapterExtras: {
      task: "sequence-classification",
      architectures: ["BertForSequenceClassification"],
      id2label,
      label2id,
    },
  };
}

// ---- T5 text-to-text ----

async function prepareT5(
  rt: KernelRuntime,
  s: FinetuneSettings,
  baseConfig: Record<string, unknown>,
  weights: TensorStore,
  tokenizer: Tokenizer,
  adapters: { bottleneck: number; seed: number } | undefined,
): Promise<Prepared<T5Example>> {
  if (s.labels) throw new PretrainSettingsError("labels apply to BERT classification only");
  const trainData = readTextPairData(await readDataFile(s.data), s.data);
  const evalData = s.evalData ? readTextPairData(await readDataFile(s.evalData), s.evalData) : [];
  const config = t5ConfigFromJson(baseConfig);
  const hasAdapters = weights.names().some((n) => n.endsWith(".adapter.down.weight"));
  const trainer = new T5Trainer(rt, config, {
    weights,
    seed: deriveSeed(s.seed, SEED_INIT),
    adapters: hasAdapters ? undefined : adapters,
  });
  const eos = tokenizer.special.eos ?? config.eosTokenId;
  const pad = tokenizer.special.pad ?? config.padTokenId;
  const tok = (e: { input: string; target: string }) =>
    tokenizeTextPair(tokenizer, e.input, e.target, s.seqLen, s.targetLen, eos);
  const evalSample = sample(evalData, s.evalExamples, deriveSeed(s.seed, SEED_EVAL));
  const maj = majority(trainData.map((e) => e.target));
  return {
    task: new T5TextTask(trainer, pad),
    train: trainData.map(tok),
    evalItems: evalSample.map(tok),
    majorityAccuracy: evalSample.length
      ? evalSample.filter((e) => e.target === maj.value).length / evalSample.length
      : 0,
    configJson: baseConfig,
    adapterExtras: { task: "text2text", architectures: config.architectures },
  };
}
