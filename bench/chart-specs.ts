// What each benchmark chart shows, built from result rows (pure; bench/charts.ts writes the files):
// one chart per model (encoder latency by engine × dtype at seq 128 × batch 1 — T5-small also greedy
// decoding ms per token — and small multiples over the seq × batch grid: each engine's time as a ratio
// to onnxruntime-web's), cold start / peak memory, and end to end.
import type { Row } from "./report.ts";
import type { BarGroup, Chart, GridCell, Panel } from "./svg.ts";

const ENGINES = [
  { key: "edgeformer-simd", label: "ours, SIMD", color: "#1f77b4" },
  { key: "edgeformer-relaxed", label: "ours, relaxed SIMD", color: "#8fbbe0" },
  { key: "ort-web", label: "onnxruntime-web", color: "#ff7f0e" },
  { key: "ort-node", label: "onnxruntime-node", color: "#8c8c8c" },
  { key: "transformers.js-wasm", label: "transformers.js on onnxruntime-web", color: "#ff7f0e" },
  { key: "transformers.js-node", label: "transformers.js on onnxruntime-node", color: "#8c8c8c" },
];
export const MODEL_TITLES: Record<string, string> = {
  "bert-minilm-l6": "MiniLM-L6",
  "bert-base": "BERT-base",
  "t5-small": "T5-small",
};
const DTYPES = ["f32", "int8"];

const ms = (v: number) => `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ms`;

function seriesFor(rows: Row[]) {
  const present = new Set(rows.map((r) => r.engine));
  return ENGINES.filter((e) => present.has(e.key));
}

/** Bars per engine (in ENGINES order) of the rows matching `where`, grouped by dtype. */
function dtypeGroups(
  rows: Row[],
  where: (r: Row) => boolean,
  value: (r: Row) => number,
  text: (v: number) => string,
): BarGroup[] {
  return DTYPES.map((dtype) => ({
    label: dtype,
    bars: ENGINES.flatMap((e) => {
      const r = rows.find((x) => x.engine === e.key && x.dtype === dtype && where(x));
      if (!r || typeof r.ms !== "number") return [];
      const v = value(r);
      return [{ series: e.key, value: v, text: text(v) }];
    }),
  })).filter((g) => g.bars.length > 0);
}

export function modelChart(model: string, all: Row[], source: string): Chart | undefined {
  const rows = all.filter((r) => r.model === model);
  const enc = rows.filter((r) => r.part === "encoder");
  if (enc.length === 0) return undefined;
  const seqs = [...new Set(enc.map((r) => r.seq as number))].sort((a, b) => a - b);
  const batches = [...new Set(enc.map((r) => r.batch as number))].sort((a, b) => a - b);
  const has = (s: number, b: number) => enc.some((r) => r.seq === s && r.batch === b);
  const [hs, hb] = has(128, 1) ? [128, 1] : [seqs.find((s) => has(s, batches[0])) ?? seqs[0], batches[0]];
  const panels: Panel[] = [
    {
      kind: "bars",
      title: `Encoder forward pass, seq ${hs} × batch ${hb}: median ms (shorter is faster)`,
      groups: dtypeGroups(
        enc,
        (r) => r.seq === hs && r.batch === hb,
        (r) => r.ms as number,
        ms,
      ),
    },
  ];
  const dec = rows.filter((r) => r.part === "decode ms/token");
  if (dec.length)
    panels.push({
      kind: "bars",
      title: `Greedy decoding with KV cache, batch 1: ms per generated token`,
      groups: dtypeGroups(
        dec,
        () => true,
        (r) => r.ms as number,
        ms,
      ),
    });
  if (seqs.length * batches.length > 1) {
    const cells: GridCell[] = [];
    for (const b of batches)
      for (const s of seqs) {
        const at = enc.filter((r) => r.seq === s && r.batch === b);
        const web = (dtype: string) =>
          at.find((r) => r.engine === "ort-web" && r.dtype === dtype)?.ms as number | undefined;
        const groups = dtypeGroups(
          at.filter((r) => r.engine !== "ort-web" && web(r.dtype as string)),
          () => true,
          (r) => (r.ms as number) / web(r.dtype as string)!,
          (v) => `${v.toFixed(2)}×`,
        );
        for (const g of groups)
          for (const bar of g.bars) {
            const r = at.find((x) => x.engine === bar.series && x.dtype === g.label)!;
            bar.tooltip = `seq ${s} × batch ${b}, ${g.label}, ${bar.series}: ${bar.text} of onnxruntime-web (${ms(r.ms as number)} vs ${ms(web(g.label)!)})`;
          }
        cells.push({
          title: has(s, b) ? `seq ${s} × batch ${b}` : `seq ${s} × batch ${b}: not measured`,
          groups,
        });
      }
    panels.push({
      kind: "grid",
      title: "Time relative to onnxruntime-web, per seq × batch (below the line = faster)",
      columns: seqs.length,
      cells,
      reference: { value: 1, label: "onnxruntime-web = 1" },
    });
  }
  return {
    title: `${MODEL_TITLES[model] ?? model}: ours vs onnxruntime, one thread`,
    subtitle: source,
    series: seriesFor(rows),
    panels,
  };
}

export function enginesChart(rows: Row[], source: string): Chart | undefined {
  const st = rows.filter((r) => r.part === "startup" && typeof r.cold_ms === "number");
  if (st.length === 0) return undefined;
  return {
    title: "Cold start and peak memory: MiniLM-L6, seq 128, batch 1",
    subtitle: source,
    series: seriesFor(st),
    panels: [
      {
        kind: "bars",
        title: "Cold start: fresh process, import → first result (ms)",
        groups: dtypeGroups(
          st,
          () => true,
          (r) => r.cold_ms as number,
          ms,
        ),
      },
      {
        kind: "bars",
        title: "Peak resident memory after load + one pass (MiB, Node's own included)",
        groups: dtypeGroups(
          st,
          () => true,
          (r) => r.peak_mb as number,
          (v) => `${v.toFixed(0)} MiB`,
        ),
      },
    ],
  };
}

export function e2eChart(rows: Row[], source: string): Chart | undefined {
  const e = rows.filter((r) => r.part === "e2e");
  if (e.length === 0) return undefined;
  const batches = [...new Set(e.map((r) => r.batch as number))].sort((a, b) => a - b);
  return {
    title: "End to end: text → mean-pooled embedding, MiniLM-L6, one thread",
    subtitle: source,
    series: seriesFor(e),
    panels: batches.map((b) => ({
      kind: "bars" as const,
      title: `batch ${b}: median ms, tokenization included`,
      groups: dtypeGroups(
        e,
        (r) => r.batch === b,
        (r) => r.ms as number,
        ms,
      ),
    })),
  };
}
