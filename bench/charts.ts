// Charts for BENCHMARKS.md (npm run bench:charts; the last step of npm run bench): one SVG per model
// plus cold start / peak memory and end-to-end charts when those were measured (what each shows:
// bench/chart-specs.ts; drawing: bench/svg.ts). Reads
// bench/results/{models,engines,e2e}.json (written by full runs); without models.json it falls back to
// the "All rows" table of the models section of BENCHMARKS.md. Writes bench/charts/*.svg and the charts
// section of BENCHMARKS.md (or --md FILE; --out DIR for the SVGs).
import { mkdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { e2eChart, enginesChart, MODEL_TITLES, modelChart } from "./chart-specs.ts";
import { ArgError, flagValue } from "./grid.ts";
import { BENCHMARKS_MD, type Row, readResults, readSectionTable, writeSection } from "./report.ts";
import { type Chart, renderChart } from "./svg.ts";

function main(argv: string[]) {
  const md = flagValue(argv, "md") ?? BENCHMARKS_MD;
  const outDir = flagValue(argv, "out") ?? fileURLToPath(new URL("./charts/", import.meta.url));
  mkdirSync(outDir, { recursive: true });
  const charts: { name: string; title: string; chart: Chart }[] = [];
  const models = readResults("models");
  let modelRows: Row[];
  let modelSource: string;
  if (models) {
    modelRows = models.rows;
    modelSource = `bench/results/models.json, ${models.date}; ${models.machine}`;
  } else {
    modelRows = readSectionTable(BENCHMARKS_MD, "models", "### All rows") ?? [];
    modelSource = "the models section of BENCHMARKS.md (All rows)";
  }
  for (const model of Object.keys(MODEL_TITLES)) {
    const c = modelChart(model, modelRows, modelSource);
    if (c) charts.push({ name: model, title: MODEL_TITLES[model], chart: c });
  }
  const engines = readResults("engines");
  const ec =
    engines && enginesChart(engines.rows, `bench/results/engines.json, ${engines.date}; ${engines.machine}`);
  if (ec) charts.push({ name: "engines", title: "Cold start and peak memory", chart: ec });
  const e2e = readResults("e2e");
  const xc = e2e && e2eChart(e2e.rows, `bench/results/e2e.json, ${e2e.date}; ${e2e.machine}`);
  if (xc) charts.push({ name: "e2e", title: "End to end", chart: xc });
  if (charts.length === 0) throw new Error("no benchmark results to chart (run npm run bench first)");
  const mdDir = join(md, "..");
  const links: string[] = [];
  for (const c of charts) {
    const file = join(outDir, `${c.name}.svg`);
    writeFileSync(file, renderChart(c.chart));
    console.error(`wrote ${file}`);
    links.push(`### ${c.title}`, "", `![${c.chart.title}](${relative(mdDir, file)})`, "");
  }
  const missing = [!ec && "cold start and peak memory", !xc && "end to end"].filter(Boolean);
  writeSection(
    md,
    "charts",
    [
      "## Charts (`npm run bench:charts`)",
      "",
      models
        ? "Drawn by bench/charts.ts from the results of the last full run (bench/results/*.json; each chart"
        : "Drawn by bench/charts.ts from the All rows table of the models section below (bench/results/ holds",
      models
        ? "names its source); hover over a bar for its exact value."
        : "no full run yet); hover over a bar for its exact value.",
      missing.length ? `Not yet measured on a quiet machine, so not charted: ${missing.join(", ")}.` : "",
      "",
      ...links,
    ].join("\n"),
  );
  console.error(`wrote the charts section of ${md}`);
}

try {
  main(process.argv.slice(2));
} catch (e) {
  if (e instanceof ArgError) {
    console.error(e.message);
    process.exit(2);
  }
  throw e;
}
