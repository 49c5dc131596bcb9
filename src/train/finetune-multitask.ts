// Multi-task fine-tuning of BERT into a run folder, the engine of `edgeformer finetune --tasks tasks.json`:
// one shared encoder and pooler, one classification head per task (classifier.{task}.weight [L_task, C],
// classifier.{task}.bias; src/train/bert-train.ts), driven by the mixing sampler of
// src/train/t5data/mixing.ts (examples-proportional with limit K, temperature-scaled, or equal).
// A step draws `batch` examples, each picking its task by the rates (so batches mix tasks and every
// example follows the rates exactly), groups them by task (src/train/finetune-multitask-data.ts), and
// runs one forward/backward per group through that task's head, accumulating gradients with the loss
// scaled by group size / batch: the step's loss and gradient are those of the mean loss over the batch.
// Heads of tasks a step did not draw have no gradient and, as PyTorch's AdamW skips parameters whose
// gradient is None, take no optimizer update (values, moments and their step count unchanged).
// Strategies, schedule, clipping, checkpoints with exact resume (the sampler's state is saved), NaN
// stop, metrics.jsonl and curves.svg as single-task fine-tuning (src/train/finetune.ts). Held-out
// evaluation per task (--eval-tasks, a tasks.json with the same task names): loss, accuracy and the
// majority-class baseline of each task and over all of them. The output: for full and unfreeze a model
// folder whose config.json lists each task's labels (edgeformer_tasks: {task: {id2label, label2id,
// prefix?}}: a task's tasks.json prefix goes before its texts in training, held-out evaluation and
// `classify`; id2label / label2id are the first task's, whose head BertModel selects by default); for
// adapters an adapter folder with the adapters, layer norms, pooler and every head, and the same tasks.
import { join } from "node:path";
import { hideTensors } from "../models/adapters.ts";
import { bertConfigFromJson } from "../models/bert-config.ts";
import { loadRuntime } from "../runtime/node.ts";
import { BertTrainer, classifierHeadPrefix } from "./bert-train.ts";
import { deriveSeed } from "./data/index.ts";
import {
  DEFAULT_LR,
  FINETUNE_DEFAULTS,
  FINETUNE_STRATEGIES,
  StrategyMask,
  tokenizerFiles,
  writeOutput,
} from "./finetune.ts";
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
import { type MultitaskTask, planStep, prepareTasks, type StepGroup } from "./finetune-multitask-data.ts";
import { type BertClassifyExample, bertAdapterTrains, collateClassify } from "./finetune-tasks.ts";
import { type CurveSpec, MetricsLog } from "./metrics.ts";
import type { AdamWOptions } from "./params.ts";
import { Progress } from "./progress.ts";
import { PretrainSettingsError, readJson } from "./run-files.ts";
import { keepFixed, optimizerOf, RunFolder, type RunOptions } from "./run-loop.ts";
import { learningRate } from "./schedule.ts";
import { type MixingStrategy, MixtureSampler, type MixtureState } from "./t5data/mixing.ts";
import { loadClassificationTasksFile } from "./t5data/node.ts";
import type { UnfreezeArch } from "./unfreeze.ts";

export const MIXING_STRATEGIES: readonly MixingStrategy[] = ["proportional", "temperature", "equal"];

/** Settings of a multi-task run: saved in trainer_state.json and reused by resume. */
export interface MultitaskSettings extends FinetuneCommonSettings {
  /** tasks.json of training tasks. */
  tasks: string;
  /** tasks.json of held-out tasks (names among the training tasks). */
  evalTasks?: string;
  mixing: MixingStrategy;
  /** K: a task counts as at most K examples (proportional, temperature); 0: no limit. */
  limit: number;
  /** T of temperature mixing. */
  temperature: number;
}

/** Settings that define the data or the model: a resumed run must keep them. */
const FIXED: (keyof MultitaskSettings)[] = [
  "model",
  "tasks",
  "evalTasks",
  "mixing",
  "limit",
  "temperature",
  "strategy",
  "unfreezeEvery",
  "bottleneck",
  "batch",
  "seqLen",
  "seed",
  "evalExamples",
];

const KEYS: (keyof MultitaskSettings)[] = [
  ...FIXED,
  "steps",
  "lr",
  "warmup",
  "schedule",
  "evalEvery",
  "saveEvery",
  "logEvery",
  "maxGradNorm",
  "weightDecay",
  "keep",
];

export interface MultitaskOptions extends Partial<MultitaskSettings>, RunOptions<BertTrainer> {}

export interface TaskEval {
  loss: number;
  accuracy: number;
  /** Accuracy of always predicting the task's most frequent training label. */
  majority_accuracy: number;
  examples: number;
}

export interface MultitaskEval extends TaskEval {
  /** Per task (tasks with held-out data). */
  tasks: Record<string, TaskEval>;
}

export interface MultitaskResult extends FinetuneRunResult<MultitaskEval> {
  model_type: "bert";
  mixing: MixingStrategy;
  /** Mixing rate of each task. */
  rates: Record<string, number>;
  /** Training examples of each task (after the cap). */
  train_examples: Record<string, number>;
  eval_examples: Record<string, number>;
  /** Examples drawn from each task by the steps of this invocation. */
  drawn: Record<string, number>;
  /** Labels of each task (class index order). */
  labels: Record<string, string[]>;
}

const SEED_INIT = 1;
const SEED_EVAL = 3;
const SEED_ADAPTERS = 4;
const SEED_MIX = 5;

function checkSettings(s: MultitaskSettings): void {
  for (const k of ["steps", "batch", "logEvery", "keep", "bottleneck"] as const) checkInt(s, k, 1);
  for (const k of ["warmup", "evalEvery", "saveEvery", "unfreezeEvery", "evalExamples"] as const)
    checkInt(s, k, 0);
  if (!(s.limit >= 0 && Number.isFinite(s.limit)))
    throw new PretrainSettingsError(`limit (K) must be a number ≥ 0 (0: no limit), got ${s.limit}`);
  checkInt(s, "seqLen", 4);
  checkStrategy(s, FINETUNE_STRATEGIES);
  if (!MIXING_STRATEGIES.includes(s.mixing))
    throw new PretrainSettingsError(`mixing must be one of ${MIXING_STRATEGIES.join(", ")}, got ${s.mixing}`);
  if (!(s.temperature > 0 && Number.isFinite(s.temperature)))
    throw new PretrainSettingsError(`temperature must be a positive number, got ${s.temperature}`);
  checkLr(s);
  checkOptimizerSettings(s);
}

/**
 * Settings: defaults < tasks.json's "mixing" < the checkpoint's (resume) < the options given; data and
 * model settings must not change on resume.
 */
function resolveSettings(
  given: MultitaskOptions,
  saved: MultitaskSettings | undefined,
  fileMixing: { strategy?: MixingStrategy; limit?: number; temperature?: number } | undefined,
): MultitaskSettings {
  const explicit: Partial<MultitaskSettings> = {};
  for (const k of KEYS) if (given[k] !== undefined) (explicit as Record<string, unknown>)[k] = given[k];
  keepFixed(FIXED, explicit, saved);
  const { epochs: _, labels: __, targetLen: ___, ...defaults } = { ...FINETUNE_DEFAULTS };
  const fromFile: Partial<MultitaskSettings> = {};
  if (fileMixing?.strategy) fromFile.mixing = fileMixing.strategy;
  if (fileMixing?.limit !== undefined) fromFile.limit = fileMixing.limit;
  if (fileMixing?.temperature !== undefined) fromFile.temperature = fileMixing.temperature;
  const s = {
    ...defaults,
    mixing: "proportional",
    limit: 0,
    temperature: 2,
    ...fromFile,
    ...saved,
    ...explicit,
  } as MultitaskSettings;
  const newRunLr = !saved && explicit.lr === undefined ? (DEFAULT_LR[s.strategy] ?? 0) : undefined;
  return finishSettings(
    s,
    ["tasks", "a tasks file is required (--tasks tasks.json)"],
    newRunLr,
    checkSettings,
  );
}

/** tasks.json's own mixing settings, if it has them (read before the settings are resolved). */
async function fileMixing(path: string | undefined) {
  if (path === undefined) return undefined;
  try {
    return (await loadClassificationTasksFile(path)).mixing;
  } catch {
    return undefined; // reported when the tasks are loaded
  }
}

/** One group's forward (and backward, accumulating) through its task's head: loss and correct predictions. */
function runGroup(
  trainer: BertTrainer,
  g: StepGroup<BertClassifyExample>,
  padId: number,
  grad: { accumulate: boolean; lossScale: number } | undefined,
): { loss: number; correct: number; tokens: number } {
  const b = collateClassify(g.items, padId);
  b.task = g.task;
  const out = grad
    ? trainer.lossAndGrad(b, { logits: true, accumulate: grad.accumulate, lossScale: grad.lossScale })
    : trainer.evaluate(b, { logits: true });
  const L = trainer.headSizes[g.task];
  const logits = out.classifyLogits!; // [B,L]
  let correct = 0;
  for (let i = 0; i < b.batch; i++) {
    let best = 0;
    for (let j = 1; j < L; j++) if (logits[i * L + j] > logits[i * L + best]) best = j;
    if (best === b.labels![i]) correct++;
  }
  let tokens = 0;
  for (const m of b.attentionMask!) tokens += m;
  return { loss: out.classifyLoss!, correct, tokens };
}

/** Held-out loss and accuracy of one task, in batches. */
function evaluateTask(
  trainer: BertTrainer,
  task: number,
  items: readonly BertClassifyExample[],
  batch: number,
  padId: number,
): { loss: number; correct: number } {
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < items.length; i += batch) {
    const part = items.slice(i, i + batch);
    const r = runGroup(trainer, { task, items: part }, padId, undefined);
    loss += r.loss * part.length;
    correct += r.correct;
  }
  return { loss, correct };
}

/**
 * AdamW over the trainable tensors except `skip` (tensors without a gradient this step): their values,
 * moments and step counts are put back after the fused step, then the forward's weights are re-packed.
 */
function adamwStepSkipping(trainer: BertTrainer, skip: string[], o: AdamWOptions, gradScale: number): void {
  const p = trainer.params;
  const kept = skip
    .filter((n) => p.isTrainable(n))
    .map((n) => ({
      n,
      w: p.value(n),
      m: p.view(n, "m").slice(),
      v: p.view(n, "v").slice(),
      step: p.tensorStep(n),
    }));
  p.adamwStep(o, gradScale);
  for (const k of kept) {
    p.set(k.n, k.w);
    p.set(k.n, k.m, "m");
    p.set(k.n, k.v, "v");
    p.setTensorStep(k.n, k.step);
  }
  trainer.repack();
}

export async function finetuneMultitask(opts: MultitaskOptions): Promise<MultitaskResult> {
  // ---- resume state, settings ----
  const run = await RunFolder.open(opts, (state, dir) => {
    if (state.kind !== "finetune-multitask")
      throw new PretrainSettingsError(
        `${dir} is not a multi-task fine-tuning checkpoint (kind ${JSON.stringify(state.kind)}); resume it without --tasks`,
      );
  });
  const { out, latest, state } = run;
  const say = (s: string) => run.say(s);
  const saved = state?.settings as MultitaskSettings | undefined;
  const settings = resolveSettings(opts, saved, saved ? undefined : await fileMixing(opts.tasks));

  // ---- base model, tokenizer, tasks ----
  const baseConfig = await readJson(join(settings.model, "config.json"), "base model config");
  if (baseConfig.model_type !== "bert")
    throw new PretrainSettingsError(
      `--model ${settings.model}: multi-task fine-tuning with one head per task is for BERT (model_type ${JSON.stringify(baseConfig.model_type)}); train T5 on tasks with \`edgeformer train --tasks\``,
    );
  const tokenizer = await loadBaseTokenizer(settings.model);
  const tokFiles = await tokenizerFiles(settings.model);
  let tasks: MultitaskTask[];
  try {
    const train = (await loadClassificationTasksFile(settings.tasks)).loaded;
    const held = settings.evalTasks ? (await loadClassificationTasksFile(settings.evalTasks)).loaded : [];
    const savedLabels = (state?.data as { labels?: Record<string, string[]> } | undefined)?.labels;
    tasks = prepareTasks(train, held, {
      tokenizer,
      seqLen: settings.seqLen,
      evalExamples: settings.evalExamples,
      evalSeed: deriveSeed(settings.seed, SEED_EVAL),
      labels: savedLabels,
    });
  } catch (e) {
    // data problems (FinetuneDataError, parse errors, missing files) are settings problems
    throw e instanceof PretrainSettingsError ? e : new PretrainSettingsError((e as Error).message);
  }
  const rt = opts.runtime ?? (await loadRuntime());
  const weights = await loadStartWeights(settings.model, latest);

  // ---- config and trainer ----
  const maps = (labels: string[]) => ({
    id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
  });
  const taskMaps = Object.fromEntries(
    tasks.map((t) => [t.name, { ...maps(t.labels), ...(t.prefix ? { prefix: t.prefix } : {}) }]),
  );
  const configJson: Record<string, unknown> = {
    ...baseConfig,
    architectures: ["BertForSequenceClassification"],
    ...maps(tasks[0].labels),
    edgeformer_tasks: taskMaps,
  };
  delete configJson.num_labels;
  const config = bertConfigFromJson(configJson);
  if (settings.seqLen > config.maxPositions)
    throw new PretrainSettingsError(
      `seqLen ${settings.seqLen} exceeds the model's max_position_embeddings ${config.maxPositions}`,
    );
  const heads = tasks.map((t) => ({ name: t.name, numLabels: t.labels.length }));
  // heads in the base that do not fit (another label count, a single classifier) are not loaded
  let store = weights;
  if (!latest) {
    const fits = new Map(heads.map((h) => [classifierHeadPrefix(h.name), h.numLabels]));
    store = hideTensors(weights, (n) => {
      if (!n.startsWith("classifier.")) return false;
      const prefix = n.slice(0, n.lastIndexOf("."));
      return fits.get(prefix) !== weights.shape(n)[0];
    });
  }
  const trainer = new BertTrainer(rt, config, {
    arch: "BertForSequenceClassification",
    heads,
    weights: store,
    initMissing: !latest,
    seed: deriveSeed(settings.seed, SEED_INIT),
    initializerRange: typeof baseConfig.initializer_range === "number" ? baseConfig.initializer_range : 0.02,
    tieWordEmbeddings: baseConfig.tie_word_embeddings !== false,
    adapters:
      settings.strategy === "adapters" && !latest
        ? { bottleneck: settings.bottleneck, seed: deriveSeed(settings.seed, SEED_ADAPTERS) }
        : undefined,
  });
  const params = trainer.params;
  const padId = tokenizer.special.pad ?? config.padTokenId;
  const headTensors = tasks.map((t) => ["weight", "bias"].map((w) => `${classifierHeadPrefix(t.name)}.${w}`));

  // ---- step count, schedule, masks ----
  if (settings.warmup < 0) settings.warmup = Math.round(settings.steps * 0.1);
  const arch: UnfreezeArch = { modelType: "bert", numLayers: config.numLayers, prefix: trainer.prefix };
  const startStep = run.startStep;
  const mask = new StrategyMask(
    settings,
    arch,
    (n) => bertAdapterTrains(n, trainer.prefix),
    params,
    startStep,
  );
  await run.loadOptimizer(params);
  const { schedule, adamw, saved: optimizerState } = optimizerOf(settings);
  const labelsOf = Object.fromEntries(tasks.map((t) => [t.name, t.labels]));
  const data = {
    model_type: "bert",
    train_examples: Object.fromEntries(tasks.map((t) => [t.name, t.train.length])),
    eval_examples: Object.fromEntries(tasks.map((t) => [t.name, t.evalItems.length])),
    labels: labelsOf,
    vocab_size: tokenizer.vocabSize,
  };
  checkSameData(state, data);

  // ---- sampler ----
  let sampler: MixtureSampler<BertClassifyExample>;
  try {
    sampler = new MixtureSampler(
      tasks.map((t) => ({ name: t.name, prefix: "", examples: t.train })),
      {
        strategy: settings.mixing,
        limit: settings.limit || undefined,
        temperature: settings.temperature,
        seed: deriveSeed(settings.seed, SEED_MIX),
      },
      latest ? (state!.mixture as MixtureState) : undefined,
    );
  } catch (e) {
    throw new PretrainSettingsError((e as Error).message);
  }
  const rates = Object.fromEntries(tasks.map((t, i) => [t.name, sampler.rates[i]]));
  say(
    `finetune bert multi-task (${settings.strategy}, ${settings.mixing} mixing): ${tasks.map((t, i) => `${t.name} ${t.train.length} examples, ${t.labels.length} labels, rate ${(100 * sampler.rates[i]).toFixed(1)}%`).join("; ")}; ${settings.steps} steps of ${settings.batch}; ${params.trainableCount} of ${params.count} parameters trainable`,
  );

  const metrics = await MetricsLog.open(out, latest ? startStep : undefined);
  if (latest) say(`resuming from ${latest.dir} (step ${startStep})`);
  const drawn = Object.fromEntries(tasks.map((t) => [t.name, 0]));
  const result: MultitaskResult = {
    out,
    model_type: "bert",
    strategy: settings.strategy,
    mixing: settings.mixing,
    steps: settings.steps,
    rates,
    train_examples: data.train_examples,
    eval_examples: data.eval_examples,
    drawn,
    labels: labelsOf,
    ...resultTail(params, settings.strategy, latest),
  };
  if (latest) result.resumed_from = startStep;
  const progress = new Progress(settings.steps, startStep, run.stream, run.progressMode);
  const evalTasks = tasks.map((t, i) => ({ t, i })).filter(({ t }) => t.evalItems.length > 0);
  const curves: CurveSpec = {
    lossTitle: "loss (cross-entropy, mean over the batch)",
    accuracy: [
      { key: "accuracy", label: "all tasks" },
      ...tasks.map((t) => ({ key: `accuracy_${t.name}`, label: t.name })),
    ],
  };
  const title = `multi-task fine-tuning (${settings.strategy}, ${settings.mixing} mixing)`;

  const runEval = (): MultitaskEval => {
    const per: Record<string, TaskEval> = {};
    let loss = 0;
    let correct = 0;
    let maj = 0;
    let n = 0;
    for (const { t, i } of evalTasks) {
      const r = evaluateTask(trainer, i, t.evalItems, settings.batch, padId);
      const m = t.evalItems.length;
      per[t.name] = {
        loss: r.loss / m,
        accuracy: r.correct / m,
        majority_accuracy: t.majorityAccuracy,
        examples: m,
      };
      loss += r.loss;
      correct += r.correct;
      maj += t.majorityAccuracy * m;
      n += m;
    }
    return {
      loss: n ? loss / n : 0,
      accuracy: n ? correct / n : 0,
      majority_accuracy: n ? maj / n : 0,
      examples: n,
      tasks: per,
    };
  };
  const trainerState = (step: number) => ({
    version: 1,
    kind: "finetune-multitask",
    step,
    total_steps: settings.steps,
    mixture: sampler.state,
    elapsed_s: run.elapsed(),
    unfreeze_stage: settings.strategy === "unfreeze" ? mask.stage : undefined,
    seeds: {
      seed: settings.seed,
      init: deriveSeed(settings.seed, SEED_INIT),
      eval: deriveSeed(settings.seed, SEED_EVAL),
      adapters: deriveSeed(settings.seed, SEED_ADAPTERS),
      mixing: deriveSeed(settings.seed, SEED_MIX),
      rng: "mulberry32",
    },
    rates,
  });

  const loop = new FinetuneLoop({
    run,
    progress,
    metrics,
    settings,
    title,
    curves,
    hasEval: evalTasks.length > 0,
    evaluate: (n) => {
      const ev = runEval();
      result.eval = ev;
      const fields: Record<string, number> = {
        loss: ev.loss,
        accuracy: ev.accuracy,
        majority_accuracy: ev.majority_accuracy,
        examples: ev.examples,
      };
      for (const [name, r] of Object.entries(ev.tasks)) {
        fields[`loss_${name}`] = r.loss;
        fields[`accuracy_${name}`] = r.accuracy;
        fields[`majority_accuracy_${name}`] = r.majority_accuracy;
        fields[`examples_${name}`] = r.examples;
      }
      return {
        fields,
        line: (took) =>
          `eval at step ${n}: loss ${ev.loss.toFixed(4)}, accuracy ${(100 * ev.accuracy).toFixed(2)}% (majority ${(100 * ev.majority_accuracy).toFixed(2)}%); ${Object.entries(
            ev.tasks,
          )
            .map(
              ([name, r]) =>
                `${name} ${(100 * r.accuracy).toFixed(1)}% (majority ${(100 * r.majority_accuracy).toFixed(1)}%)`,
            )
            .join(", ")} (${took})`,
      };
    },
    result,
    checkpoint: {
      config: configJson,
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
    let loss = Number.NaN;
    const zeroCounts = () => tasks.map(() => 0);
    let win = { loss: 0, weight: 0, correct: 0, count: 0, drawn: zeroCounts(), right: zeroCounts() };
    for (let step = startStep; step < settings.steps; step++) {
      const n = step + 1;
      mask.advance(step, progress);
      if (opts.beforeStep) opts.beforeStep(n, trainer);
      const groups = planStep(sampler, settings.batch);
      const lr = learningRate(schedule, step);
      // one forward/backward per task group; loss and gradient are the mean over the whole batch
      let stepLoss = 0;
      let stepCorrect = 0;
      let stepTokens = 0;
      groups.forEach((g, j) => {
        const r = runGroup(trainer, g, padId, {
          accumulate: j > 0,
          lossScale: g.items.length / settings.batch,
        });
        stepLoss += (r.loss * g.items.length) / settings.batch;
        stepCorrect += r.correct;
        stepTokens += r.tokens;
        win.drawn[g.task] += g.items.length;
        win.right[g.task] += r.correct;
        drawn[tasks[g.task].name] += g.items.length;
      });
      const clip = run.clip(params, settings.maxGradNorm, stepLoss, n, lr);
      const present = new Set(groups.map((g) => g.task));
      const skip = headTensors.filter((_, i) => !present.has(i)).flat();
      if (skip.length) adamwStepSkipping(trainer, skip, { ...adamw, lr }, clip.scale);
      else trainer.adamwStep({ ...adamw, lr }, clip.scale);
      loss = stepLoss;
      win.loss += stepLoss * settings.batch;
      win.weight += settings.batch;
      win.correct += stepCorrect;
      win.count += settings.batch;
      await loop.after(n, { loss, tokens: stepTokens, lr, gradNorm: clip.norm }, () => {
        // averages over the steps since the last log line; examples drawn per task in that window
        const tail: Record<string, number> = {};
        tasks.forEach((t, i) => {
          tail[`examples_${t.name}`] = win.drawn[i];
          if (win.drawn[i]) tail[`accuracy_${t.name}`] = win.right[i] / win.drawn[i];
        });
        const w = { loss: win.loss / win.weight, accuracy: win.correct / win.count, tail };
        win = { loss: 0, weight: 0, correct: 0, count: 0, drawn: zeroCounts(), right: zeroCounts() };
        return w;
      });
    }
    loop.end(loss, (lastEval) => {
      const tasksEval: Record<string, TaskEval> = {};
      for (const { t } of evalTasks)
        tasksEval[t.name] = {
          loss: lastEval[`loss_${t.name}`] as number,
          accuracy: lastEval[`accuracy_${t.name}`] as number,
          majority_accuracy: lastEval[`majority_accuracy_${t.name}`] as number,
          examples: lastEval[`examples_${t.name}`] as number,
        };
      return {
        loss: lastEval.loss,
        accuracy: lastEval.accuracy as number,
        majority_accuracy: lastEval.majority_accuracy as number,
        examples: lastEval.examples as number,
        tasks: tasksEval,
      };
    });
    const firstMaps = maps(tasks[0].labels);
    result.files = await writeOutput(
      out,
      settings,
      {
        configJson,
        adapterExtras: {
          task: "sequence-classification",
          architectures: ["BertForSequenceClassification"],
          ...firstMaps,
          edgeformer_tasks: taskMaps,
        },
      },
      trainer,
      tokFiles,
      baseConfig,
      "bert",
    );
  } catch (e) {
    await loop.stopped(e);
    throw e;
  }
  return run.finish(result);
}
