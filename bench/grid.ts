// The whole-model benchmark grid: which models, sequence lengths and batch sizes to measure (from the
// command line: --models a,b --seqs 16,128,512 --batches 1,8 --quick), and the token ids every engine
// sees for one cell. Pure: no I/O, so the parsing is unit-tested (test/bench-grid.test.ts).

export const GRID_MODELS = ["bert-minilm-l6", "bert-base", "t5-small"] as const;
export type GridModel = (typeof GRID_MODELS)[number];
export const DEFAULT_SEQS = [16, 128, 512];
export const DEFAULT_BATCHES = [1, 8];

export interface GridOptions {
  models: GridModel[];
  /** [seq, batch] cells in the order they run: seq ascending, then batch ascending */
  shapes: [number, number][];
  /** tiny iteration counts; results are not written to BENCHMARKS.md or bench/results/ */
  quick: boolean;
  /** --json FILE: the rows as JSON */
  json?: string;
  /** --md FILE: where to write the Markdown sections (default BENCHMARKS.md; none for --quick) */
  md?: string;
  /** --no-startup: skip the cold-start / peak-memory children */
  startup: boolean;
}

export class ArgError extends Error {
  override name = "ArgError";
}

/** The value after --name (undefined when the flag is absent; an error when it has no value). */
export function flagValue(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = argv[i + 1];
  if (v === undefined || v.startsWith("--")) throw new ArgError(`--${name} needs a value`);
  return v;
}

/** "16,128,512" → [16, 128, 512]: positive integers up to max, no duplicates, sorted ascending. */
export function parseIntList(text: string, what: string, max: number): number[] {
  const parts = text.split(",").map((s) => s.trim());
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d+$/.test(p)) throw new ArgError(`${what}: ${JSON.stringify(p)} is not a positive integer`);
    const n = Number(p);
    if (n < 1 || n > max) throw new ArgError(`${what}: ${n} is outside 1…${max}`);
    if (out.includes(n)) throw new ArgError(`${what}: ${n} is listed twice`);
    out.push(n);
  }
  return out.sort((a, b) => a - b);
}

export function parseModels(text: string): GridModel[] {
  const names = text.split(",").map((s) => s.trim());
  for (const n of names)
    if (!(GRID_MODELS as readonly string[]).includes(n))
      throw new ArgError(`--models: unknown model ${JSON.stringify(n)} (expected ${GRID_MODELS.join(", ")})`);
  return names as GridModel[];
}

/** Reads the grid options; defaults: every model, seqs 16,128,512, batches 1,8. */
export function parseGridArgs(argv: readonly string[]): GridOptions {
  const seqs = parseIntList(flagValue(argv, "seqs") ?? DEFAULT_SEQS.join(","), "--seqs", 512);
  const batches = parseIntList(flagValue(argv, "batches") ?? DEFAULT_BATCHES.join(","), "--batches", 64);
  const models = parseModels(flagValue(argv, "models") ?? GRID_MODELS.join(","));
  const shapes: [number, number][] = [];
  for (const s of seqs) for (const b of batches) shapes.push([s, b]);
  return {
    models,
    shapes,
    quick: argv.includes("--quick"),
    json: flagValue(argv, "json"),
    md: flagValue(argv, "md"),
    startup: !argv.includes("--no-startup"),
  };
}

/**
 * Deterministic token ids [batch][seq] inside the vocabulary: BERT rows are [CLS] … [SEP] (101, 102),
 * T5 rows end with </s> (1). Content does not change the speed; rows differ so batches are not copies.
 */
export function benchIds(kind: "bert" | "t5", vocab: number, seq: number, batch: number): number[][] {
  if (vocab < 2000) throw new RangeError(`vocabulary of ${vocab} is too small for the benchmark ids`);
  return Array.from({ length: batch }, (_, b) =>
    Array.from({ length: seq }, (_, t) => {
      if (kind === "bert" && t === 0) return 101;
      if (t === seq - 1 && seq > 1) return kind === "bert" ? 102 : 1;
      return 1000 + ((t * 7919 + b * 104729) % (vocab - 1000));
    }),
  );
}
