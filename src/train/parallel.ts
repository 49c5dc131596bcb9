// Data-parallel BERT gradients over worker_threads (the threads themselves: parallel-pool.ts): a step's
// batch (possibly several accumulation micro-batches) is cut into contiguous shards by sequence, one
// per thread and micro-batch; each thread computes the gradient of its shards, scaled so the shards'
// gradients SUM to the full batch's: the MLM loss is a mean over the batch's masked tokens and the NSP
// loss a mean over its sequences, so a shard with n of the N masked tokens and b of the B sequences
// passes dloss n/N to the MLM cross-entropy and b/B to the NSP one (cross_entropy_f32 divides by its own
// count). The pool sums the threads' gradients in thread order into the caller's trainer, which clips
// and applies AdamW there. With one thread everything runs on the caller's trainer, with the same
// scaling.

import type { BertConfig } from "../models/bert-config.ts";
import { type BertBatch, type BertTrainArch, BertTrainer, type BertTrainOutput } from "./bert-train.ts";
import { type ParallelKind, TrainerPool } from "./parallel-pool.ts";

/** A shard: part of a step's batch and its shares of the batch's masked tokens and sequences. */
export interface ShardJob {
  batch: BertBatch;
  mlmScale: number;
  nspScale: number;
}

/** One shard's losses (means over the shard) and counts; correct predictions when asked for. */
export interface ShardResult {
  mlmLoss: number;
  mlmCount: number;
  nspLoss: number;
  nspCount: number;
  mlmCorrect: number;
  nspCorrect: number;
}

/** A step's losses over its whole batch (count-weighted over shards) and, when asked, accuracies. */
export interface StepStats {
  loss: number;
  mlmLoss: number;
  nspLoss: number;
  /** Masked tokens and sequences in the step's batch. */
  mlmCount: number;
  nspCount: number;
  mlmAccuracy?: number;
  nspAccuracy?: number;
}

const IGNORE = -100;

/** Number of MLM labels other than −100. */
export function countMasked(labels: Int32Array | undefined): number {
  if (!labels) return 0;
  let n = 0;
  for (const y of labels) if (y !== IGNORE) n++;
  return n;
}

/** Rows [from, to) of a batch (views, no copies). */
export function sliceRows(b: BertBatch, from: number, to: number): BertBatch {
  const T = b.seq;
  const rows = (a: Int32Array | undefined) => a?.subarray(from * T, to * T);
  return {
    inputIds: rows(b.inputIds)!,
    attentionMask: rows(b.attentionMask),
    tokenTypeIds: rows(b.tokenTypeIds),
    mlmLabels: rows(b.mlmLabels),
    nextSentenceLabel: b.nextSentenceLabel?.subarray(from, to),
    labels: b.labels?.subarray(from, to),
    batch: to - from,
    seq: T,
  };
}

/** Cuts a batch into `parts` contiguous row ranges as even as possible (the first ones one longer); empty parts are dropped. */
export function splitRows(b: BertBatch, parts: number): BertBatch[] {
  const out: BertBatch[] = [];
  const base = Math.floor(b.batch / parts);
  const extra = b.batch % parts;
  let from = 0;
  for (let p = 0; p < parts; p++) {
    const n = base + (p < extra ? 1 : 0);
    if (n > 0) out.push(sliceRows(b, from, from + n));
    from += n;
  }
  return out;
}

function compactJob(j: ShardJob): ShardJob {
  const b = j.batch;
  return {
    ...j,
    batch: {
      inputIds: b.inputIds.slice(),
      attentionMask: b.attentionMask?.slice(),
      tokenTypeIds: b.tokenTypeIds?.slice(),
      mlmLabels: b.mlmLabels?.slice(),
      nextSentenceLabel: b.nextSentenceLabel?.slice(),
      labels: b.labels?.slice(),
      batch: b.batch,
      seq: b.seq,
    },
  };
}

function argmaxRow(x: Float32Array, row: number, n: number): number {
  let best = 0;
  let v = x[row * n];
  for (let i = 1; i < n; i++) {
    const y = x[row * n + i];
    if (y > v) {
      v = y;
      best = i;
    }
  }
  return best;
}

/** Correct MLM (argmax over the vocab = label) and NSP predictions of a forward run with logits. */
export function correctPredictions(
  out: BertTrainOutput,
  b: BertBatch,
  V: number,
): { mlm: number; nsp: number } {
  let mlm = 0;
  let nsp = 0;
  if (out.mlmLogits && out.mlmRows && b.mlmLabels) {
    const rows = out.mlmRows;
    for (let j = 0; j < rows.length; j++) if (argmaxRow(out.mlmLogits, j, V) === b.mlmLabels[rows[j]]) mlm++;
  }
  if (out.nspLogits && b.nextSentenceLabel) {
    for (let j = 0; j < b.batch; j++) if (argmaxRow(out.nspLogits, j, 2) === b.nextSentenceLabel[j]) nsp++;
  }
  return { mlm, nsp };
}

/**
 * Gradients of shards on one trainer, summed in its gradient region (zeroed first unless `accumulate`);
 * predictions counted when `accuracy`.
 */
export function runShards(
  trainer: BertTrainer,
  jobs: readonly ShardJob[],
  opts: { accumulate?: boolean; accuracy?: boolean } = {},
): ShardResult[] {
  const V = trainer.config.vocabSize;
  return jobs.map((job, i) => {
    const b = job.batch;
    const out = trainer.lossAndGrad(b, {
      accumulate: i > 0 || opts.accumulate,
      mlmLossScale: job.mlmScale,
      nspLossScale: job.nspScale,
      logits: opts.accuracy,
    });
    const r: ShardResult = {
      mlmLoss: out.mlmLoss ?? 0,
      mlmCount: out.mlmRows?.length ?? 0,
      nspLoss: out.nspLoss ?? 0,
      nspCount: b.nextSentenceLabel ? b.batch : 0,
      mlmCorrect: 0,
      nspCorrect: 0,
    };
    if (opts.accuracy) {
      const c = correctPredictions(out, b, V);
      r.mlmCorrect = c.mlm;
      r.nspCorrect = c.nsp;
    }
    return r;
  });
}

/** The step's losses from its shards' (count-weighted means; shards without labels of a head add nothing). */
export function combineShards(results: readonly ShardResult[], accuracy = false): StepStats {
  let mlm = 0;
  let nsp = 0;
  let mlmCount = 0;
  let nspCount = 0;
  let mlmCorrect = 0;
  let nspCorrect = 0;
  for (const r of results) {
    if (r.mlmCount > 0) mlm += r.mlmLoss * r.mlmCount;
    if (r.nspCount > 0) nsp += r.nspLoss * r.nspCount;
    mlmCount += r.mlmCount;
    nspCount += r.nspCount;
    mlmCorrect += r.mlmCorrect;
    nspCorrect += r.nspCorrect;
  }
  const mlmLoss = mlmCount > 0 ? mlm / mlmCount : 0;
  const nspLoss = nspCount > 0 ? nsp / nspCount : 0;
  const s: StepStats = { loss: mlmLoss + nspLoss, mlmLoss, nspLoss, mlmCount, nspCount };
  if (accuracy) {
    if (mlmCount > 0) s.mlmAccuracy = mlmCorrect / mlmCount;
    if (nspCount > 0) s.nspAccuracy = nspCorrect / nspCount;
  }
  return s;
}

/** What a worker needs to build the same trainer as the main thread's. */
export interface BertWorkerInit {
  config: BertConfig;
  arch: BertTrainArch;
  tied: boolean;
}

/** BERT shards for the pool: the same trainer in a worker, runShards on each thread. */
export const BERT_PARALLEL: ParallelKind<
  BertTrainer,
  BertWorkerInit,
  ShardJob,
  ShardResult,
  { accuracy: boolean }
> = {
  name: "bert",
  describe: (t) => ({ config: t.config, arch: t.arch, tied: t.tied }),
  build: (rt, init) => new BertTrainer(rt, init.config, { arch: init.arch, tieWordEmbeddings: init.tied }),
  run: (trainer, jobs, opts) => runShards(trainer, jobs, opts),
  transfer: compactJob,
};

/** The gradient of a step's batch over 1 + workers threads, into the main trainer's gradient region. */
export class DataParallel {
  private constructor(
    private readonly pool: TrainerPool<
      BertTrainer,
      BertWorkerInit,
      ShardJob,
      ShardResult,
      { accuracy: boolean }
    >,
  ) {}

  get trainer(): BertTrainer {
    return this.pool.trainer;
  }

  get threads(): number {
    return this.pool.threads;
  }

  /** Starts threads − 1 workers (each loads the kernels and builds its trainer) and waits until they are ready. */
  static async create(trainer: BertTrainer, threads: number): Promise<DataParallel> {
    return new DataParallel(await TrainerPool.create(trainer, threads, BERT_PARALLEL));
  }

  /** To call after any change to the trainer's parameters (optimizer step, load): workers re-sync first. */
  paramsChanged(): void {
    this.pool.paramsChanged();
  }

  /**
   * Zero-grad, then the gradient of the whole step's loss over `micro` (accumulation micro-batches whose
   * union is the step's batch) into the trainer's gradient region. Returns the step's losses.
   */
  async lossAndGrad(micro: readonly BertBatch[], opts: { accuracy?: boolean } = {}): Promise<StepStats> {
    const accuracy = opts.accuracy ?? false;
    let N = 0;
    let B = 0;
    for (const b of micro) {
      N += countMasked(b.mlmLabels);
      if (b.nextSentenceLabel) B += b.batch;
    }
    const per: ShardJob[][] = Array.from({ length: this.threads }, () => []);
    for (const b of micro) {
      splitRows(b, this.threads).forEach((part, t) => {
        per[t].push({
          batch: part,
          mlmScale: N > 0 ? countMasked(part.mlmLabels) / N : 0,
          nspScale: B > 0 && part.nextSentenceLabel ? part.batch / B : 0,
        });
      });
    }
    return combineShards(await this.pool.run(per, { accuracy }), accuracy);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
