// A data-parallel training thread (see parallel.ts): loads the same kernel build as the main thread,
// builds the same trainer, then for each request copies the shared parameters in when they changed
// (and re-packs), computes the gradient of its shards and copies it into its shared slot.
import { parentPort, workerData } from "node:worker_threads";
import { loadRuntime } from "../runtime/node.ts";
import {
  runShards,
  type WorkerInit,
  type WorkerReply,
  type WorkerRequest,
  workerTrainer,
} from "./parallel.ts";

const port = parentPort!;
const init = workerData as WorkerInit;
const reply = (m: WorkerReply) => port.postMessage(m);

try {
  const rt = await loadRuntime({ relaxed: init.relaxed ? "auto" : false });
  if (rt.relaxed !== init.relaxed)
    throw new Error(
      `this thread loaded the ${rt.relaxed ? "relaxed" : "plain"} SIMD build, the main thread the ${init.relaxed ? "relaxed" : "plain"} one`,
    );
  const trainer = workerTrainer(rt, init);
  const p = trainer.params;
  const shared = new Float32Array(init.params);
  const slot = new Float32Array(init.grads);
  port.on("message", (req: WorkerRequest) => {
    try {
      if (req.sync) {
        rt.arena.f32(p.params, p.count).set(shared);
        trainer.repack();
      }
      const results = runShards(trainer, req.jobs, { accuracy: req.accuracy });
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
