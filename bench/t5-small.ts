// The T5-small part of the whole-model benchmark: encoder ms at the golden's 41-token input and at
// T = 128, and greedy decoding ms per token with the KV cache (batch 1, 20 new tokens), f32 and int8:
// ours against onnxruntime-web and onnxruntime-node (encoder, cross_kv and decoder_step graphs) on the
// same generated weights; our greedy ids are checked against the golden (Hugging Face) ids.
import { readFileSync } from "node:fs";
import { generateParam, type WeightsManifest } from "../src/io/manifest-weights.ts";
import { writeSafetensors } from "../src/io/safetensors.ts";
import { T5Model } from "../src/models/t5.ts";
import { t5ConfigFromJson } from "../src/models/t5-config.ts";
import { generateFromEncoded } from "../src/models/t5-generate.ts";
import { TensorStore } from "../src/models/tensors.ts";
import type { KernelRuntime } from "../src/runtime/load.ts";
import { ortEncoderMs, ortT5GreedyMsPerToken } from "./ort-models.ts";
import type { Row } from "./report.ts";
import { timeIt } from "./timing.ts";

const DIR = new URL("./perf/t5-small/", import.meta.url);
const NEW_TOKENS = 20;

export async function benchT5Small(engines: { name: string; rt: KernelRuntime }[]): Promise<Row[]> {
  const manifest = JSON.parse(readFileSync(new URL("weights_manifest.json", DIR), "utf8")) as WeightsManifest;
  const golden = JSON.parse(readFileSync(new URL("golden.json", DIR), "utf8")) as {
    input_ids: number[][];
    greedy_ids: number[][];
  };
  const config = t5ConfigFromJson(JSON.parse(readFileSync(new URL("config.json", DIR), "utf8")));
  const tensors: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
  for (const p of manifest.params) tensors[p.name] = { dtype: "F32", shape: p.shape, data: generateParam(p) };
  const store = TensorStore.fromBytes([{ bytes: writeSafetensors(tensors), name: "t5-small.safetensors" }]);
  const ids41 = golden.input_ids[0];
  const ids128 = Array.from({ length: 128 }, (_, t) => (t === 127 ? 1 : 100 + ((t * 7919) % 30000)));
  const rows: Row[] = [];
  const model = "t5-small";
  for (const dtype of ["f32", "int8"] as const) {
    for (const { name, rt } of engines) {
      const mark = rt.arena.mark();
      const m = new T5Model(rt, config, store, { dtype });
      for (const ids of [ids41, ids128]) {
        const T = ids.length;
        const input = Int32Array.from(ids);
        const t = timeIt(() => m.encode(input, undefined, 1, T), { warmup: 2, minRuns: 5, minMs: 1000 });
        rows.push({ model, part: "encoder", engine: name, dtype, seq: T, batch: 1, ms: t.medianMs });
      }
      const enc = {
        hidden: m.encode(Int32Array.from(ids41), undefined, 1, ids41.length).lastHiddenState,
        batch: 1,
        seq: ids41.length,
      };
      let seq: number[] = [];
      const t = timeIt(
        () => {
          seq = generateFromEncoded(m, enc, { maxNewTokens: NEW_TOKENS }).sequences[0];
        },
        { warmup: 1, minRuns: 5, minMs: 1000 },
      );
      const match = JSON.stringify(seq) === JSON.stringify(golden.greedy_ids[0].slice(0, seq.length));
      if (!match)
        console.error(`t5-small ${name} ${dtype}: greedy ids differ from the golden: ${seq.join(",")}`);
      rows.push({
        model,
        part: "decode ms/token",
        engine: name,
        dtype,
        seq: ids41.length,
        batch: 1,
        ms: t.medianMs / NEW_TOKENS,
        ids_match: match ? "yes" : "no",
      });
      rt.arena.reset(mark);
    }
    for (const engine of ["web", "node"] as const) {
      for (const ids of [ids41, ids128]) {
        const r = await ortEncoderMs({
          model: "t5-small",
          engine,
          dtype,
          inputIds: [ids],
          minTimeMs: 1000,
          minRuns: 5,
        });
        rows.push({
          model,
          part: "encoder",
          engine: `ort-${engine}`,
          dtype,
          seq: ids.length,
          batch: 1,
          ms: r.medianMs,
        });
      }
      const g = await ortT5GreedyMsPerToken({
        engine,
        dtype,
        inputIds: [ids41],
        maxNewTokens: NEW_TOKENS,
        repeats: 5,
      });
      const match =
        JSON.stringify(g.ids[0]) === JSON.stringify(golden.greedy_ids[0].slice(0, g.ids[0].length));
      rows.push({
        model,
        part: "decode ms/token",
        engine: `ort-${engine}`,
        dtype,
        seq: ids41.length,
        batch: 1,
        ms: g.msPerToken,
        ids_match: match ? "yes" : "no",
      });
    }
    console.error(`t5-small ${dtype} done`);
  }
  return rows;
}
