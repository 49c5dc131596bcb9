// The benchmark chart writer (bench/svg.ts) and what the charts show (bench/chart-specs.ts): bars scale
// with their values, every bar has a tooltip, text is escaped, bad input is refused; the per-model chart
// picks seq 128 × batch 1, orders engines, and its small multiples are ratios to onnxruntime-web.
import { describe, expect, it } from "vitest";
import { e2eChart, enginesChart, modelChart } from "../bench/chart-specs.ts";
import type { Row } from "../bench/report.ts";
import { type Chart, ChartError, niceTicks, renderChart } from "../bench/svg.ts";

const series = [
  { key: "a", label: "engine A", color: "#111111" },
  { key: "b", label: "engine <B> & co", color: "#222222" },
];

function barRects(svg: string, color: string): { width: number; height: number }[] {
  const re = new RegExp(
    `<rect x="[^"]+" y="[^"]+" width="([^"]+)" height="([^"]+)" fill="${color}"><title>`,
    "g",
  );
  return [...svg.matchAll(re)].map((m) => ({ width: Number(m[1]), height: Number(m[2]) }));
}

describe("renderChart", () => {
  const chart: Chart = {
    title: "Speed & size <test>",
    subtitle: "sub",
    series,
    panels: [
      {
        kind: "bars",
        title: "ms",
        groups: [
          {
            label: "f32",
            bars: [
              { series: "a", value: 10 },
              { series: "b", value: 40 },
            ],
          },
          { label: "int8", bars: [{ series: "a", value: 20 }] },
        ],
      },
    ],
  };

  it("draws one bar per value, widths proportional to the values, with a title and tooltips", () => {
    const svg = renderChart(chart);
    expect(svg.startsWith("<svg xmlns=")).toBe(true);
    expect(svg).toContain("<title>Speed &amp; size &lt;test&gt; — sub</title>");
    const a = barRects(svg, "#111111");
    const b = barRects(svg, "#222222");
    expect(a).toHaveLength(2);
    expect(b).toHaveLength(1);
    expect(a[1].width / a[0].width).toBeCloseTo(2, 2);
    expect(b[0].width / a[0].width).toBeCloseTo(4, 2);
    expect(svg).toContain("engine &lt;B&gt; &amp; co"); // legend and bar label escaped
    expect(svg).not.toContain("<B>");
    expect(svg.match(/<title>/g)?.length).toBe(1 + 3);
  });

  it("draws small multiples on one shared scale with the reference line", () => {
    const svg = renderChart({
      title: "grid",
      series,
      panels: [
        {
          kind: "grid",
          title: "ratio",
          columns: 2,
          reference: { value: 1, label: "ref = 1" },
          cells: [
            { title: "c1", groups: [{ label: "f32", bars: [{ series: "a", value: 0.5 }] }] },
            { title: "c2", groups: [{ label: "f32", bars: [{ series: "a", value: 1.5 }] }] },
          ],
        },
      ],
    });
    const [h1, h2] = barRects(svg, "#111111").map((r) => r.height);
    expect(h2 / h1).toBeCloseTo(3, 2);
    expect(svg.match(/stroke-dasharray/g)).toHaveLength(2);
    expect(svg).toContain("ref = 1");
  });

  it("refuses bad values, unknown series and empty charts", () => {
    const bad = (value: number, key = "a"): Chart => ({
      title: "t",
      series,
      panels: [{ kind: "bars", title: "p", groups: [{ label: "g", bars: [{ series: key, value }] }] }],
    });
    expect(() => renderChart(bad(Number.NaN))).toThrow(ChartError);
    expect(() => renderChart(bad(-1))).toThrow(/value -1/);
    expect(() => renderChart(bad(1, "zzz"))).toThrow(/"zzz" is not in the legend/);
    expect(() => renderChart({ title: "t", series, panels: [] })).toThrow(/no panels/);
  });

  it("niceTicks covers the maximum with 1-2-5 steps", () => {
    expect(niceTicks(111)).toEqual([0, 50, 100, 150]);
    expect(niceTicks(0.957)).toEqual([0, 0.5, 1]);
    expect(niceTicks(8)).toEqual([0, 2, 4, 6, 8]);
  });
});

function row(engine: string, dtype: string, seq: number, batch: number, ms: number, part = "encoder"): Row {
  return { model: "m", part, engine, dtype, seq, batch, ms };
}

describe("chart specs", () => {
  const rows: Row[] = [];
  for (const dtype of ["f32", "int8"])
    for (const [seq, batch] of [
      [16, 1],
      [128, 1],
      [128, 8],
    ])
      for (const [engine, f] of [
        ["ort-node", 0.3],
        ["edgeformer-simd", 0.7],
        ["ort-web", 1],
      ] as const)
        rows.push(row(engine, dtype, seq, batch, f * seq * batch * (dtype === "f32" ? 2 : 1)));

  it("models: bars at seq 128 × batch 1 in engine order, grid of ratios to onnxruntime-web", () => {
    const c = modelChart("m", rows, "src")!;
    expect(c.series.map((s) => s.key)).toEqual(["edgeformer-simd", "ort-web", "ort-node"]);
    const bars = c.panels[0];
    expect(bars.kind).toBe("bars");
    if (bars.kind !== "bars") return;
    expect(bars.title).toContain("seq 128 × batch 1");
    expect(bars.groups.map((g) => g.label)).toEqual(["f32", "int8"]);
    expect(bars.groups[0].bars.map((b) => [b.series, b.value])).toEqual([
      ["edgeformer-simd", 0.7 * 256],
      ["ort-web", 256],
      ["ort-node", 0.3 * 256],
    ]);
    const grid = c.panels[1];
    expect(grid.kind).toBe("grid");
    if (grid.kind !== "grid") return;
    expect(grid.columns).toBe(2); // seqs 16, 128; batches 1, 8
    expect(grid.cells.map((x) => x.title)).toEqual([
      "seq 16 × batch 1",
      "seq 128 × batch 1",
      "seq 16 × batch 8: not measured",
      "seq 128 × batch 8",
    ]);
    const cell = grid.cells[3];
    expect(cell.groups[1].bars.map((b) => [b.series, Number(b.value.toFixed(6))])).toEqual([
      ["edgeformer-simd", 0.7],
      ["ort-node", 0.3],
    ]);
    expect(cell.groups[1].bars[0].tooltip).toContain("0.70× of onnxruntime-web");
    expect(renderChart(c)).toContain("<title>");
    expect(modelChart("other", rows, "src")).toBeUndefined();
  });

  it("T5: a decoding panel when decode rows exist", () => {
    const t5 = [
      ...rows,
      row("edgeformer-simd", "int8", 41, 1, 2.3, "decode ms/token"),
      row("ort-web", "int8", 41, 1, 8.5, "decode ms/token"),
    ];
    const c = modelChart("m", t5, "src")!;
    expect(c.panels.map((p) => p.kind)).toEqual(["bars", "bars", "grid"]);
    const dec = c.panels[1];
    if (dec.kind !== "bars") throw new Error("expected bars");
    expect(dec.groups.map((g) => [g.label, g.bars.map((b) => b.value)])).toEqual([["int8", [2.3, 8.5]]]);
  });

  it("engines and e2e charts only from measured rows", () => {
    expect(enginesChart(rows, "src")).toBeUndefined();
    expect(e2eChart(rows, "src")).toBeUndefined();
    const st: Row[] = [
      { ...row("edgeformer-simd", "f32", 128, 1, 70, "startup"), cold_ms: 300, peak_mb: 200 },
      { ...row("ort-web", "f32", 128, 1, 300, "startup"), cold_ms: 2000, peak_mb: 390 },
    ];
    const e = enginesChart(st, "src")!;
    expect(e.panels).toHaveLength(2);
    const cold = e.panels[0];
    if (cold.kind !== "bars") throw new Error("expected bars");
    expect(cold.groups[0].bars.map((b) => b.value)).toEqual([300, 2000]);
    const x = e2eChart(
      [
        row("edgeformer-simd", "f32", 20, 1, 12, "e2e"),
        row("transformers.js-wasm", "int8", 41, 8, 400, "e2e"),
      ],
      "src",
    )!;
    expect(x.panels.map((p) => p.title)).toEqual([
      "batch 1: median ms, tokenization included",
      "batch 8: median ms, tokenization included",
    ]);
  });
});

describe("legend", () => {
  it("wraps to a second line when the labels do not fit the width", () => {
    const long = Array.from({ length: 4 }, (_, i) => ({
      key: `s${i}`,
      label: `a long series label number ${i}`,
      color: `#00000${i}`,
    }));
    const svg = renderChart({
      title: "t",
      series: long,
      width: 400,
      panels: [{ kind: "bars", title: "p", groups: [{ label: "g", bars: [{ series: "s0", value: 1 }] }] }],
    });
    const ys = [...svg.matchAll(/<rect x="(\d+(?:\.\d+)?)" y="(\d+)" width="12" height="12"/g)].map((m) => [
      Number(m[1]),
      Number(m[2]),
    ]);
    expect(ys).toHaveLength(4);
    expect(new Set(ys.map(([, y]) => y)).size).toBeGreaterThan(1);
    for (const [x] of ys) expect(x).toBeLessThan(400);
  });
});
