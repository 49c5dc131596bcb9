// Benchmark plumbing that decides what is measured and how often: the grid options of bench:models
// (bench/grid.ts), the token ids every engine sees, the per-cell timing rule (bench/timing.ts) and the
// Markdown tables the charts can fall back to (bench/report.ts).
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ArgError, benchIds, parseGridArgs } from "../bench/grid.ts";
import { markdownTable, type Row, readSectionTable, writeSection } from "../bench/report.ts";
import { type CellPolicy, cellPolicy, FULL_CELL, moreRuns, QUICK_CELL, timeCell } from "../bench/timing.ts";

describe("parseGridArgs", () => {
  it("defaults to every model and seq 16/128/512 × batch 1/8", () => {
    const o = parseGridArgs([]);
    expect(o.models).toEqual(["bert-minilm-l6", "bert-base", "t5-small"]);
    expect(o.shapes).toEqual([
      [16, 1],
      [16, 8],
      [128, 1],
      [128, 8],
      [512, 1],
      [512, 8],
    ]);
    expect(o.quick).toBe(false);
    expect(o.startup).toBe(true);
  });

  it("reads --seqs, --batches, --models, --quick, --no-startup, --json, --md", () => {
    const o = parseGridArgs(
      "--seqs 128,16 --batches 8 --models t5-small --quick --no-startup --json r.json --md x.md".split(" "),
    );
    expect(o.shapes).toEqual([
      [16, 8],
      [128, 8],
    ]);
    expect(o).toMatchObject({
      models: ["t5-small"],
      quick: true,
      startup: false,
      json: "r.json",
      md: "x.md",
    });
  });

  it("rejects bad lists with a clear message", () => {
    expect(() => parseGridArgs(["--seqs", "16,abc"])).toThrow(/"abc" is not a positive integer/);
    expect(() => parseGridArgs(["--seqs", "0"])).toThrow(/outside 1…512/);
    expect(() => parseGridArgs(["--seqs", "1024"])).toThrow(/outside 1…512/);
    expect(() => parseGridArgs(["--batches", "8,8"])).toThrow(/listed twice/);
    expect(() => parseGridArgs(["--models", "gpt2"])).toThrow(/unknown model "gpt2"/);
    expect(() => parseGridArgs(["--seqs"])).toThrow(ArgError);
    expect(() => parseGridArgs(["--json", "--quick"])).toThrow(/--json needs a value/);
  });
});

describe("benchIds", () => {
  it("BERT rows are [CLS] … [SEP], T5 rows end with </s>, all inside the vocabulary, rows differ", () => {
    const b = benchIds("bert", 30522, 16, 3);
    expect(b).toHaveLength(3);
    for (const r of b) {
      expect(r).toHaveLength(16);
      expect(r[0]).toBe(101);
      expect(r[15]).toBe(102);
      for (const id of r.slice(1, -1)) expect(id >= 1000 && id < 30522).toBe(true);
    }
    expect(b[0]).not.toEqual(b[1]);
    const t = benchIds("t5", 32128, 8, 1)[0];
    expect(t[7]).toBe(1);
    expect(t[0]).toBeGreaterThanOrEqual(1000);
    expect(benchIds("bert", 30522, 16, 2)).toEqual(benchIds("bert", 30522, 16, 2)); // deterministic
    expect(() => benchIds("bert", 100, 4, 1)).toThrow(/too small/);
  });
});

describe("cell timing", () => {
  it("moreRuns: at least one run; stop at maxRuns once minMs passed, or at the budget", () => {
    const p: CellPolicy = { ...FULL_CELL };
    expect(moreRuns(p, 0, 5000)).toBe(true);
    expect(moreRuns(p, 1, 2000)).toBe(false); // budget spent
    expect(moreRuns(p, 9, 600)).toBe(true);
    expect(moreRuns(p, 10, 600)).toBe(false);
    expect(moreRuns(p, 10, 100)).toBe(true); // fast cell: keep going to minMs
    expect(moreRuns(QUICK_CELL, 1, 0)).toBe(false);
  });

  it("cellPolicy: long warm-up for a fresh engine, none after a cell longer than the budget", () => {
    expect(cellPolicy(FULL_CELL, { first: true }).warmupMs).toBe(1000);
    expect(cellPolicy(FULL_CELL, { first: false, lastRunMs: 100 })).toEqual(FULL_CELL);
    expect(cellPolicy(FULL_CELL, { first: false, lastRunMs: 5000 })).toMatchObject({
      warmupRuns: 0,
      warmupMs: 0,
    });
    expect(cellPolicy(QUICK_CELL, { first: true }).warmupMs).toBe(0);
  });

  it("timeCell runs warm-up then timed runs and reports their median", () => {
    let calls = 0;
    const t = timeCell(
      () => {
        calls++;
      },
      { warmupRuns: 2, warmupMs: 0, firstWarmupMs: 0, maxRuns: 3, minMs: 0, budgetMs: 60_000 },
    );
    expect(calls).toBe(5);
    expect(t.runs).toBe(3);
    calls = 0;
    expect(timeCell(() => calls++, QUICK_CELL).runs).toBe(1);
    expect(calls).toBe(2);
    expect(() => timeCell(() => {}, { ...QUICK_CELL, maxRuns: 0 })).toThrow(/bad cell policy/);
  });
});

describe("Markdown tables", () => {
  it("readSectionTable reads back what writeSection wrote", () => {
    const file = join(mkdtempSync(join(tmpdir(), "bench-md-")), "B.md");
    writeFileSync(
      file,
      "# Benchmarks\n\n<!-- other:begin -->\n### All rows\n\n| x |\n| --- |\n| 9 |\n<!-- other:end -->\n",
    );
    const rows: Row[] = [
      { model: "m", engine: "ort-web", seq: 16, ms: 14.2, ids_match: "yes" },
      { model: "m", engine: "ours", seq: 128, ms: 622 },
    ];
    writeSection(
      file,
      "models",
      `## Models\n\nintro\n\n### All rows\n\n${markdownTable(rows, ["model", "engine", "seq", "ms", "ids_match"])}\n`,
    );
    expect(readSectionTable(file, "models", "### All rows")).toEqual(rows);
    expect(readSectionTable(file, "other", "### All rows")).toEqual([{ x: 9 }]);
    expect(readSectionTable(file, "missing", "### All rows")).toBeUndefined();
    expect(readFileSync(file, "utf8")).toContain("<!-- models:end -->");
  });
});
