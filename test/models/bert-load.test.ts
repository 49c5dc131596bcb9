// Loading BERT: from files on disk read straight into wasm memory (loadBertDir → openTensors) equals
// loading from the bytes in memory, bit for bit, for f32, int8 quantized at load and our int8
// checkpoint; the arena grows once while the weights are placed (one reservation, no growth per
// tensor); a checkpoint deleted between opening and building the model is a clear error.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeSafetensors } from "../../src/io/safetensors.ts";
import { type BertInput, BertModel } from "../../src/models/bert.ts";
import { type BertConfig, bertConfigFromJson } from "../../src/models/bert-config.ts";
import { openTensors, readConfig, readTensors } from "../../src/models/checkpoint-node.ts";
import { loadBertDir } from "../../src/models/load-node.ts";
import { quantizeCheckpoint } from "../../src/models/quantize.ts";
import type { TensorStore } from "../../src/models/tensors.ts";
import type { KernelRuntime } from "../../src/runtime/load.ts";
import { loadRuntime } from "../../src/runtime/node.ts";
import { fixturePath, readJsonFixture } from "../helpers/fixtures.ts";

let rt: KernelRuntime;
let config: BertConfig;
let input: BertInput;
let int8Dir: string;
const dir = fixturePath("bert_tiny");

beforeAll(async () => {
  rt = await loadRuntime({ relaxed: false });
  config = bertConfigFromJson(await readConfig(dir));
  const j = readJsonFixture<{ input_ids: number[][]; attention_mask: number[][] }>(
    "bert_tiny/pretrain_inputs.json",
  );
  input = {
    inputIds: Int32Array.from(j.input_ids.flat()),
    attentionMask: Int32Array.from(j.attention_mask.flat()),
    batch: j.input_ids.length,
    seq: j.input_ids[0].length,
  };
  int8Dir = await mkdtemp(join(tmpdir(), "edgeformer-bert-load-"));
  const q = quantizeCheckpoint(rt, await readTensors(dir));
  await writeFile(join(int8Dir, "model.safetensors"), writeSafetensors(q.tensors, q.metadata));
  await writeFile(join(int8Dir, "config.json"), JSON.stringify(await readConfig(dir)));
});
afterAll(() => rm(int8Dir, { recursive: true, force: true }));

/** Every output the heads give, as plain arrays. */
function outputs(m: BertModel): number[][] {
  const o = m.forward(input, { mlm: "all", nsp: true, pooled: true });
  return [o.lastHiddenState, o.mlmLogits!, o.nspLogits!, o.pooled!].map((a) => Array.from(a));
}

/** Builds the model on a fresh runtime (small memory), counting the wasm memory grows construction makes. */
async function built(
  store: TensorStore,
  dtype: "f32" | "int8",
): Promise<{ model: BertModel; grows: number; initial: number }> {
  const fresh = await loadRuntime({ relaxed: false });
  const memory = fresh.memory;
  const initial = memory.buffer.byteLength;
  const grow = memory.grow.bind(memory);
  let grows = 0;
  memory.grow = (pages: number) => {
    grows++;
    return grow(pages);
  };
  const model = new BertModel(fresh, config, store, { dtype });
  return { model, grows, initial };
}

describe("BERT loading", () => {
  it("from disk (loadBertDir) = from bytes, bit for bit: f32, int8 at load, int8 checkpoint", async () => {
    for (const [d, dtype] of [
      [dir, "f32"],
      [dir, "int8"],
      [int8Dir, "int8"],
    ] as const) {
      const mark = rt.arena.mark();
      const fromBytes = outputs(new BertModel(rt, config, await readTensors(d), { dtype }));
      const fromDisk = outputs(await loadBertDir(d, { dtype, runtime: rt }));
      expect(fromDisk).toEqual(fromBytes);
      rt.arena.reset(mark);
    }
    // our int8 checkpoint is the model int8 at load time gives (its q/k/v are used as stored)
    const mark = rt.arena.mark();
    const atLoad = outputs(new BertModel(rt, config, await readTensors(dir), { dtype: "int8" }));
    expect(outputs(await loadBertDir(int8Dir, { dtype: "int8", runtime: rt }))).toEqual(atLoad);
    rt.arena.reset(mark);
  });

  it("grows wasm memory once while placing the weights", async () => {
    for (const [d, dtype] of [
      [dir, "f32"],
      [dir, "int8"],
      [int8Dir, "int8"],
    ] as const) {
      const { model, grows, initial } = await built(await openTensors(d), dtype);
      expect(grows, `${d} ${dtype}`).toBe(1);
      // growing a quarter at a time, placing these weights would take several grows
      expect(model.weightBytes).toBeGreaterThan(initial);
    }
  });

  it("a checkpoint deleted after opening fails with the file and tensor named", async () => {
    const gone = await mkdtemp(join(tmpdir(), "edgeformer-bert-gone-"));
    await writeFile(join(gone, "model.safetensors"), writeSafetensors({}));
    const store = await openTensors(int8Dir);
    const empty = await openTensors(gone);
    await rm(gone, { recursive: true });
    expect(empty.names()).toEqual([]);
    await expect(openTensors(gone)).rejects.toThrow(/model.safetensors: file not found/);
    const copy = await mkdtemp(join(tmpdir(), "edgeformer-bert-copy-"));
    await writeFile(join(copy, "model.safetensors"), await readFile(join(int8Dir, "model.safetensors")));
    const opened = await openTensors(copy);
    await rm(copy, { recursive: true });
    const mark = rt.arena.mark();
    expect(() => new BertModel(rt, config, opened, { dtype: "int8" })).toThrow(
      /model.safetensors: tensor ".+": cannot read its data: .*file not found/,
    );
    rt.arena.reset(mark);
    expect(() => new BertModel(rt, config, store, { dtype: "int8" })).not.toThrow();
    rt.arena.reset(mark);
  });
});
