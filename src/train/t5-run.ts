// T5 training runs into a run folder, the engine of `edgeformer pretrain t5` and `edgeformer train`.
// Two data sources drive the same loop:
// - pretrain: a text corpus (documents minus a held-out tail), tokenized, packed into chunks and turned
//   into examples by an objective (span corruption, or a random split for lm / prefix-lm) with a seed
//   that depends only on (epoch, position), so any step's data follows from the step alone;
// - tasks: a tasks.json of text-to-text tasks drawn by the mixing sampler (proportional with cap K,
//   equal, temperature), each example tokenized when drawn; held-out evaluation per task from an
//   optional second tasks.json (--eval-tasks) with the same task names.
// Tokenizer: the run folder's or --init's (spiece.model / tokenizer.json + tokenizer_config.json), else a
// SentencePiece unigram vocabulary trained on the training text (written as spiece.model,
// tokenizer.json and tokenizer_config.json). Model: --init weights or a seeded random init of --config
// (default: 4+4 layers, d_model 256, gated-GELU, tied head); the architecture (encoder–decoder,
// decoder-only, prefix-LM) comes from the config. AdamW with warm-up and linear or cosine decay,
// global-norm clipping, each step's gradient data-parallel over `threads` (parallel-t5.ts; evaluation on
// the main thread), held-out loss and token accuracy every evalEvery steps, metrics.jsonl and curves.svg,
// atomic checkpoints, exact resume, and a clear stop on a NaN / infinite loss or gradient.
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { readTensors } from "../models/checkpoint-node.ts";
import { type T5Config, t5ConfigFromJson } from "../models/t5-config.ts";
import { loadRuntime } from "../runtime/node.ts";
import { loadTokenizerFromFiles } from "../tokenizers/load.ts";
import { spieceToTokenizerJson } from "../tokenizers/t5.ts";
import type { Tokenizer } from "../tokenizers/types.ts";
import { optimizerTensors, writeFileAtomic } from "./checkpoint.ts";
import {
  batchesPerEpoch,
  deriveSeed,
  type EpochPosition,
  epochPermutation,
  mulberry32,
} from "./data/index.ts";
import { readCorpusFile } from "./data/node.ts";
import { type CurveSpec, type MetricsEntry, MetricsLog } from "./metrics.ts";
import { formatDuration, Progress } from "./progress.ts";

export { LOSS_WEIGHTINGS, type LossWeighting } from "./parallel-t5.ts";

import { correctTokens, LOSS_WEIGHTINGS, type LossWeighting, T5DataParallel } from "./parallel-t5.ts";
import { PretrainSettingsError, readJson, readText } from "./run-files.ts";
import {
  due,
  keepFixed,
  LR_SCALES,
  type LrScale,
  optimizerOf,
  RunFolder,
  type RunOptions,
  stepLine,
  stopped,
  TokenRate,
  writeFinalModel,
} from "./run-loop.ts";
import { learningRate, type ScheduleKind } from "./schedule.ts";
import { T5Trainer } from "./t5-train.ts";
import {
  collateT5,
  type MixingOptions,
  type MixingStrategy,
  MixtureSampler,
  type MixtureState,
  objectiveExample,
  packChunks,
  parseTasksJson,
  randomSpansHelper,
  serializeSentencePieceModel,
  T5_OBJECTIVES,
  type T5Example,
  type T5Objective,
  type Task,
  trainUnigram,
  truncateWithEos,
} from "./t5data/index.ts";
import { loadTasksFile } from "./t5data/node.ts";

export interface T5RunSettings {
  /** pretrain: --corpus with an objective; tasks: --tasks with a mixing strategy. */
  mode: "pretrain" | "tasks";
  objective: T5Objective;
  corpus?: string;
  /** Held-out text (default: the last heldOut of the corpus's lines). */
  evalCorpus?: string;
  tasks?: string;
  evalTasks?: string;
  mixing: MixingStrategy;
  /** K of proportional / temperature mixing (0: no cap). */
  limit: number;
  temperature: number;
  steps: number;
  batch: number;
  lr: number;
  warmup: number;
  schedule: ScheduleKind;
  /** pretrain: encoder input length the chunks are cut for; tasks: inputs are cut to this. */
  inputLength: number;
  /** tasks: targets are cut to this. */
  targetLength: number;
  /** Examples per micro-batch after sorting a step's examples by length (0: the step is one batch). */
  microBatch: number;
  noiseDensity: number;
  meanNoiseSpanLength: number;
  seed: number;
  vocabSize: number;
  evalEvery: number;
  saveEvery: number;
  logEvery: number;
  maxGradNorm: number;
  weightDecay: number;
  /** Per-tensor lr scaling: "rms" = lr · max(1e-3, RMS(tensor)) (Adafactor's scale_parameter). */
  lrScale: LrScale;
  /**
   * What the gradient averages over: "token" (every target token counts the same: long targets dominate)
   * or "example" (every example counts the same, so a two-token `pos:` answer weighs as much as a
   * 40-token definition). Reported losses are always per target token.
   */
  lossWeighting: LossWeighting;
  /**
   * Threads computing each step's gradient (data-parallel, parallel-t5.ts); not fixed on resume: it only
   * changes the order floats are summed in.
   */
  threads: number;
  heldOut: number;
  /** Held-out examples evaluated (pretrain: in all; tasks: per task). */
  evalExamples: number;
  keep: number;
  config?: string;
  init?: string;
}

/** Settings that define the data or the model: a resumed run must keep them. */
const FIXED: (keyof T5RunSettings)[] = [
  "mode",
  "objective",
  "corpus",
  "evalCorpus",
  "tasks",
  "evalTasks",
  "mixing",
  "limit",
  "temperature",
  "batch",
  "inputLength",
  "targetLength",
  "microBatch",
  "noiseDensity",
  "meanNoiseSpanLength",
  "seed",
  "vocabSize",
  "heldOut",
  "evalExamples",
  "config",
  "init",
];

export const T5_DEFAULT_SETTINGS: Omit<T5RunSettings, "mode" | "warmup"> = {
  objective: "span",
  mixing: "temperature",
  limit: 0,
  temperature: 2,
  steps: 1000,
  batch: 32,
  lr: 1e-3,
  schedule: "linear",
  inputLength: 64,
  targetLength: 48,
  microBatch: 0,
  noiseDensity: 0.15,
  meanNoiseSpanLength: 3,
  seed: 42,
  vocabSize: 8000,
  evalEvery: 200,
  saveEvery: 500,
  logEvery: 10,
  maxGradNorm: 1,
  weightDecay: 0.01,
  lrScale: "none",
  lossWeighting: "token",
  threads: 1,
  heldOut: 0.05,
  evalExamples: 256,
  keep: 2,
};

/** A small T5 (4+4 layers, d_model 256, 4 heads of 64, gated-GELU 768, tied head) when no --config / --init. */
export const T5_DEFAULT_CONFIG: Record<string, unknown> = {
  architectures: ["T5ForConditionalGeneration"],
  model_type: "t5",
  d_model: 256,
  d_kv: 64,
  d_ff: 768,
  num_layers: 4,
  num_decoder_layers: 4,
  num_heads: 4,
  relative_attention_num_buckets: 32,
  relative_attention_max_distance: 128,
  dropout_rate: 0.0,
  layer_norm_epsilon: 1e-6,
  initializer_factor: 1.0,
  feed_forward_proj: "gated-gelu",
  tie_word_embeddings: true,
  is_encoder_decoder: true,
  pad_token_id: 0,
  eos_token_id: 1,
  decoder_start_token_id: 0,
};

/** The architecture each objective trains by default (a --config may say otherwise). */
const OBJECTIVE_ARCHITECTURE: Record<T5Objective, string> = {
  span: "encoder-decoder",
  lm: "decoder-only",
  "prefix-lm": "prefix-lm",
};

export interface T5RunOptions extends Partial<T5RunSettings>, RunOptions<T5Trainer> {
  /** Stop after this step, keeping the learning-rate schedule of `steps` (a run cut short on purpose; resumable). */
  stopAt?: number;
}

export interface T5EvalResult {
  loss: number;
  token_accuracy: number;
  examples: number;
  /** Per task (tasks mode). */
  tasks?: Record<string, { loss: number; token_accuracy: number; examples: number }>;
}

export interface T5RunResult {
  out: string;
  checkpoint: string;
  steps: number;
  resumed_from?: number;
  loss?: number;
  eval?: T5EvalResult;
  vocab_size: number;
  parameters: number;
  tokens_per_s?: number;
  seconds: number;
  /** Set when the run stopped before `steps` (--stop-at). */
  stopped_at?: number;
  /** pretrain: training chunks; tasks: examples per task. */
  train_examples: number | Record<string, number>;
}

const SEED_EVAL = 2;
const SEED_INIT = 3;
const SEED_ORDER = 4;
const SEED_NOISE = 5;
const SEED_MIX = 6;

function checkSettings(s: T5RunSettings): void {
  const int = (k: keyof T5RunSettings, min: number) => {
    const v = s[k] as number;
    if (!(Number.isInteger(v) && v >= min))
      throw new PretrainSettingsError(`${k} must be an integer ≥ ${min}, got ${v}`);
  };
  for (const k of ["steps", "batch", "logEvery", "keep", "threads"] as const) int(k, 1);
  for (const k of ["warmup", "evalEvery", "saveEvery", "evalExamples", "limit", "microBatch"] as const)
    int(k, 0);
  int("inputLength", 4);
  int("targetLength", 2);
  int("vocabSize", 110);
  if (!T5_OBJECTIVES.includes(s.objective))
    throw new PretrainSettingsError(
      `objective must be one of ${T5_OBJECTIVES.join(", ")}, got ${s.objective}`,
    );
  if (!["proportional", "temperature", "equal"].includes(s.mixing))
    throw new PretrainSettingsError(`mixing must be proportional, temperature or equal, got ${s.mixing}`);
  if (!(s.temperature > 0)) throw new PretrainSettingsError(`temperature must be > 0, got ${s.temperature}`);
  if (!(s.lr > 0)) throw new PretrainSettingsError(`lr must be > 0, got ${s.lr}`);
  if (!(s.maxGradNorm >= 0)) throw new PretrainSettingsError(`maxGradNorm must be ≥ 0`);
  if (!(s.weightDecay >= 0)) throw new PretrainSettingsError(`weightDecay must be ≥ 0`);
  if (!LOSS_WEIGHTINGS.includes(s.lossWeighting))
    throw new PretrainSettingsError(
      `lossWeighting must be one of ${LOSS_WEIGHTINGS.join(", ")}, got ${s.lossWeighting}`,
    );
  if (!LR_SCALES.includes(s.lrScale))
    throw new PretrainSettingsError(`lrScale must be one of ${LR_SCALES.join(", ")}, got ${s.lrScale}`);
  if (!(s.heldOut >= 0 && s.heldOut < 1)) throw new PretrainSettingsError(`heldOut must be in [0, 1)`);
  if (!(s.noiseDensity > 0 && s.noiseDensity < 1))
    throw new PretrainSettingsError(`noiseDensity must be in (0, 1)`);
  if (!(s.meanNoiseSpanLength >= 1)) throw new PretrainSettingsError(`meanNoiseSpanLength must be ≥ 1`);
  if (s.schedule !== "linear" && s.schedule !== "cosine")
    throw new PretrainSettingsError(`schedule must be linear or cosine, got ${s.schedule}`);
  if (s.mode === "pretrain" && s.corpus === undefined)
    throw new PretrainSettingsError("a corpus file is required (--corpus FILE)");
  if (s.mode === "tasks" && s.tasks === undefined)
    throw new PretrainSettingsError("a tasks file is required (--tasks tasks.json)");
}

/** tasks.json's own "mixing" as settings (strategy, K, T), or nothing when it has none or cannot be read. */
async function fileMixing(given: T5RunOptions): Promise<Partial<T5RunSettings>> {
  if (given.tasks === undefined) return {};
  let m: MixingOptions | undefined;
  try {
    m = parseTasksJson(await readFile(given.tasks, "utf8"), given.tasks).mixing;
  } catch {
    return {}; // reported when the tasks are loaded
  }
  const out: Partial<T5RunSettings> = {};
  if (m?.strategy) out.mixing = m.strategy;
  if (m?.limit !== undefined) out.limit = m.limit;
  if (m?.temperature !== undefined) out.temperature = m.temperature;
  return out;
}

/** Settings: defaults < tasks.json's "mixing" < the checkpoint's (resume) < the options given. */
function resolveSettings(
  given: T5RunOptions,
  saved: T5RunSettings | undefined,
  fromFile: Partial<T5RunSettings> = {},
): T5RunSettings {
  const explicit: Partial<T5RunSettings> = {};
  for (const [k, v] of Object.entries(given))
    if (
      v !== undefined &&
      (k in T5_DEFAULT_SETTINGS ||
        ["mode", "warmup", "corpus", "evalCorpus", "tasks", "evalTasks", "config", "init"].includes(k))
    )
      (explicit as Record<string, unknown>)[k] = v;
  keepFixed(FIXED, explicit, saved);
  const s = { ...T5_DEFAULT_SETTINGS, ...fromFile, ...saved, ...explicit } as T5RunSettings;
  if (explicit.warmup === undefined) s.warmup = saved?.warmup ?? Math.round(s.steps * 0.05);
  checkSettings(s);
  return s;
}

/** Tokenizer files of a folder (those present). */
async function tokenizerFilesIn(dir: string): Promise<Record<string, string | Uint8Array>> {
  const files: Record<string, string | Uint8Array> = {};
  for (const name of ["tokenizer.json", "tokenizer_config.json"]) {
    const t = await readText(join(dir, name));
    if (t !== undefined) files[name] = t;
  }
  const sp = await readFile(join(dir, "spiece.model")).catch(() => undefined);
  if (sp) files["spiece.model"] = new Uint8Array(sp);
  return files;
}

function tokenizerFrom(files: Record<string, string | Uint8Array>): Tokenizer {
  return loadTokenizerFromFiles({
    tokenizerJson: files["tokenizer.json"] as string | undefined,
    tokenizerConfig: files["tokenizer_config.json"] as string | undefined,
    spieceModel: files["spiece.model"] as Uint8Array | undefined,
  });
}

/** Mean loss / token accuracy of examples, token-weighted, in batches. */
function evaluateExamples(trainer: T5Trainer, examples: readonly T5Example[], batch: number) {
  let loss = 0;
  let tokens = 0;
  let correct = 0;
  const V = trainer.config.vocabSize;
  for (let i = 0; i < examples.length; i += batch) {
    const b = collateT5(examples.slice(i, i + batch));
    const out = trainer.evaluate(b, { logits: true });
    if (out.tokens === 0) continue;
    loss += out.loss * out.tokens;
    tokens += out.tokens;
    correct += correctTokens(out.logits!, out.rows, b.labels, V);
  }
  return { loss: tokens ? loss / tokens : 0, token_accuracy: tokens ? correct / tokens : 0, tokens };
}

/**
 * A step's examples as micro-batches of similar length (sorted by input + target length, cut into groups
 * of at most `size`; 0 = one batch), so short examples are not padded to the step's longest.
 */
export function lengthBuckets(examples: readonly T5Example[], size: number): T5Example[][] {
  if (!(size > 0) || examples.length <= size) return [[...examples]];
  const sorted = examples
    .map((e, i) => ({ e, i, n: e.inputs.length + e.targets.length }))
    .sort((a, b) => a.n - b.n || a.i - b.i)
    .map((x) => x.e);
  const out: T5Example[][] = [];
  for (let i = 0; i < sorted.length; i += size) out.push(sorted.slice(i, i + size));
  return out;
}

/** Tokens of a text example for training: input and target with EOS, cut to the limits. */
function tokenizeExample(
  tok: Tokenizer,
  input: string,
  target: string,
  s: T5RunSettings,
  eos: number,
): T5Example {
  return {
    inputs: truncateWithEos(tok.encode(input).ids, s.inputLength, eos),
    targets: truncateWithEos(tok.encode(target).ids, s.targetLength, eos),
  };
}

/** The non-blank lines of a text file (documents for T5: they are packed into chunks anyway). */
async function readLines(path: string): Promise<string[]> {
  const lines: string[] = [];
  try {
    for await (const doc of readCorpusFile(path)) for (const line of doc) lines.push(line);
  } catch (e) {
    throw new PretrainSettingsError(
      `corpus ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  return lines;
}

export async function trainT5(opts: T5RunOptions): Promise<T5RunResult> {
  // ---- resume state, settings ----
  const run = await RunFolder.open(opts);
  const { out, latest, state } = run;
  const say = (s: string) => run.say(s);
  const saved = state?.settings as T5RunSettings | undefined;
  const settings = resolveSettings(opts, saved, saved ? {} : await fileMixing(opts));

  // ---- training text ----
  let trainDocs: string[] = [];
  let evalDocs: string[] = [];
  let tasks: Task[] = [];
  let evalTasks: Task[] = [];
  if (settings.mode === "pretrain") {
    try {
      await stat(settings.corpus!);
    } catch (e) {
      throw new PretrainSettingsError(`corpus ${settings.corpus}: ${(e as NodeJS.ErrnoException).code ?? e}`);
    }
    const docs = await readLines(settings.corpus!);
    if (docs.length === 0) throw new PretrainSettingsError(`corpus ${settings.corpus} has no text`);
    const nEval =
      settings.evalCorpus === undefined && docs.length >= 2 && settings.heldOut > 0
        ? Math.max(1, Math.floor(docs.length * settings.heldOut))
        : 0;
    trainDocs = docs.slice(0, docs.length - nEval);
    evalDocs =
      settings.evalCorpus !== undefined
        ? await readLines(settings.evalCorpus)
        : docs.slice(docs.length - nEval);
  } else {
    try {
      tasks = (await loadTasksFile(settings.tasks!)).loaded;
      if (settings.evalTasks !== undefined) evalTasks = (await loadTasksFile(settings.evalTasks)).loaded;
    } catch (e) {
      throw new PretrainSettingsError((e as Error).message);
    }
    for (const t of evalTasks)
      if (!tasks.some((u) => u.name === t.name))
        throw new PretrainSettingsError(`--eval-tasks has task ${JSON.stringify(t.name)} that --tasks lacks`);
  }

  // ---- tokenizer ----
  let tokFiles = await tokenizerFilesIn(out);
  if (Object.keys(tokFiles).length === 0 && settings.init !== undefined)
    tokFiles = await tokenizerFilesIn(settings.init);
  if (!tokFiles["tokenizer.json"] && !tokFiles["spiece.model"]) {
    const tv = performance.now();
    const texts =
      settings.mode === "pretrain"
        ? trainDocs
        : tasks.flatMap((t) => t.examples.flatMap((e) => [e.input, e.target]));
    const trained = trainUnigram(texts, { vocabSize: settings.vocabSize - 100 });
    tokFiles = {
      "spiece.model": serializeSentencePieceModel(trained.model),
      "tokenizer_config.json": `${JSON.stringify(trained.tokenizerConfig, null, 2)}\n`,
      "tokenizer.json": JSON.stringify(spieceToTokenizerJson(trained.model, trained.tokenizerConfig)),
    };
    say(
      `vocab: trained ${trained.model.pieces.length} SentencePiece pieces (+100 sentinels) from ${trained.totalWords} words in ${formatDuration((performance.now() - tv) / 1000)}`,
    );
  }
  for (const [name, data] of Object.entries(tokFiles)) {
    const cur = typeof data === "string" ? await readText(join(out, name)) : undefined;
    if (cur !== data) await writeFileAtomic(join(out, name), data);
  }
  const tokenizer = tokenizerFrom(tokFiles);
  const eos = tokenizer.special.eos ?? 1;
  const pad = tokenizer.special.pad ?? 0;

  // ---- model config ----
  let rawConfig: Record<string, unknown> = { ...T5_DEFAULT_CONFIG };
  if (latest) rawConfig = await readJson(join(latest.dir, "config.json"), "config");
  else if (settings.config !== undefined)
    rawConfig = { ...T5_DEFAULT_CONFIG, ...(await readJson(settings.config, "config")) };
  else if (settings.init !== undefined)
    rawConfig = await readJson(join(settings.init, "config.json"), "config");
  if (
    !latest &&
    settings.init === undefined &&
    settings.mode === "pretrain" &&
    rawConfig.edgeformer_architecture === undefined
  )
    rawConfig.edgeformer_architecture = OBJECTIVE_ARCHITECTURE[settings.objective];
  if (
    settings.init !== undefined &&
    !latest &&
    rawConfig.vocab_size !== undefined &&
    rawConfig.vocab_size !== tokenizer.vocabSize
  )
    throw new PretrainSettingsError(
      `--init ${settings.init} has vocab_size ${rawConfig.vocab_size} but its tokenizer has ${tokenizer.vocabSize} tokens`,
    );
  const configJson: Record<string, unknown> = {
    ...rawConfig,
    vocab_size: tokenizer.vocabSize,
    pad_token_id: pad,
    eos_token_id: eos,
  };
  let config: T5Config;
  try {
    config = t5ConfigFromJson(configJson);
  } catch (e) {
    throw new PretrainSettingsError((e as Error).message);
  }

  // ---- examples ----
  const td = performance.now();
  const objective = {
    objective: settings.objective,
    vocabSize: tokenizer.vocabSize,
    eosId: eos,
    noiseDensity: settings.noiseDensity,
    meanNoiseSpanLength: settings.meanNoiseSpanLength,
  };
  let chunks: number[][] = [];
  let evalExamples: T5Example[] = [];
  const evalByTask: { name: string; examples: T5Example[] }[] = [];
  if (settings.mode === "pretrain") {
    const chunkLen =
      settings.objective === "span"
        ? randomSpansHelper(settings.inputLength, settings.noiseDensity, settings.meanNoiseSpanLength)
            .tokensLength
        : settings.inputLength;
    const ids = (docs: string[]) =>
      docs.map((d) => tokenizer.encode(d, undefined, { addSpecialTokens: false }).ids);
    chunks = packChunks(ids(trainDocs), chunkLen);
    if (chunks.length === 0)
      throw new PretrainSettingsError(`corpus ${settings.corpus} gives no training chunks`);
    const evalChunks = evalDocs.length ? packChunks(ids(evalDocs), chunkLen) : [];
    const rng = mulberry32(deriveSeed(settings.seed, SEED_EVAL));
    evalExamples = evalChunks.slice(0, settings.evalExamples).map((c) => objectiveExample(c, rng, objective));
    say(
      `data: ${trainDocs.length + evalDocs.length} documents (${evalDocs.length} held out), ${chunks.length} training chunks of ${chunkLen} tokens, ${evalExamples.length} held-out examples, ${batchesPerEpoch(chunks.length, settings.batch)} steps per epoch (${formatDuration((performance.now() - td) / 1000)})`,
    );
  } else {
    for (const t of evalTasks) {
      const ex = t.examples
        .slice(0, settings.evalExamples)
        .map((e) => ({ ...tokenizeExample(tokenizer, `${t.prefix}${e.input}`, e.target, settings, eos) }));
      evalByTask.push({ name: t.name, examples: ex });
    }
    say(
      `data: ${tasks.map((t) => `${t.name} ${t.examples.length}`).join(", ")} training examples; held-out: ${evalByTask.map((t) => `${t.name} ${t.examples.length}`).join(", ") || "none"}`,
    );
  }

  // ---- model, optimizer ----
  const rt = opts.runtime ?? (await loadRuntime());
  let trainer: T5Trainer;
  if (latest) {
    trainer = new T5Trainer(rt, config, { weights: await readTensors(latest.dir) });
    await run.loadOptimizer(trainer.params);
  } else if (settings.init !== undefined) {
    trainer = new T5Trainer(rt, config, {
      weights: await readTensors(settings.init),
      initMissing: true,
      seed: deriveSeed(settings.seed, SEED_INIT),
    });
    say(`init: ${settings.init}`);
  } else {
    trainer = new T5Trainer(rt, config, {
      seed: deriveSeed(settings.seed, SEED_INIT),
      initializerFactor:
        typeof configJson.initializer_factor === "number" ? configJson.initializer_factor : 1,
    });
  }
  const startStep = run.startStep;
  const { schedule, adamw, saved: optimizerState } = optimizerOf(settings);
  let position: EpochPosition = latest ? (state!.position as EpochPosition) : { epoch: 0, index: 0 };
  const sampler =
    settings.mode === "tasks"
      ? new MixtureSampler(
          tasks,
          {
            strategy: settings.mixing,
            limit: settings.limit || undefined,
            temperature: settings.temperature,
            seed: deriveSeed(settings.seed, SEED_MIX),
          },
          latest ? (state!.mixture as MixtureState) : undefined,
        )
      : undefined;
  if (sampler)
    say(
      `mixing (${settings.mixing}): ${tasks.map((t, i) => `${t.name} ${(100 * sampler.rates[i]).toFixed(1)}%`).join(", ")}`,
    );
  let tokensSeen = latest ? (state!.tokens_seen as number) : 0;
  const metrics = await MetricsLog.open(out, latest ? startStep : undefined);
  const curveSpec: CurveSpec = {
    lossTitle: "loss (target-token cross-entropy)",
    accuracy:
      settings.mode === "tasks" && evalByTask.length
        ? [
            { key: "token_accuracy", label: "all tasks" },
            ...evalByTask.map((t) => ({ key: `token_accuracy_${t.name}`, label: t.name })),
          ]
        : [{ key: "token_accuracy", label: "target tokens" }],
  };
  const title =
    settings.mode === "tasks" ? "T5 multi-task training" : `T5 pretraining (${settings.objective})`;
  if (latest) say(`resuming from ${latest.dir} (step ${startStep})`);
  const result: T5RunResult = {
    out,
    checkpoint: latest?.dir ?? "",
    steps: settings.steps,
    vocab_size: tokenizer.vocabSize,
    parameters: trainer.params.count,
    seconds: 0,
    train_examples:
      settings.mode === "pretrain"
        ? chunks.length
        : Object.fromEntries(tasks.map((t) => [t.name, t.examples.length])),
  };
  if (latest) result.resumed_from = startStep;
  const progress = new Progress(settings.steps, startStep, run.stream, run.progressMode);

  const save = async (step: number) => {
    result.checkpoint = await run.save(
      step,
      {
        config: configJson,
        tokenizer: tokFiles,
        model: trainer.exportWeights(),
        state: {
          version: 1,
          step,
          total_steps: settings.steps,
          position,
          mixture: sampler?.state,
          tokens_seen: tokensSeen,
          elapsed_s: run.elapsed(),
          schedule,
          optimizer: optimizerState,
          settings,
        },
      },
      optimizerTensors(trainer.params),
      settings.keep,
      progress,
    );
  };

  /** The examples of step `step` (0-based) and the data position after it. */
  const stepExamples = (): T5Example[] => {
    if (sampler) {
      return sampler
        .take(settings.batch)
        .map((m) => ({ ...tokenizeExample(tokenizer, m.input, m.target, settings, eos), task: m.taskIndex }));
    }
    const perEpoch = batchesPerEpoch(chunks.length, settings.batch);
    let { epoch, index } = position;
    if (index >= perEpoch) {
      epoch++;
      index = 0;
    }
    const order = epochPermutation(chunks.length, deriveSeed(settings.seed, SEED_ORDER), epoch);
    const ex: T5Example[] = [];
    for (let k = index * settings.batch; k < Math.min(chunks.length, (index + 1) * settings.batch); k++) {
      const rng = mulberry32(deriveSeed(settings.seed, SEED_NOISE, epoch, k));
      ex.push(objectiveExample(chunks[order[k]], rng, objective));
    }
    position = index + 1 < perEpoch ? { epoch, index: index + 1 } : { epoch: epoch + 1, index: 0 };
    return ex;
  };

  const evaluate = (): T5EvalResult => {
    if (settings.mode === "pretrain") {
      const r = evaluateExamples(trainer, evalExamples, settings.batch);
      return { loss: r.loss, token_accuracy: r.token_accuracy, examples: evalExamples.length };
    }
    let loss = 0;
    let tokens = 0;
    let acc = 0;
    let n = 0;
    const per: NonNullable<T5EvalResult["tasks"]> = {};
    for (const t of evalByTask) {
      const r = evaluateExamples(trainer, t.examples, settings.batch);
      per[t.name] = { loss: r.loss, token_accuracy: r.token_accuracy, examples: t.examples.length };
      loss += r.loss * r.tokens;
      acc += r.token_accuracy * r.tokens;
      tokens += r.tokens;
      n += t.examples.length;
    }
    return {
      loss: tokens ? loss / tokens : 0,
      token_accuracy: tokens ? acc / tokens : 0,
      examples: n,
      tasks: per,
    };
  };
  const hasEval = settings.mode === "pretrain" ? evalExamples.length > 0 : evalByTask.length > 0;

  const dp = await T5DataParallel.create(trainer, settings.threads);
  if (dp.threads > 1) say(`threads: ${dp.threads} (data-parallel gradients)`);
  try {
    const window = new TokenRate();
    let loss = Number.NaN;
    const trainStart = performance.now();
    let trainTokens = 0;
    const end = Math.min(settings.steps, opts.stopAt ?? settings.steps);
    for (let step = startStep; step < end; step++) {
      const n = step + 1;
      if (opts.beforeStep) {
        opts.beforeStep(n, trainer);
        dp.paramsChanged();
      }
      const examples = stepExamples();
      const lr = learningRate(schedule, step);
      const logNow = n % settings.logEvery === 0 || n === settings.steps;
      const o = await dp.lossAndGrad(lengthBuckets(examples, settings.microBatch), {
        pad,
        logits: logNow,
        weighting: settings.lossWeighting,
      });
      const clip = run.clip(trainer.params, settings.maxGradNorm, o.loss, n, lr);
      trainer.adamwStep({ ...adamw, lr }, clip.scale);
      dp.paramsChanged();
      loss = o.loss;
      const tokens = o.paddedTokens;
      tokensSeen += tokens;
      trainTokens += tokens;
      const now = performance.now();
      const rate = window.add(tokens, logNow, now);
      progress.update(n, loss, rate);
      if (logNow) {
        const acc = o.tokens ? o.correct / o.tokens : 0;
        const e: MetricsEntry = {
          type: "train",
          step: n,
          loss,
          token_accuracy: acc,
          lr,
          grad_norm: clip.norm,
          tokens_per_s: Math.round(rate),
          elapsed_s: Number(run.elapsed(now).toFixed(3)),
        };
        if (settings.mode === "pretrain") e.epoch = position.epoch;
        await metrics.append(e);
        stepLine(
          progress,
          n,
          settings.steps,
          `loss ${loss.toFixed(4)} token acc ${(100 * acc).toFixed(1)}%`,
          lr,
          clip.norm,
          rate,
        );
      }
      if (settings.evalEvery > 0 && hasEval && due(n, settings.evalEvery, end))
        await window.excluding(async () => {
          const te = performance.now();
          const ev = evaluate();
          result.eval = ev;
          const flat: Record<string, number> = {};
          for (const [name, r] of Object.entries(ev.tasks ?? {})) {
            flat[`loss_${name}`] = r.loss;
            flat[`token_accuracy_${name}`] = r.token_accuracy;
          }
          await metrics.append({
            type: "eval",
            step: n,
            loss: ev.loss,
            token_accuracy: ev.token_accuracy,
            examples: ev.examples,
            ...flat,
          });
          progress.line(
            `eval at step ${n}: loss ${ev.loss.toFixed(4)}, token accuracy ${(100 * ev.token_accuracy).toFixed(2)}%${
              ev.tasks
                ? ` (${Object.entries(ev.tasks)
                    .map(([k, r]) => `${k} ${(100 * r.token_accuracy).toFixed(1)}%`)
                    .join(", ")})`
                : ""
            } (${formatDuration((performance.now() - te) / 1000)})`,
          );
          await metrics.writeCurves(title, curveSpec);
        });
      if (due(n, settings.saveEvery, end))
        await window.excluding(async () => {
          await save(n);
          await metrics.writeCurves(title, curveSpec);
        });
      if (opts.afterStep) await opts.afterStep(n);
    }
    progress.done();
    if (startStep < end) {
      result.loss = loss;
      result.tokens_per_s = Math.round((trainTokens * 1000) / (performance.now() - trainStart));
    } else
      say(
        `${latest?.dir} is already at step ${startStep} (stopping at ${end} of ${settings.steps}): nothing to train`,
      );
    if (end < settings.steps) result.stopped_at = end;
    await writeFinalModel(out, configJson, trainer.exportWeights());
  } catch (e) {
    await stopped(e, progress, () => metrics.writeCurves(title, curveSpec));
    throw e;
  } finally {
    await dp.close();
  }
  return run.finish(result);
}
