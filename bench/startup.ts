// Cold start, peak memory and engine sizes on their own (npm run bench:models runs them too):
//   node bench/run.mjs startup [--quick] [--repeats N] [--sizes-only] [--md FILE] [--json FILE]
// --quick: one child per engine × dtype, nothing written unless --md; --sizes-only: only the file sizes
// (no processes timed; the section then says cold start was not measured, and bench/results/ is left
// alone). Rewrites the engines section of BENCHMARKS.md (full runs) and bench/results/engines.json.
import { writeFileSync } from "node:fs";
import { engineSizes, enginesSection, measureStartup } from "./engines.ts";
import { ArgError, flagValue } from "./grid.ts";
import { markdownTarget, type Row, table, today, writeResults, writeSection } from "./report.ts";

async function main(argv: string[]) {
  const quick = argv.includes("--quick");
  const sizesOnly = argv.includes("--sizes-only");
  const repeats = Number(flagValue(argv, "repeats") ?? (quick ? 1 : 3));
  if (!Number.isInteger(repeats) || repeats < 1) throw new ArgError("--repeats must be a positive integer");
  const sizes = await engineSizes();
  console.log(table(sizes as unknown as Row[], ["engine", "file", "bytes", "gzip_bytes", "note"]));
  let startup: Row[] | undefined;
  if (!sizesOnly) {
    startup = await measureStartup({ repeats, progress: (m) => console.error(m) });
    console.log(
      `\n${table(startup, ["engine", "dtype", "cold_ms", "import_ms", "load_ms", "ms", "peak_mb", "base_mb", "runs"])}`,
    );
  }
  const md = markdownTarget(quick, flagValue(argv, "md"));
  if (md) {
    // --sizes-only keeps no cold-start numbers from an earlier run: those would not be from the same run
    writeSection(md, "engines", enginesSection(startup, sizes, today()));
    console.error(`wrote the engines section of ${md}`);
  }
  if (!quick && startup) writeResults("engines", startup, { sizes });
  const json = flagValue(argv, "json");
  if (json) writeFileSync(json, JSON.stringify(startup ?? [], null, 2));
}

try {
  await main(process.argv.slice(2));
} catch (e) {
  if (e instanceof ArgError) {
    console.error(e.message);
    process.exit(2);
  }
  throw e;
}
