// A T5 training step's gradient, on one thread or data-parallel over worker_threads (the threads:
// parallel-pool.ts). The step's examples come as micro-batches (t5-run.ts lengthBuckets); the gradient
// is that of the mean over the step's labeled target tokens ("token" weighting) or of the mean over its
// labeled examples of each example's mean token loss ("example" weighting, T5Trainer's perExample), so
// every shard passes lossScale = its share of the step's labeled tokens (or examples) and the shards'
// gradients SUM to the step's. Sharding: with at least as many micro-batches as threads each thread gets
// whole micro-batches, balanced by padded tokens (largest first to the least loaded thread; a thread runs
// its own in step order); with fewer, every micro-batch's rows are cut into one contiguous part per
// thread. One thread runs every micro-batch in order on the caller's trainer. The reported loss is per
// labeled target token over the whole step (count-weighted over shards), as are the correct argmax
// predictions; padded tokens are those of the micro-batches as collated, whatever the thread count.

import type { KernelRuntime } from "../runtime/load.ts";
import { type ParallelKind, TrainerPool } from "./parallel-pool.ts";
import { type T5Batch, T5Trainer } from "./t5-train.ts";
import { collateT5, type T5Example } from "./t5data/index.ts";

export type LossWeighting = "token" | "example";
export const LOSS_WEIGHTINGS: readonly LossWeighting[] = ["token", "example"];

const IGNORE = -100;

/** One shard: rows of a micro-batch and its share of the step's gradient. */
export interface T5ShardJob {
  batch: T5Batch;
  lossScale: number;
  perExample: boolean;
}

/** A shard's mean token loss (NaN without labels), labeled tokens and correct argmax predictions. */
export interface T5ShardResult {
  loss: number;
  tokens: number;
  correct: number;
}

export interface T5ShardOptions {
  /** Count correct predictions (runs the head's logits out). */
  logits: boolean;
}

/** A step's loss per labeled target token (NaN without any), its labeled and padded tokens, correct predictions. */
export interface T5StepStats {
  loss: number;
  tokens: number;
  correct: number;
  paddedTokens: number;
}

/** What a worker needs to build the same trainer as the main thread's. */
export interface T5WorkerInit {
  config: T5Trainer["config"];
  tied: boolean;
  adapters?: number;
}

/** Labeled rows whose argmax logit is the label. */
export function correctTokens(logits: Float32Array, rows: Int32Array, labels: Int32Array, V: number): number {
  let ok = 0;
  for (let r = 0; r < rows.length; r++) {
    let best = 0;
    for (let v = 1; v < V; v++) if (logits[r * V + v] > logits[r * V + best]) best = v;
    if (best === labels[rows[r]]) ok++;
  }
  return ok;
}

/** Labels other than −100 and rows (examples) with at least one of them. */
function labeled(b: T5Batch): { tokens: number; examples: number } {
  const Td = b.decoderSeq;
  let tokens = 0;
  let examples = 0;
  for (let r = 0; r < b.batch; r++) {
    let n = 0;
    for (let t = 0; t < Td; t++) if (b.labels[r * Td + t] !== IGNORE) n++;
    tokens += n;
    if (n > 0) examples++;
  }
  return { tokens, examples };
}

/** Rows [from, to) of a batch (views). */
export function sliceT5Rows(b: T5Batch, from: number, to: number): T5Batch {
  const enc = (a: Int32Array | undefined) => a?.subarray(from * b.seq, to * b.seq);
  const dec = (a: Int32Array | undefined) => a?.subarray(from * b.decoderSeq, to * b.decoderSeq);
  return {
    inputIds: enc(b.inputIds)!,
    attentionMask: enc(b.attentionMask),
    decoderInputIds: dec(b.decoderInputIds),
    labels: dec(b.labels)!,
    batch: to - from,
    seq: b.seq,
    decoderSeq: b.decoderSeq,
  };
}

/** Whole micro-batches per thread (indices in step order), largest padded size first to the least loaded. */
export function balanceBatches(sizes: readonly number[], threads: number): number[][] {
  const order = sizes.map((_, i) => i).sort((a, b) => sizes[b] - sizes[a] || a - b);
  const load = new Array<number>(threads).fill(0);
  const per: number[][] = Array.from({ length: threads }, () => []);
  for (const i of order) {
    let t = 0;
    for (let u = 1; u < threads; u++) if (load[u] < load[t]) t = u;
    per[t].push(i);
    load[t] += sizes[i];
  }
  for (const p of per) p.sort((a, b) => a - b);
  return per;
}

/** The shard jobs of a step per thread, and its padded tokens. */
export function planT5Step(
  groups: readonly T5Example[][],
  threads: number,
  pad: number,
  weighting: LossWeighting,
): { per: T5ShardJob[][]; paddedTokens: number } {
  const batches = groups.map((g) => collateT5(g, pad));
  const counts = batches.map(labeled);
  const tokens = counts.reduce((a, c) => a + c.tokens, 0);
  const examples = counts.reduce((a, c) => a + c.examples, 0);
  const perExample = weighting === "example";
  const share = (c: { tokens: number; examples: number }) =>
    perExample ? (examples ? c.examples / examples : 0) : tokens ? c.tokens / tokens : 0;
  const sizes = batches.map((b) => b.batch * (b.seq + b.decoderSeq));
  const paddedTokens = sizes.reduce((a, b) => a + b, 0);
  const job = (batch: T5Batch, c = labeled(batch)): T5ShardJob => ({
    batch,
    lossScale: share(c),
    perExample,
  });
  if (threads === 1 || batches.length >= threads) {
    const per = balanceBatches(sizes, threads).map((idx) => idx.map((i) => job(batches[i], counts[i])));
    return { per, paddedTokens };
  }
  const per: T5ShardJob[][] = Array.from({ length: threads }, () => []);
  for (const b of batches) {
    const base = Math.floor(b.batch / threads);
    const extra = b.batch % threads;
    let from = 0;
    for (let t = 0; t < threads; t++) {
      const n = base + (t < extra ? 1 : 0);
      if (n > 0) per[t].push(job(sliceT5Rows(b, from, from + n)));
      from += n;
    }
  }
  return { per, paddedTokens };
}

/** Gradients of shards on one trainer, summed in its gradient region (the first job zeroes it). */
export function runT5Shards(
  trainer: T5Trainer,
  jobs: readonly T5ShardJob[],
  opts: T5ShardOptions,
): T5ShardResult[] {
  const V = trainer.config.vocabSize;
  return jobs.map((j, i) => {
    const o = trainer.lossAndGrad(j.batch, {
      accumulate: i > 0,
      lossScale: j.lossScale,
      logits: opts.logits,
      perExample: j.perExample,
    });
    const correct = opts.logits && o.tokens ? correctTokens(o.logits!, o.rows, j.batch.labels, V) : 0;
    return { loss: o.loss, tokens: o.tokens, correct };
  });
}

/** The step's loss per labeled token (count-weighted over shards) and correct predictions. */
export function combineT5Shards(results: readonly T5ShardResult[]): {
  loss: number;
  tokens: number;
  correct: number;
} {
  const total = results.reduce((a, r) => a + r.tokens, 0);
  let loss = 0;
  let correct = 0;
  for (const r of results) {
    if (r.tokens > 0) loss += (r.loss * r.tokens) / total;
    correct += r.correct;
  }
  return { loss: total ? loss : Number.NaN, tokens: total, correct };
}

const copy = (a: Int32Array | undefined) => a?.slice();

/** T5 shards for the pool: the same trainer in a worker, runT5Shards on each thread. */
export const T5_PARALLEL: ParallelKind<T5Trainer, T5WorkerInit, T5ShardJob, T5ShardResult, T5ShardOptions> = {
  name: "t5",
  describe: (t) => ({ config: t.config, tied: t.tied, adapters: t.adapterBottleneck }),
  build: (rt: KernelRuntime, init) =>
    new T5Trainer(rt, init.config, {
      tieWordEmbeddings: init.tied,
      adapters: init.adapters === undefined ? undefined : { bottleneck: init.adapters },
    }),
  run: runT5Shards,
  transfer: (j) => ({
    ...j,
    batch: {
      ...j.batch,
      inputIds: j.batch.inputIds.slice(),
      attentionMask: copy(j.batch.attentionMask),
      decoderInputIds: copy(j.batch.decoderInputIds),
      labels: j.batch.labels.slice(),
    },
  }),
};

/** A T5 step's gradient over 1 + workers threads, into the main trainer's gradient region. */
export class T5DataParallel {
  private constructor(
    private readonly pool: TrainerPool<T5Trainer, T5WorkerInit, T5ShardJob, T5ShardResult, T5ShardOptions>,
  ) {}

  get trainer(): T5Trainer {
    return this.pool.trainer;
  }

  get threads(): number {
    return this.pool.threads;
  }

  /** Starts threads − 1 workers (each loads the kernels and builds its trainer) and waits until they are ready. */
  static async create(trainer: T5Trainer, threads: number): Promise<T5DataParallel> {
    return new T5DataParallel(await TrainerPool.create(trainer, threads, T5_PARALLEL));
  }

  /** To call after any change to the trainer's parameters or trainable mask: workers re-sync first. */
  paramsChanged(): void {
    this.pool.paramsChanged();
  }

  /**
   * Zero-grad, then the gradient of the step whose examples are `groups` (its micro-batches) into the
   * trainer's gradient region; `logits` also counts correct predictions.
   */
  async lossAndGrad(
    groups: readonly T5Example[][],
    opts: { pad: number; logits: boolean; weighting: LossWeighting },
  ): Promise<T5StepStats> {
    const { per, paddedTokens } = planT5Step(groups, this.threads, opts.pad, opts.weighting);
    const r = combineT5Shards(await this.pool.run(per, { logits: opts.logits }));
    return { ...r, paddedTokens };
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
