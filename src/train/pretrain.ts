// BERT pretraining (MLM + NSP) from a text corpus into a run folder, the engine of `edgeformer pretrain
// bert`. Data: the corpus's documents minus a held-out tail (last `heldOut` of them) for evaluation; a
// WordPiece vocab trained on the training documents unless the run folder, --vocab or --init has one;
// masked NSP examples built once from (corpus, vocab, seed), visited in a seeded order per epoch
// (src/train/data), so the data of any step follows from the step's (epoch, index) alone. Model: random
// Hugging Face-style init (seeded) or --init weights. Optimization: AdamW, linear warm-up then linear or
// cosine decay, global-norm clipping, gradient accumulation (micro-batches of `batch` sequences, losses
// normalized over the whole step's batch), data-parallel over threads (parallel.ts). Held-out evaluation
// (loss, masked-token and next-sentence accuracy) every `evalEvery` steps; metrics.jsonl and curves.svg;
// checkpoints (checkpoint.ts) every `saveEvery` steps and at the end; `resume` continues from the latest
// checkpoint bit for bit (no dropout, nothing taken from the clock). A non-finite loss or gradient stops
// training with TrainingDivergedError and leaves the last checkpoint as it was. At the end the run folder
// itself holds the final model (config.json, model.safetensors, vocab.txt, tokenizer_config.json).
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { type BertConfig, bertConfigFromJson } from "../models/bert-config.ts";
import { readTensors } from "../models/checkpoint-node.ts";
import { loadRuntime } from "../runtime/node.ts";
import { loadTokenizerFromFiles } from "../tokenizers/load.ts";
import { BertTrainer } from "./bert-train.ts";
import { optimizerTensors, writeFileAtomic } from "./checkpoint.ts";
import {
  batchesPerEpoch,
  collateBatch,
  createPretrainingExamples,
  type Document,
  deriveSeed,
  type EpochPosition,
  mulberry32,
  type PretrainingExample,
  pretrainingBatches,
  pretrainingVocab,
  tokenizeDocuments,
  trainWordPiece,
} from "./data/index.ts";
import { readCorpusFile } from "./data/node.ts";
import { type MetricsEntry, MetricsLog } from "./metrics.ts";
import { correctPredictions, DataParallel, sliceRows } from "./parallel.ts";
import { formatDuration, Progress } from "./progress.ts";
import { PretrainSettingsError, readJson, readText, TrainingDivergedError } from "./run-files.ts";
import {
  due,
  keepFixed,
  optimizerOf,
  RunFolder,
  type RunOptions,
  stepLine,
  stopped,
  TokenRate,
  writeFinalModel,
} from "./run-loop.ts";
import { learningRate, type ScheduleKind } from "./schedule.ts";

export { PretrainSettingsError, TrainingDivergedError };

/** Settings of a run: saved in trainer_state.json and reused by resume. */
export interface PretrainSettings {
  corpus: string;
  steps: number;
  /** Sequences per micro-batch; a step takes batch × accumulate sequences. */
  batch: number;
  accumulate: number;
  lr: number;
  warmup: number;
  schedule: ScheduleKind;
  seqLen: number;
  seed: number;
  vocabSize: number;
  lowercase: boolean;
  evalEvery: number;
  saveEvery: number;
  logEvery: number;
  /** 0: no clipping. */
  maxGradNorm: number;
  weightDecay: number;
  dupeFactor: number;
  /** Fraction of documents (the last ones) held out for evaluation. */
  heldOut: number;
  /** Cap on held-out examples evaluated. */
  evalExamples: number;
  maskProb: number;
  maxPredictions: number;
  /** Checkpoints kept (the newest ones). */
  keep: number;
  config?: string;
  vocab?: string;
  init?: string;
}

/** Settings that define the data or the model: a resumed run must keep them. */
const FIXED: (keyof PretrainSettings)[] = [
  "batch",
  "accumulate",
  "seqLen",
  "seed",
  "vocabSize",
  "lowercase",
  "dupeFactor",
  "heldOut",
  "evalExamples",
  "maskProb",
  "maxPredictions",
  "config",
  "vocab",
  "init",
];

export interface PretrainOptions extends Partial<PretrainSettings>, RunOptions<BertTrainer> {
  threads?: number;
}

export interface EvalResult {
  /** Masked-token accuracy of always predicting the training labels' most frequent token. */
  baseline_mlm_accuracy?: number;
  loss: number;
  mlm_loss: number;
  nsp_loss: number;
  mlm_accuracy: number;
  nsp_accuracy: number;
  perplexity: number;
  examples: number;
}

export interface PretrainResult {
  out: string;
  checkpoint: string;
  steps: number;
  resumed_from?: number;
  loss?: number;
  eval?: EvalResult;
  train_examples: number;
  eval_examples: number;
  vocab_size: number;
  parameters: number;
  threads: number;
  tokens_per_s?: number;
  seconds: number;
}

export const DEFAULT_SETTINGS: Omit<PretrainSettings, "corpus" | "warmup"> = {
  steps: 1000,
  batch: 16,
  accumulate: 1,
  lr: 5e-4,
  schedule: "linear",
  seqLen: 128,
  seed: 42,
  vocabSize: 30000,
  lowercase: true,
  evalEvery: 200,
  saveEvery: 500,
  logEvery: 10,
  maxGradNorm: 1,
  weightDecay: 0.01,
  dupeFactor: 2,
  heldOut: 0.05,
  evalExamples: 512,
  maskProb: 0.15,
  maxPredictions: 20,
  keep: 2,
};

/** BERT-mini (4 layers, 256 hidden, 4 heads, 1024 FFN) when no --config / --init is given. */
export const DEFAULT_CONFIG: Record<string, unknown> = {
  architectures: ["BertForPreTraining"],
  model_type: "bert",
  attention_probs_dropout_prob: 0.1,
  hidden_act: "gelu",
  hidden_dropout_prob: 0.1,
  hidden_size: 256,
  initializer_range: 0.02,
  intermediate_size: 1024,
  layer_norm_eps: 1e-12,
  max_position_embeddings: 512,
  num_attention_heads: 4,
  num_hidden_layers: 4,
  pad_token_id: 0,
  position_embedding_type: "absolute",
  type_vocab_size: 2,
  tie_word_embeddings: true,
};

// Seed streams derived from --seed.
const SEED_TRAIN_DATA = 1;
const SEED_EVAL_DATA = 2;
const SEED_INIT = 3;
const SEED_ORDER = 4;

function checkSettings(s: PretrainSettings): void {
  const pos = (k: keyof PretrainSettings, min = 1) => {
    const v = s[k] as number;
    if (!(Number.isInteger(v) && v >= min))
      throw new PretrainSettingsError(`${k} must be an integer ≥ ${min}, got ${v}`);
  };
  for (const k of [
    "steps",
    "batch",
    "accumulate",
    "logEvery",
    "keep",
    "dupeFactor",
    "maxPredictions",
  ] as const)
    pos(k);
  for (const k of ["warmup", "evalEvery", "saveEvery", "evalExamples"] as const) pos(k, 0);
  pos("seqLen", 8);
  pos("vocabSize", 10);
  if (!(s.lr > 0)) throw new PretrainSettingsError(`lr must be > 0, got ${s.lr}`);
  if (!(s.maxGradNorm >= 0)) throw new PretrainSettingsError(`maxGradNorm must be ≥ 0, got ${s.maxGradNorm}`);
  if (!(s.weightDecay >= 0)) throw new PretrainSettingsError(`weightDecay must be ≥ 0, got ${s.weightDecay}`);
  if (!(s.heldOut >= 0 && s.heldOut < 1))
    throw new PretrainSettingsError(`heldOut must be in [0, 1), got ${s.heldOut}`);
  if (!(s.maskProb > 0 && s.maskProb < 1)) throw new PretrainSettingsError(`maskProb must be in (0, 1)`);
  if (s.schedule !== "linear" && s.schedule !== "cosine")
    throw new PretrainSettingsError(`schedule must be linear or cosine, got ${s.schedule}`);
}

/** Settings: defaults < the checkpoint's (resume) < the options given; data/model settings must not change on resume. */
function resolveSettings(given: PretrainOptions, saved: PretrainSettings | undefined): PretrainSettings {
  const explicit: Partial<PretrainSettings> = {};
  for (const [k, v] of Object.entries(given))
    if (v !== undefined && k in DEFAULT_SETTINGS) (explicit as Record<string, unknown>)[k] = v;
  for (const k of ["corpus", "warmup", "config", "vocab", "init"] as const)
    if (given[k] !== undefined) (explicit as Record<string, unknown>)[k] = given[k];
  keepFixed(FIXED, explicit, saved);
  const base = { ...DEFAULT_SETTINGS, ...saved, ...explicit } as PretrainSettings;
  if (base.corpus === undefined) throw new PretrainSettingsError("a corpus file is required (--corpus FILE)");
  if (explicit.warmup === undefined) base.warmup = saved?.warmup ?? Math.round(base.steps * 0.1);
  if (explicit.maxPredictions === undefined && !saved)
    base.maxPredictions = Math.max(1, Math.min(20, Math.ceil(base.seqLen * base.maskProb)));
  checkSettings(base);
  return base;
}

/** A HF config.json object for pretraining with the vocab's size and pad id. */
function pretrainingConfig(raw: Record<string, unknown>, vocabSize: number, padId: number, seqLen: number) {
  const j: Record<string, unknown> = { ...DEFAULT_CONFIG, ...raw };
  j.architectures = ["BertForPreTraining"];
  j.model_type = "bert";
  j.vocab_size = vocabSize;
  j.pad_token_id = padId;
  const cfg = bertConfigFromJson(j);
  if (cfg.maxPositions < seqLen)
    throw new PretrainSettingsError(
      `seqLen ${seqLen} exceeds the config's max_position_embeddings ${cfg.maxPositions}`,
    );
  return { json: j, config: cfg };
}

function evaluate(
  trainer: BertTrainer,
  examples: readonly PretrainingExample[],
  batch: number,
  seqLen: number,
  padId: number,
): EvalResult {
  let mlm = 0;
  let nsp = 0;
  let nMlm = 0;
  let nNsp = 0;
  let okMlm = 0;
  let okNsp = 0;
  const V = trainer.config.vocabSize;
  for (let i = 0; i < examples.length; i += batch) {
    const b = collateBatch(examples.slice(i, i + batch), { seqLength: seqLen, padId });
    const out = trainer.evaluate(b, { logits: true });
    const n = out.mlmRows?.length ?? 0;
    if (n > 0) mlm += out.mlmLoss! * n;
    nsp += out.nspLoss! * b.batch;
    nMlm += n;
    nNsp += b.batch;
    const c = correctPredictions(out, b, V);
    okMlm += c.mlm;
    okNsp += c.nsp;
  }
  const mlmLoss = nMlm ? mlm / nMlm : 0;
  const nspLoss = nNsp ? nsp / nNsp : 0;
  return {
    loss: mlmLoss + nspLoss,
    mlm_loss: mlmLoss,
    nsp_loss: nspLoss,
    mlm_accuracy: nMlm ? okMlm / nMlm : 0,
    nsp_accuracy: nNsp ? okNsp / nNsp : 0,
    perplexity: Math.exp(mlmLoss),
    examples: examples.length,
  };
}

/**
 * The most-frequent-token baseline of masked LM: the token most often masked in the training examples,
 * and the fraction of the held-out masked tokens it would get right.
 */
export function mlmBaseline(
  train: readonly PretrainingExample[],
  held: readonly PretrainingExample[],
): { token: number; accuracy: number } {
  const counts = new Map<number, number>();
  for (const e of train) for (const y of e.mlmLabels) if (y !== -100) counts.set(y, (counts.get(y) ?? 0) + 1);
  let token = -1;
  let best = 0;
  for (const [t, n] of counts) if (n > best || (n === best && t < token)) [token, best] = [t, n];
  let hit = 0;
  let total = 0;
  for (const e of held)
    for (const y of e.mlmLabels)
      if (y !== -100) {
        total++;
        if (y === token) hit++;
      }
  return { token, accuracy: total ? hit / total : 0 };
}

/** Source names for loading --init weights: our "bert." names, or a bare BertModel's. */
function initSource(has: (n: string) => boolean) {
  return (name: string) =>
    !has(name) && name.startsWith("bert.") && has(name.slice(5)) ? name.slice(5) : name;
}

export async function pretrainBert(opts: PretrainOptions): Promise<PretrainResult> {
  // ---- resume state ----
  const run = await RunFolder.open(opts);
  const { out, latest, state } = run;
  const say = (s: string) => run.say(s);
  const settings = resolveSettings(opts, state?.settings as PretrainSettings | undefined);
  const threads = opts.threads ?? 1;
  if (!(Number.isInteger(threads) && threads >= 1))
    throw new PretrainSettingsError(`threads must be an integer ≥ 1, got ${threads}`);

  // ---- corpus, split, vocab ----
  let corpusBytes: number;
  try {
    corpusBytes = (await stat(settings.corpus)).size;
  } catch (e) {
    throw new PretrainSettingsError(`corpus ${settings.corpus}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  const docs: Document[] = [];
  for await (const d of readCorpusFile(settings.corpus)) docs.push(d);
  if (docs.length === 0) throw new PretrainSettingsError(`corpus ${settings.corpus} has no text`);
  const nEval =
    docs.length >= 2 && settings.heldOut > 0 ? Math.max(1, Math.floor(docs.length * settings.heldOut)) : 0;
  const trainDocs = docs.slice(0, docs.length - nEval);
  const evalDocs = docs.slice(docs.length - nEval);

  const tokConfigFor = (lowercase: boolean) =>
    JSON.stringify({
      do_lower_case: lowercase,
      strip_accents: null,
      tokenize_chinese_chars: true,
      unk_token: "[UNK]",
      sep_token: "[SEP]",
      pad_token: "[PAD]",
      cls_token: "[CLS]",
      mask_token: "[MASK]",
      tokenizer_class: "BertTokenizer",
    });
  let vocabTxt = await readText(join(out, "vocab.txt"));
  let tokenizerConfig = await readText(join(out, "tokenizer_config.json"));
  if (settings.vocab !== undefined) {
    const given = await readText(settings.vocab);
    if (given === undefined) throw new PretrainSettingsError(`vocab ${settings.vocab}: cannot read`);
    if (vocabTxt !== undefined && vocabTxt !== given)
      throw new PretrainSettingsError(`${join(out, "vocab.txt")} differs from --vocab ${settings.vocab}`);
    vocabTxt = given;
    tokenizerConfig ??= tokConfigFor(settings.lowercase);
  } else if (vocabTxt === undefined && settings.init !== undefined) {
    vocabTxt = await readText(join(settings.init, "vocab.txt"));
    if (vocabTxt !== undefined)
      tokenizerConfig =
        (await readText(join(settings.init, "tokenizer_config.json"))) ?? tokConfigFor(settings.lowercase);
  }
  if (vocabTxt === undefined) {
    const tv = performance.now();
    const trained = trainWordPiece(trainDocs.flat(), {
      vocabSize: settings.vocabSize,
      lowercase: settings.lowercase,
    });
    vocabTxt = trained.vocabTxt;
    tokenizerConfig = trained.tokenizerConfig;
    say(
      `vocab: trained ${trained.tokens.length} WordPiece tokens from ${trained.totalWords} words in ${formatDuration((performance.now() - tv) / 1000)}`,
    );
  }
  tokenizerConfig ??= tokConfigFor(settings.lowercase);
  if ((await readText(join(out, "vocab.txt"))) !== vocabTxt)
    await writeFileAtomic(join(out, "vocab.txt"), vocabTxt);
  if ((await readText(join(out, "tokenizer_config.json"))) !== tokenizerConfig)
    await writeFileAtomic(join(out, "tokenizer_config.json"), tokenizerConfig);
  const tokenizer = loadTokenizerFromFiles({ vocabTxt, tokenizerConfig });
  const pv = pretrainingVocab(tokenizer);

  // ---- model config ----
  let rawConfig: Record<string, unknown> = {};
  if (latest) rawConfig = await readJson(join(latest.dir, "config.json"), "config");
  else if (settings.config !== undefined) rawConfig = await readJson(settings.config, "config");
  else if (settings.init !== undefined)
    rawConfig = await readJson(join(settings.init, "config.json"), "config");
  if (
    settings.init !== undefined &&
    !latest &&
    rawConfig.vocab_size !== undefined &&
    rawConfig.vocab_size !== tokenizer.vocabSize
  )
    throw new PretrainSettingsError(
      `--init ${settings.init} has vocab_size ${rawConfig.vocab_size} but the vocab has ${tokenizer.vocabSize} tokens`,
    );
  let configJson: Record<string, unknown>;
  let config: BertConfig;
  try {
    ({ json: configJson, config } = pretrainingConfig(
      rawConfig,
      tokenizer.vocabSize,
      pv.padId,
      settings.seqLen,
    ));
  } catch (e) {
    if (e instanceof PretrainSettingsError) throw e;
    throw new PretrainSettingsError((e as Error).message);
  }

  // ---- examples ----
  const dataOpts = {
    maxSeqLength: settings.seqLen,
    maskProb: settings.maskProb,
    maxPredictions: settings.maxPredictions,
  };
  const td = performance.now();
  const trainEx = createPretrainingExamples(
    tokenizeDocuments(trainDocs, tokenizer),
    pv,
    mulberry32(deriveSeed(settings.seed, SEED_TRAIN_DATA)),
    { ...dataOpts, dupeFactor: settings.dupeFactor },
  );
  const evalEx = createPretrainingExamples(
    tokenizeDocuments(evalDocs, tokenizer),
    pv,
    mulberry32(deriveSeed(settings.seed, SEED_EVAL_DATA)),
    { ...dataOpts, dupeFactor: 1 },
  ).slice(0, settings.evalExamples);
  if (trainEx.length === 0)
    throw new PretrainSettingsError(`corpus ${settings.corpus} gives no training examples`);
  const stepBatch = settings.batch * settings.accumulate;
  const perEpoch = batchesPerEpoch(trainEx.length, stepBatch);
  const data = {
    corpus_bytes: corpusBytes,
    documents: docs.length,
    train_documents: trainDocs.length,
    eval_documents: evalDocs.length,
    train_examples: trainEx.length,
    eval_examples: evalEx.length,
    vocab_size: tokenizer.vocabSize,
  };
  if (state?.data && JSON.stringify(state.data) !== JSON.stringify(data))
    throw new PretrainSettingsError(
      `the corpus or vocab changed since the checkpoint (${JSON.stringify(state.data)} then, ${JSON.stringify(data)} now)`,
    );
  const baseline = mlmBaseline(trainEx, evalEx);
  say(
    `data: ${docs.length} documents (${evalDocs.length} held out), ${trainEx.length} training and ${evalEx.length} held-out examples of ${settings.seqLen} tokens, ${perEpoch} steps per epoch (${formatDuration((performance.now() - td) / 1000)})`,
  );

  // ---- model, optimizer, threads ----
  const rt = opts.runtime ?? (await loadRuntime());
  const tied = configJson.tie_word_embeddings !== false;
  let trainer: BertTrainer;
  if (latest) {
    trainer = new BertTrainer(rt, config, {
      arch: "BertForPreTraining",
      weights: await readTensors(latest.dir),
      tieWordEmbeddings: tied,
    });
    await run.loadOptimizer(trainer.params);
  } else {
    trainer = new BertTrainer(rt, config, {
      arch: "BertForPreTraining",
      seed: deriveSeed(settings.seed, SEED_INIT),
      initializerRange:
        typeof configJson.initializer_range === "number" ? configJson.initializer_range : 0.02,
      tieWordEmbeddings: tied,
    });
    if (settings.init !== undefined) {
      const store = await readTensors(settings.init);
      const missing = trainer.params.load(store, {
        source: initSource((n) => store.has(n)),
        allowMissing: true,
      });
      trainer.repack();
      if (missing.length === trainer.params.names().length)
        throw new PretrainSettingsError(`--init ${settings.init}: no BERT tensors with the expected names`);
      say(
        `init: ${settings.init}${missing.length ? ` (${missing.length} tensors initialized fresh: ${missing.slice(0, 4).join(", ")}${missing.length > 4 ? ", …" : ""})` : ""}`,
      );
    }
  }
  const startStep = run.startStep;
  const { schedule, adamw, saved: optimizerState } = optimizerOf(settings);
  let position: EpochPosition = latest
    ? { epoch: state!.epoch as number, index: state!.index as number }
    : { epoch: 0, index: 0 };
  let tokensSeen = latest ? (state!.tokens_seen as number) : 0;
  const metrics = await MetricsLog.open(out, latest ? startStep : undefined);
  if (latest)
    say(`resuming from ${latest.dir} (step ${startStep}, epoch ${position.epoch}, batch ${position.index})`);

  const result: PretrainResult = {
    out,
    checkpoint: latest?.dir ?? "",
    steps: settings.steps,
    train_examples: trainEx.length,
    eval_examples: evalEx.length,
    vocab_size: tokenizer.vocabSize,
    parameters: trainer.params.count,
    threads,
    seconds: 0,
  };
  if (latest) result.resumed_from = startStep;
  const lastEval = metrics.entries.filter((e) => e.type === "eval").pop();
  const progress = new Progress(settings.steps, startStep, run.stream, run.progressMode);

  const save = async (step: number) => {
    const state = {
      version: 1,
      step,
      total_steps: settings.steps,
      epoch: position.epoch,
      index: position.index,
      steps_per_epoch: perEpoch,
      tokens_seen: tokensSeen,
      elapsed_s: run.elapsed(),
      seeds: {
        seed: settings.seed,
        train_data: deriveSeed(settings.seed, SEED_TRAIN_DATA),
        eval_data: deriveSeed(settings.seed, SEED_EVAL_DATA),
        init: deriveSeed(settings.seed, SEED_INIT),
        order: deriveSeed(settings.seed, SEED_ORDER),
        rng: "mulberry32",
      },
      schedule,
      optimizer: optimizerState,
      settings,
      data,
    };
    result.checkpoint = await run.save(
      step,
      {
        config: configJson,
        tokenizer: { "vocab.txt": vocabTxt!, "tokenizer_config.json": tokenizerConfig! },
        model: trainer.exportWeights(),
        state,
      },
      optimizerTensors(trainer.params),
      settings.keep,
      progress,
    );
  };

  const dp = await DataParallel.create(trainer, threads);
  try {
    const batches = pretrainingBatches(trainEx, {
      batchSize: stepBatch,
      seed: deriveSeed(settings.seed, SEED_ORDER),
      start: position,
      seqLength: settings.seqLen,
      padId: pv.padId,
    });
    const window = new TokenRate();
    let loss = Number.NaN;
    const trainStart = performance.now();
    let trainTokens = 0;
    for (let step = startStep; step < settings.steps; step++) {
      const n = step + 1;
      if (opts.beforeStep) {
        opts.beforeStep(n, trainer);
        dp.paramsChanged();
      }
      const item = batches.next().value!;
      const micro = [];
      for (let r = 0; r < item.batch.batch; r += settings.batch)
        micro.push(sliceRows(item.batch, r, Math.min(item.batch.batch, r + settings.batch)));
      const lr = learningRate(schedule, step);
      const logNow = n % settings.logEvery === 0 || n === settings.steps;
      const stats = await dp.lossAndGrad(micro, { accuracy: logNow });
      const clip = run.clip(trainer.params, settings.maxGradNorm, stats.loss, n, lr);
      trainer.adamwStep({ ...adamw, lr }, clip.scale);
      dp.paramsChanged();
      position = item.next;
      loss = stats.loss;
      const tokens = item.batch.batch * settings.seqLen;
      tokensSeen += tokens;
      trainTokens += tokens;
      const now = performance.now();
      const rate = window.add(tokens, logNow, now);
      progress.update(n, loss, rate);
      if (logNow) {
        const e: MetricsEntry = {
          type: "train",
          step: n,
          epoch: Number((item.epoch + (item.index + 1) / perEpoch).toFixed(4)),
          loss: stats.loss,
          mlm_loss: stats.mlmLoss,
          nsp_loss: stats.nspLoss,
          mlm_accuracy: stats.mlmAccuracy,
          nsp_accuracy: stats.nspAccuracy,
          lr,
          grad_norm: clip.norm,
          tokens_per_s: Math.round(rate),
          elapsed_s: Number(run.elapsed(now).toFixed(3)),
        };
        await metrics.append(e);
        stepLine(
          progress,
          n,
          settings.steps,
          `loss ${loss.toFixed(4)} (mlm ${stats.mlmLoss.toFixed(4)}, nsp ${stats.nspLoss.toFixed(4)})`,
          lr,
          clip.norm,
          rate,
        );
      }
      if (settings.evalEvery > 0 && evalEx.length > 0 && due(n, settings.evalEvery, settings.steps))
        await window.excluding(async () => {
          const te = performance.now();
          const ev = {
            ...evaluate(trainer, evalEx, settings.batch, settings.seqLen, pv.padId),
            baseline_mlm_accuracy: baseline.accuracy,
          };
          result.eval = ev;
          await metrics.append({ type: "eval", step: n, ...ev });
          progress.line(
            `eval at step ${n}: loss ${ev.loss.toFixed(4)}, masked-token accuracy ${(100 * ev.mlm_accuracy).toFixed(2)}% (most-frequent-token baseline ${(100 * baseline.accuracy).toFixed(2)}%), next-sentence accuracy ${(100 * ev.nsp_accuracy).toFixed(2)}% (${ev.examples} examples, ${formatDuration((performance.now() - te) / 1000)})`,
          );
          await metrics.writeCurves();
        });
      if (due(n, settings.saveEvery, settings.steps))
        await window.excluding(async () => {
          await save(n);
          await metrics.writeCurves();
        });
      if (opts.afterStep) await opts.afterStep(n);
    }
    progress.done();
    if (startStep < settings.steps) {
      result.loss = loss;
      result.tokens_per_s = Math.round((trainTokens * 1000) / (performance.now() - trainStart));
    } else {
      say(`${latest?.dir} is already at step ${startStep} of ${settings.steps}: nothing to train`);
      if (lastEval) result.eval = lastEval as unknown as EvalResult;
    }
    await writeFinalModel(out, configJson, trainer.exportWeights());
  } catch (e) {
    await stopped(e, progress, () => metrics.writeCurves());
    throw e;
  } finally {
    await dp.close();
  }
  return run.finish(result);
}
