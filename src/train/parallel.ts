// Data-parallel gradients over worker_threads: the main thread and threads − 1 workers each hold one
// kernel instance and a BertTrainer. A step's batch (possibly several accumulation micro-batches) is cut
// into contiguous shards by sequence; each thread computes the gradient of its shards, scaled so the
// shards' gradients SUM to the full batch's: the MLM loss is a mean over the batch's masked tokens and
// the NSP loss a mean over its sequences, so a shard with n of the N masked tokens and b of the B
// sequences passes dloss n/N to the MLM cross-entropy and b/B to the NSP one (cross_entropy_f32 divides
// by its own count). Workers copy their gradient into their slot of a SharedArrayBuffer; the main thread
// adds the slots to its own gradient in thread order (deterministic), and the caller clips and applies
// AdamW there. After each optimizer step the parameters are copied into a shared buffer once, and every
// worker copies them into its instance (and re-packs) before its next shards. With one thread everything
// runs on the caller's trainer, with the same scaling.

import { Worker } from "node:worker_threads";
import type { BertConfig } from "../models/bert-config.ts";
import { type BertBatch, type BertTrainArch, BertTrainer, type BertTrainOutput } from "./bert-train.ts";

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
export interface WorkerInit {
  config: BertConfig;
  arch: BertTrainArch;
  tied: boolean;
  relaxed: boolean;
  count: number;
  params: SharedArrayBuffer;
  grads: SharedArrayBuffer;
}

export type WorkerRequest = { sync: boolean; jobs: ShardJob[]; accuracy: boolean };
export type WorkerReply =
  | { type: "ready" }
  | { type: "done"; results: ShardResult[] }
  | { type: "error"; message: string };

interface Handle {
  worker: Worker;
  slot: Float32Array;
  stale: boolean;
  pending?: { resolve: (r: ShardResult[]) => void; reject: (e: Error) => void };
  failed?: Error;
}

/** The gradient of a step's batch over 1 + workers threads, into the main trainer's gradient region. */
export class DataParallel {
  private readonly shared?: Float32Array;
  private constructor(
    readonly trainer: BertTrainer,
    private readonly workers: Handle[],
    shared: Float32Array | undefined,
  ) {
    this.shared = shared;
  }

  get threads(): number {
    return this.workers.length + 1;
  }

  /** Starts threads − 1 workers (each loads the kernels and builds its trainer) and waits until they are ready. */
  static async create(trainer: BertTrainer, threads: number): Promise<DataParallel> {
    if (!(Number.isInteger(threads) && threads >= 1))
      throw new RangeError(`threads must be ≥ 1, got ${threads}`);
    if (threads === 1) return new DataParallel(trainer, [], undefined);
    const count = trainer.params.count;
    const paramsSab = new SharedArrayBuffer(count * 4);
    const handles: Handle[] = [];
    const ready: Promise<void>[] = [];
    for (let t = 1; t < threads; t++) {
      const grads = new SharedArrayBuffer(count * 4);
      const init: WorkerInit = {
        config: trainer.config,
        arch: trainer.arch,
        tied: trainer.tied,
        relaxed: trainer.rt.relaxed,
        count,
        params: paramsSab,
        grads,
      };
      const worker = new Worker(new URL("./parallel-worker.mjs", import.meta.url), { workerData: init });
      const h: Handle = { worker, slot: new Float32Array(grads), stale: true };
      handles.push(h);
      ready.push(
        new Promise<void>((resolve, reject) => {
          const fail = (e: Error) => {
            h.failed = e;
            reject(e);
            h.pending?.reject(e);
            h.pending = undefined;
          };
          worker.on("message", (m: WorkerReply) => {
            if (m.type === "ready") resolve();
            else if (m.type === "done") {
              const p = h.pending;
              h.pending = undefined;
              p?.resolve(m.results);
            } else fail(new Error(`training thread ${t}: ${m.message}`));
          });
          worker.on("error", (e) => fail(new Error(`training thread ${t}: ${e.message}`)));
          worker.on("exit", (code) => {
            if (!h.failed) fail(new Error(`training thread ${t} exited (code ${code})`));
          });
        }),
      );
    }
    const dp = new DataParallel(trainer, handles, new Float32Array(paramsSab));
    try {
      await Promise.all(ready);
    } catch (e) {
      await dp.close();
      throw e;
    }
    return dp;
  }

  /** To call after any change to the trainer's parameters (optimizer step, load): workers re-sync first. */
  paramsChanged(): void {
    for (const h of this.workers) h.stale = true;
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
    // workers first (they run while the main thread computes its own shards)
    if (this.workers.some((h, i) => h.stale && per[i + 1].length > 0)) {
      const p = this.trainer.params;
      this.shared!.set(this.trainer.rt.arena.f32(p.params, p.count));
    }
    const waits: Promise<ShardResult[]>[] = this.workers.map((h, i) => {
      const jobs = per[i + 1];
      if (jobs.length === 0) return Promise.resolve([]);
      if (h.failed) return Promise.reject(h.failed);
      // copies of the rows (a view would carry its whole underlying buffer through postMessage)
      const req: WorkerRequest = { sync: h.stale, jobs: jobs.map(compactJob), accuracy };
      h.stale = false;
      return new Promise<ShardResult[]>((resolve, reject) => {
        h.pending = { resolve, reject };
        h.worker.postMessage(req);
      });
    });
    let mine: ShardResult[];
    try {
      mine = runShards(this.trainer, per[0], { accuracy });
    } finally {
      // never leave workers running unobserved
      await Promise.allSettled(waits);
    }
    const theirs = await Promise.all(waits);
    const p = this.trainer.params;
    const g = this.trainer.rt.arena.f32(p.grads, p.count);
    this.workers.forEach((h, i) => {
      if (per[i + 1].length === 0) return;
      const s = h.slot;
      for (let j = 0; j < g.length; j++) g[j] += s[j];
    });
    return combineShards([...mine, ...theirs.flat()], accuracy);
  }

  async close(): Promise<void> {
    await Promise.all(
      this.workers.map(async (h) => {
        h.failed ??= new Error("closed");
        await h.worker.terminate();
      }),
    );
  }
}

/** Builds a worker's trainer (random init; the parameters come from the main thread before its first shards). */
export function workerTrainer(rt: BertTrainer["rt"], init: WorkerInit): BertTrainer {
  const t = new BertTrainer(rt, init.config, { arch: init.arch, tieWordEmbeddings: init.tied });
  if (t.params.count !== init.count)
    throw new Error(`parameter count ${t.params.count} differs from the main thread's ${init.count}`);
  return t;
}
