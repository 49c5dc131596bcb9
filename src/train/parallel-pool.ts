// The model-independent part of data-parallel training over worker_threads: the main thread and
// threads − 1 workers each hold one kernel instance and a trainer of the same model. The caller cuts a
// step into shard jobs per thread (parallel.ts for BERT, parallel-t5.ts for T5) scaled so that the
// shards' gradients SUM to the step's; each thread runs its jobs (the first zeroes its gradient region,
// the rest accumulate), workers copy their gradient into their slot of a SharedArrayBuffer, and the main
// thread adds the slots to its own gradient in thread order (deterministic for a fixed thread count).
// After any change to the main trainer's parameters (paramsChanged) they are copied once into a shared
// buffer, and every worker copies them into its instance (and re-packs) before its next jobs, together
// with the trainable mask (ParamStore.setTrainable) so frozen tensors cost no gradient work there either.
// A worker builds its trainer from the kind's name and a plain description (ParallelKind.describe):
// parallel-worker.ts looks the kind up by name and imports its module.

import { Worker } from "node:worker_threads";
import type { KernelRuntime } from "../runtime/load.ts";
import type { ParamStore } from "./params.ts";

/** The trainer kinds a worker can build (parallel-worker.ts maps each to its module). */
export type ParallelKindName = "bert" | "t5";

/** What the pool needs of a trainer. */
export interface PoolTrainer {
  readonly rt: KernelRuntime;
  readonly params: ParamStore;
  repack(): void;
}

/**
 * A trainer kind: how the main thread describes its trainer to a worker, how a worker builds one, and
 * how a thread runs its shard jobs (the first job zeroes the gradient region, the next accumulate).
 */
export interface ParallelKind<Tr extends PoolTrainer, Init, Job, Result, Opts> {
  readonly name: ParallelKindName;
  /** Structured-cloneable description of the trainer (config, head tying, adapters…). */
  describe(trainer: Tr): Init;
  /** A worker's trainer (any initial values: the parameters come from the main thread). */
  build(rt: KernelRuntime, init: Init): Tr;
  run(trainer: Tr, jobs: readonly Job[], opts: Opts): Result[];
  /** A job fit to post (copies of views, so postMessage does not carry whole underlying buffers). */
  transfer(job: Job): Job;
}

/** workerData of a training thread. */
export interface PoolWorkerData {
  kind: ParallelKindName;
  init: unknown;
  relaxed: boolean;
  count: number;
  params: SharedArrayBuffer;
  grads: SharedArrayBuffer;
}

export interface PoolRequest {
  /** Copy the shared parameters in (and re-pack) first. */
  sync: boolean;
  /** With sync: the trainable tensors' names, null when every tensor trains. */
  trainable?: string[] | null;
  jobs: unknown[];
  opts: unknown;
}

export type PoolReply =
  | { type: "ready" }
  | { type: "done"; results: unknown[] }
  | { type: "error"; message: string };

interface Handle {
  worker: Worker;
  slot: Float32Array; // [count] this worker's gradient
  stale: boolean;
  pending?: { resolve: (r: unknown[]) => void; reject: (e: Error) => void };
  failed?: Error;
}

/** Gradients of shard jobs over 1 + workers threads, summed into the main trainer's gradient region. */
export class TrainerPool<Tr extends PoolTrainer, Init, Job, Result, Opts> {
  private constructor(
    readonly trainer: Tr,
    private readonly kind: ParallelKind<Tr, Init, Job, Result, Opts>,
    private readonly workers: Handle[],
    private readonly shared: Float32Array | undefined, // [count] parameters for the workers
  ) {}

  get threads(): number {
    return this.workers.length + 1;
  }

  /** Starts threads − 1 workers (each loads the kernels and builds its trainer) and waits until they are ready. */
  static async create<Tr extends PoolTrainer, Init, Job, Result, Opts>(
    trainer: Tr,
    threads: number,
    kind: ParallelKind<Tr, Init, Job, Result, Opts>,
  ): Promise<TrainerPool<Tr, Init, Job, Result, Opts>> {
    if (!(Number.isInteger(threads) && threads >= 1))
      throw new RangeError(`threads must be ≥ 1, got ${threads}`);
    if (threads === 1) return new TrainerPool(trainer, kind, [], undefined);
    const count = trainer.params.count;
    const paramsSab = new SharedArrayBuffer(count * 4);
    const init = kind.describe(trainer);
    const handles: Handle[] = [];
    const ready: Promise<void>[] = [];
    const pool = new TrainerPool(trainer, kind, handles, new Float32Array(paramsSab));
    try {
      for (let t = 1; t < threads; t++) {
        const grads = new SharedArrayBuffer(count * 4);
        const data: PoolWorkerData = {
          kind: kind.name,
          init,
          relaxed: trainer.rt.relaxed,
          count,
          params: paramsSab,
          grads,
        };
        // may throw (e.g. a thread that cannot start): the workers started so far are closed below
        const worker = new Worker(new URL("./parallel-worker.mjs", import.meta.url), { workerData: data });
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
            worker.on("message", (m: PoolReply) => {
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
      await Promise.all(ready);
    } catch (e) {
      for (const r of ready) r.catch(() => {}); // the others' failures are this one's consequence
      await pool.close();
      throw e;
    }
    return pool;
  }

  /** To call after any change to the trainer's parameters or trainable mask: workers re-sync first. */
  paramsChanged(): void {
    for (const h of this.workers) h.stale = true;
  }

  /**
   * Runs per[t] on thread t (per.length = threads; per[0] on the main thread, while the workers run
   * theirs) and leaves the sum of all threads' gradients, in thread order, in the main trainer's
   * gradient region (zeroed when no thread has jobs). Returns the results in thread order.
   */
  async run(per: readonly (readonly Job[])[], opts: Opts): Promise<Result[]> {
    if (per.length !== this.threads)
      throw new RangeError(`${per.length} shard lists for ${this.threads} threads`);
    const p = this.trainer.params;
    if (this.workers.some((h, i) => h.stale && per[i + 1].length > 0))
      this.shared!.set(this.trainer.rt.arena.f32(p.params, p.count));
    const trainable = p.trainableCount === p.count ? null : p.trainableNames();
    const waits: Promise<unknown[]>[] = this.workers.map((h, i) => {
      const jobs = per[i + 1];
      if (jobs.length === 0) return Promise.resolve([]);
      if (h.failed) return Promise.reject(h.failed);
      const req: PoolRequest = {
        sync: h.stale,
        trainable: h.stale ? trainable : undefined,
        jobs: jobs.map((j) => this.kind.transfer(j)),
        opts,
      };
      h.stale = false;
      return new Promise<unknown[]>((resolve, reject) => {
        h.pending = { resolve, reject };
        h.worker.postMessage(req);
      });
    });
    let mine: Result[];
    try {
      if (per[0].length === 0) p.zeroGrad();
      mine = this.kind.run(this.trainer, per[0], opts);
    } finally {
      // never leave workers running unobserved
      await Promise.allSettled(waits);
    }
    const theirs = (await Promise.all(waits)) as Result[][];
    const g = this.trainer.rt.arena.f32(p.grads, p.count);
    this.workers.forEach((h, i) => {
      if (per[i + 1].length === 0) return;
      const s = h.slot;
      for (let j = 0; j < g.length; j++) g[j] += s[j];
    });
    return [...mine, ...theirs.flat()];
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
