// Writing benchmark results: a plain-text table for the terminal, a Markdown section of BENCHMARKS.md
// (between <!-- NAME:begin --> and <!-- NAME:end --> markers, so each benchmark owns its section), JSON
// rows for --json FILE, and bench/results/NAME.json (date, machine, rows: what bench/charts.ts draws).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export type Row = Record<string, string | number>;

export function table(rows: Row[], columns: string[]): string {
  const cells = rows.map((r) => columns.map((c) => fmt(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padStart(widths[i])).join("  ");
  return [line(columns), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}

export function markdownTable(rows: Row[], columns: string[]): string {
  const head = `| ${columns.join(" | ")} |\n| ${columns.map(() => "---").join(" | ")} |`;
  return [head, ...rows.map((r) => `| ${columns.map((c) => fmt(r[c])).join(" | ")} |`)].join("\n");
}

function fmt(v: string | number | undefined): string {
  if (v === undefined) return "";
  if (typeof v === "number")
    return Number.isInteger(v) ? String(v) : v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2);
  return v;
}

export function machineLine(): string {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  return `${cpu}, ${cpus().length} cores, Node ${process.versions.node}, one thread`;
}

export function writeSection(file: string, name: string, body: string): void {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${begin}\n${body.trim()}\n${end}`;
  let text = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmarks\n";
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  text =
    i >= 0 && j > i
      ? text.slice(0, i) + block + text.slice(j + end.length)
      : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, text);
}

export function jsonArg(argv: string[]): string | undefined {
  const i = argv.indexOf("--json");
  return i >= 0 ? argv[i + 1] : undefined;
}

export const BENCHMARKS_MD = fileURLToPath(new URL("../BENCHMARKS.md", import.meta.url));
export const RESULTS_DIR = fileURLToPath(new URL("./results/", import.meta.url));

/** Today's date, YYYY-MM-DD (UTC). */
export function today(): string {
  return new Date().toISOString().slice(0, 10);
}

export interface Results {
  date: string;
  machine: string;
  rows: Row[];
  [extra: string]: unknown;
}

/** Writes bench/results/<name>.json: the rows of one full benchmark run, with its date and machine. */
export function writeResults(name: string, rows: Row[], extra: Record<string, unknown> = {}): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${name}.json`);
  const data: Results = { date: today(), machine: machineLine(), ...extra, rows };
  writeFileSync(file, `${JSON.stringify(data, null, 1)}\n`);
  return file;
}

export function readResults(name: string): Results | undefined {
  const file = join(RESULTS_DIR, `${name}.json`);
  if (!existsSync(file)) return undefined;
  const data = JSON.parse(readFileSync(file, "utf8")) as Results;
  if (!Array.isArray(data.rows)) throw new Error(`${file}: no rows array`);
  return data;
}

/**
 * Where a run writes its Markdown: --md FILE if given, else BENCHMARKS.md for full runs and nowhere for
 * --quick runs (their numbers mean nothing).
 */
export function markdownTarget(quick: boolean, md: string | undefined): string | undefined {
  return md ?? (quick ? undefined : BENCHMARKS_MD);
}

/** The rows of the first Markdown table after `heading` inside section `name` of a file written by writeSection. */
export function readSectionTable(file: string, name: string, heading: string): Row[] | undefined {
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, "utf8");
  const i = text.indexOf(`<!-- ${name}:begin -->`);
  const j = text.indexOf(`<!-- ${name}:end -->`);
  if (i < 0 || j < i) return undefined;
  const section = text.slice(i, j);
  const h = section.indexOf(`\n${heading}\n`);
  if (h < 0) return undefined;
  const lines = section
    .slice(h + heading.length + 2)
    .split("\n")
    .map((l) => l.trim());
  const start = lines.findIndex((l) => l.startsWith("|"));
  if (start < 0) return undefined;
  const table: string[] = [];
  for (const l of lines.slice(start)) {
    if (!l.startsWith("|")) break;
    table.push(l);
  }
  const cells = (l: string) =>
    l
      .slice(1, l.endsWith("|") ? -1 : undefined)
      .split("|")
      .map((c) => c.trim());
  const head = cells(table[0]);
  return table.slice(2).map((l) => {
    const row: Row = {};
    cells(l).forEach((c, k) => {
      if (c !== "" && head[k]) row[head[k]] = /^-?\d+(\.\d+)?$/.test(c) ? Number(c) : c;
    });
    return row;
  });
}
