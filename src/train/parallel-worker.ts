// A data-parallel training thread (see parallel-pool.ts): loads the same kernel build as the main
// thread, builds the same trainer through its kind's module (parallel.ts: BERT, parallel-t5.ts: T5), then
// for each request copies the shared parameters and the trainable mask in when they changed (and
// re-packs), runs its shard jobs and copies its gradient into its shared slot.
import { parentPort, workerData } from "node:worker_threads";
import { loadRuntime } from "../runtime/node.ts";
import type {
  ParallelKind,
  ParallelKindName,
  PoolReply,
  PoolRequest,
  PoolTrainer,
  PoolWorkerData,
} from "./parallel-pool.ts";

type AnyKind = ParallelKind<PoolTrainer, unknown, unknown, unknown, unknown>;

const KINDS: Record<ParallelKindName, () => Promise<AnyKind>> = {
  bert: async () => (await import("./parallel.ts")).BERT_PARALLEL as unknown as AnyKind,
  t5: async () => (await import("./parallel-t5.ts")).T5_PARALLEL as unknown as AnyKind,
};

const port = parentPort!;
const data = workerData as PoolWorkerData;
const reply = (m: PoolReply) => port.postMessage(m);

try {
  const load = KINDS[data.kind];
  if (!load) throw new Error(`unknown trainer kind ${JSON.stringify(data.kind)}`);
  const kind = await load();
  const rt = await loadRuntime({ relaxed: data.relaxed ? "auto" : false });
  if (rt.relaxed !== data.relaxed)
    throw new Error(
      `this thread loaded the ${rt.relaxed ? "relaxed" : "plain"} SIMD build, the main thread the ${data.relaxed ? "relaxed" : "plain"} one`,
    );
  const trainer = kind.build(rt, data.init);
  const p = trainer.params;
  if (p.count !== data.count)
    throw new Error(`parameter count ${p.count} differs from the main thread's ${data.count}`);
  const shared = new Float32Array(data.params); // [count]
  const slot = new Float32Array(data.grads); // [count]
  let mask = "";
  port.on("message", (req: PoolRequest) => {
    try {
      if (req.sync) {
        const names = req.trainable ?? null;
        const key = names ? `mask:${names.join("\n")}` : "";
        if (key !== mask) {
          const set = names && new Set(names);
          p.setTrainable((n) => !set || set.has(n));
          mask = key;
        }
        rt.arena.f32(p.params, p.count).set(shared);
        trainer.repack();
      }
      const results = kind.run(trainer, req.jobs, req.opts);
      slot.set(rt.arena.f32(p.grads, p.count));
      reply({ type: "done", results });
    } catch (e) {
      reply({ type: "error", message: (e as Error).message });
    }
  });
  reply({ type: "ready" });
} catch (e) {
  reply({ type: "error", message: (e as Error).message });
}
