// Writing benchmark results: a plain-text table for the terminal, a Markdown section of BENCHMARKS.md
// (between <!-- NAME:begin --> and <!-- NAME:end --> markers, so each benchmark owns its section), and
// JSON rows for --json FILE.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";

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
