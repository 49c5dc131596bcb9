// The T5-small part of the whole-model benchmark: the encoder over the grid's sequence × batch cells
// (same token ids for every engine), and greedy decoding ms per token with the KV cache at the golden's
// 41-token input (batch 1, 20 new tokens), f32 and int8: ours against onnxruntime-web and
// onnxruntime-node (encoder, cross_kv and decoder_step graphs) on the same generated weights; greedy
// ids of every engine are checked against the golden (Hugging Face) ids.
import { readFileSync } from "node:fs";
import { T5Model } from "../src/models/t5.ts";
import { t5ConfigFromJson } from "../src/models/t5-config.ts";
import { generateFromEncoded } from "../src/models/t5-generate.ts";
import type { KernelRuntime } from "../src/runtime/load.ts";
import { benchIds } from "./grid.ts";
import { openOrtEncoder, ortT5GreedyMsPerToken } from "./ort-models.ts";
import { perfFile, perfStore } from "./perf-weights.ts";
import type { Row } from "./report.ts";
import { type CellPolicy, cellPolicy, timeCell } from "./timing.ts";

const NEW_TOKENS = 20;

export async function benchT5Small(
  engines: { name: string; rt: KernelRuntime }[],
  shapes: [number, number][],
  base: CellPolicy,
  progress: (msg: string) => void = () => {},
): Promise<Row[]> {
  const golden = JSON.parse(readFileSync(perfFile("t5-small", "golden.json"), "utf8")) as {
    input_ids: number[][];
    greedy_ids: number[][];
  };
  const config = t5ConfigFromJson(JSON.parse(readFileSync(perfFile("t5-small", "config.json"), "utf8")));
  const store = perfStore("t5-small");
  const ids41 = golden.input_ids[0];
  const quick = base.maxRuns === 1;
  const rows: Row[] = [];
  const model = "t5-small";
  const matches = (ids: number[]) =>
    JSON.stringify(ids) === JSON.stringify(golden.greedy_ids[0].slice(0, ids.length));
  for (const dtype of ["f32", "int8"] as const) {
    for (const { name, rt } of engines) {
      const mark = rt.arena.mark();
      const m = new T5Model(rt, config, store, { dtype });
      let state: { first: boolean; lastRunMs?: number } = { first: true };
      for (const [seq, batch] of shapes) {
        const input = Int32Array.from(benchIds("t5", config.vocabSize, seq, batch).flat());
        const t = timeCell(() => m.encode(input, undefined, batch, seq), cellPolicy(base, state));
        state = { first: false, lastRunMs: t.medianMs };
        rows.push({ model, part: "encoder", engine: name, dtype, seq, batch, ms: t.medianMs, runs: t.runs });
        progress(`${model} encoder ${name} ${dtype} ${seq}×${batch}: ${t.medianMs.toFixed(1)} ms`);
      }
      const enc = {
        hidden: m.encode(Int32Array.from(ids41), undefined, 1, ids41.length).lastHiddenState,
        batch: 1,
        seq: ids41.length,
      };
      let seq: number[] = [];
      const t = timeCell(
        () => {
          seq = generateFromEncoded(m, enc, { maxNewTokens: NEW_TOKENS }).sequences[0];
        },
        { ...base, maxRuns: quick ? 1 : 5, minMs: 0, budgetMs: quick ? 0 : 1000 },
      );
      const match = matches(seq);
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
        runs: t.runs,
        ids_match: match ? "yes" : "no",
      });
      rt.arena.reset(mark);
    }
    for (const engine of ["web", "node"] as const) {
      const h = await openOrtEncoder("t5-small", engine, dtype);
      try {
        let state: { first: boolean; lastRunMs?: number } = { first: true };
        for (const [seq, batch] of shapes) {
          const r = await h.time(benchIds("t5", config.vocabSize, seq, batch), cellPolicy(base, state));
          state = { first: false, lastRunMs: r.medianMs };
          rows.push({
            model,
            part: "encoder",
            engine: `ort-${engine}`,
            dtype,
            seq,
            batch,
            ms: r.medianMs,
            runs: r.runs,
          });
          progress(`${model} encoder ort-${engine} ${dtype} ${seq}×${batch}: ${r.medianMs.toFixed(1)} ms`);
        }
      } finally {
        await h.release();
      }
      const g = await ortT5GreedyMsPerToken({
        engine,
        dtype,
        inputIds: [ids41],
        maxNewTokens: NEW_TOKENS,
        repeats: quick ? 1 : 5,
        warmupMs: quick ? 0 : 1000,
      });
      rows.push({
        model,
        part: "decode ms/token",
        engine: `ort-${engine}`,
        dtype,
        seq: ids41.length,
        batch: 1,
        ms: g.msPerToken,
        runs: quick ? 1 : 5,
        ids_match: matches(g.ids[0]) ? "yes" : "no",
      });
    }
    progress(`${model} ${dtype} done`);
  }
  return rows;
}
