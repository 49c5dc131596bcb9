// T5 multi-task mixing (src/train/t5data/mixing.ts, node.ts): the rates exactly per the formulas
// (examples-proportional with limit K, temperature-scaled, equal) for several K and T; the sampler's
// task frequencies within binomial bounds (5 standard errors) for each strategy, K and T; each task read
// through in a shuffled order per epoch; determinism and resuming; tasks.json and JSONL parsing and
// loading from disk.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  equalRates,
  type MixingOptions,
  MixtureSampler,
  mixingRates,
  parseJsonlExamples,
  parseTasksJson,
  proportionalRates,
  type Task,
  temperatureRates,
  withPrefix,
} from "../../src/train/t5data/index.ts";
import { loadTasksFile } from "../../src/train/t5data/node.ts";

const SIZES = [120, 3000, 45000, 800000, 7];
const LIMITS = [Number.POSITIVE_INFINITY, 2 ** 21, 2 ** 16, 5000, 100, 1];
const TEMPERATURES = [1, 2, 3.5, 8, 1e6];

function expectBinomial(k: number, n: number, p: number, sigmas = 5): void {
  const sd = Math.sqrt(n * p * (1 - p));
  expect(Math.abs(k - n * p), `${k}/${n} vs p = ${p} (sd ${sd.toFixed(1)})`).toBeLessThanOrEqual(sigmas * sd);
}

function tasksOfSizes(sizes: readonly number[]): Task[] {
  return sizes.map((n, t) => ({
    name: `task${t}`,
    prefix: `t${t}:`,
    examples: Array.from({ length: n }, (_, i) => ({ input: `in ${t}.${i}`, target: `out ${t}.${i}` })),
  }));
}

describe("mixing rates", () => {
  it("examples-proportional: r_m = min(e_m, K) / Σ min(e_n, K)", () => {
    for (const K of LIMITS) {
      const rates = proportionalRates(SIZES, K);
      const capped = SIZES.map((e) => Math.min(e, K));
      const total = capped.reduce((a, b) => a + b, 0);
      rates.forEach((r, m) => {
        expect(r).toBeCloseTo(capped[m] / total, 14);
      });
      expect(rates.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14);
      expect(mixingRates(SIZES, { strategy: "proportional", limit: K })).toEqual(rates);
    }
    expect(proportionalRates([1, 3])).toEqual([0.25, 0.75]);
    expect(proportionalRates([10, 30, 1000], 20)).toEqual([10 / 50, 20 / 50, 20 / 50]);
    // K below every size: equal mixing.
    expect(proportionalRates(SIZES, 1)).toEqual(SIZES.map(() => 1 / SIZES.length));
  });

  it("temperature-scaled: r_m ∝ min(e_m, K)^(1/T)", () => {
    for (const K of LIMITS) {
      for (const T of TEMPERATURES) {
        const rates = temperatureRates(SIZES, T, K);
        const w = SIZES.map((e) => Math.min(e, K) ** (1 / T));
        const total = w.reduce((a, b) => a + b, 0);
        rates.forEach((r, m) => {
          expect(r).toBeCloseTo(w[m] / total, 14);
        });
        expect(rates.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14);
        expect(mixingRates(SIZES, { strategy: "temperature", limit: K, temperature: T })).toEqual(rates);
      }
      // T = 1 is examples-proportional; a huge T approaches equal mixing.
      temperatureRates(SIZES, 1, K).forEach((r, m) => {
        expect(r).toBeCloseTo(proportionalRates(SIZES, K)[m], 14);
      });
      temperatureRates(SIZES, 1e9, K).forEach((r) => {
        expect(r).toBeCloseTo(1 / SIZES.length, 6);
      });
    }
    expect(temperatureRates([1, 4], 2)).toEqual([1 / 3, 2 / 3]);
    expect(temperatureRates([1, 9, 100], 2, 16)).toEqual([1 / 8, 3 / 8, 4 / 8]);
  });

  it("equal: r_m = 1 / M; empty tasks get 0 under every strategy", () => {
    expect(equalRates(SIZES)).toEqual(SIZES.map(() => 0.2));
    expect(mixingRates(SIZES, { strategy: "equal", limit: 3 })).toEqual(SIZES.map(() => 0.2));
    expect(equalRates([5, 0, 9, 1])).toEqual([1 / 3, 0, 1 / 3, 1 / 3]);
    expect(proportionalRates([5, 0, 15])).toEqual([0.25, 0, 0.75]);
    expect(temperatureRates([4, 0, 16], 2)).toEqual([1 / 3, 0, 2 / 3]);
  });

  it("rejects bad sizes, limits and temperatures", () => {
    expect(() => proportionalRates([])).toThrow(/no tasks/);
    expect(() => proportionalRates([0, 0])).toThrow(/empty/);
    expect(() => proportionalRates([1.5])).toThrow(RangeError);
    expect(() => proportionalRates([-1, 3])).toThrow(RangeError);
    expect(() => proportionalRates([1], 0)).toThrow(/limit/);
    expect(() => temperatureRates([1], 0)).toThrow(/temperature/);
    expect(() => temperatureRates([1], Number.POSITIVE_INFINITY)).toThrow(/temperature/);
    expect(() => mixingRates([1], { strategy: "nope" as "equal" })).toThrow(/unknown strategy/);
  });
});

describe("mixture sampler", () => {
  const configs: MixingOptions[] = [{ strategy: "equal" }];
  for (const limit of [undefined, 50000, 2000, 50]) {
    configs.push({ strategy: "proportional", limit });
    for (const temperature of [1, 2, 5]) configs.push({ strategy: "temperature", limit, temperature });
  }
  const tasks = tasksOfSizes(SIZES.map((e) => Math.min(e, 200_000)));

  it("draws tasks at their rates (5σ binomial bounds) for every strategy, K and T", () => {
    const N = 20000;
    for (const [c, options] of configs.entries()) {
      const sampler = new MixtureSampler(tasks, { ...options, seed: 1000 + c });
      expect(sampler.rates).toEqual(
        mixingRates(
          tasks.map((t) => t.examples.length),
          options,
        ),
      );
      const counts = new Array(tasks.length).fill(0);
      for (let i = 0; i < N; i++) counts[sampler.next().taskIndex]++;
      sampler.rates.forEach((r, m) => {
        expectBinomial(counts[m], N, r);
      });
    }
  });

  it("never draws an empty task", () => {
    const sampler = new MixtureSampler(tasksOfSizes([3, 0, 5, 0]), { strategy: "equal", seed: 1 });
    expect(sampler.rates).toEqual([0.5, 0, 0.5, 0]);
    const seen = new Set(sampler.take(2000).map((e) => e.taskIndex));
    expect([...seen].sort()).toEqual([0, 2]);
  });

  it("reads each task through in a shuffled order, reshuffled every epoch", () => {
    const small = tasksOfSizes([13, 29]);
    const sampler = new MixtureSampler(small, { strategy: "equal", seed: 9 });
    const byTask: number[][] = [[], []];
    for (const ex of sampler.take(600)) {
      byTask[ex.taskIndex].push(ex.index);
      const source = small[ex.taskIndex].examples[ex.index];
      expect(ex.task).toBe(`task${ex.taskIndex}`);
      expect(ex.input).toBe(`t${ex.taskIndex}: ${source.input}`);
      expect(ex.target).toBe(source.target);
    }
    for (const [t, seq] of byTask.entries()) {
      const n = small[t].examples.length;
      const epochs: string[] = [];
      for (let e = 0; (e + 1) * n <= seq.length; e++) {
        const epoch = seq.slice(e * n, (e + 1) * n);
        expect([...epoch].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
        epochs.push(epoch.join(","));
      }
      expect(epochs.length).toBeGreaterThan(3);
      expect(new Set(epochs).size).toBe(epochs.length);
      expect(epochs[0]).not.toBe(Array.from({ length: n }, (_, i) => i).join(","));
    }
  });

  it("is deterministic for a seed and resumes from its state", () => {
    const opts = { strategy: "temperature" as const, temperature: 2, seed: 77 };
    const a = new MixtureSampler(tasks, opts).take(500);
    expect(new MixtureSampler(tasks, opts).take(500)).toEqual(a);
    expect(new MixtureSampler(tasks, { ...opts, seed: 78 }).take(500)).not.toEqual(a);
    const first = new MixtureSampler(tasks, opts);
    first.take(321);
    const state = first.state;
    expect(state.step).toBe(321);
    expect(state.read.reduce((x, y) => x + y, 0)).toBe(321);
    const resumed = new MixtureSampler(tasks, opts, JSON.parse(JSON.stringify(state)));
    expect(resumed.take(179)).toEqual(a.slice(321));
    expect(() => new MixtureSampler(tasks, opts, { step: 0, read: [0] })).toThrow(/state/);
  });

  it("joins prefix and input with a space unless the prefix ends with whitespace", () => {
    expect(withPrefix("sst2 sentence:", "it was great")).toBe("sst2 sentence: it was great");
    expect(withPrefix("summarize: ", "text")).toBe("summarize: text");
    expect(withPrefix("", "text")).toBe("text");
  });
});

describe("tasks.json", () => {
  it("parses tasks and mixing, with defaults", () => {
    const file = parseTasksJson(
      JSON.stringify({
        tasks: [
          { name: "a", data: "a.jsonl", prefix: "a:", cap: 10 },
          { name: "b", data: "sub/b.jsonl" },
        ],
        mixing: { strategy: "temperature", limit: 65536, temperature: 2 },
      }),
    );
    expect(file).toEqual({
      tasks: [
        { name: "a", data: "a.jsonl", prefix: "a:", cap: 10 },
        { name: "b", data: "sub/b.jsonl", prefix: "" },
      ],
      mixing: { strategy: "temperature", limit: 65536, temperature: 2 },
    });
    expect(parseTasksJson({ tasks: [{ name: "a", data: "a.jsonl" }] }).mixing).toBeUndefined();
  });

  it("reports mistakes clearly", () => {
    const bad = (json: unknown) => () => parseTasksJson(json as object, "my/tasks.json");
    expect(() => parseTasksJson("{", "x.json")).toThrow(/x\.json: not valid JSON/);
    expect(bad([])).toThrow(/must be a JSON object/);
    expect(bad({ tasks: [] })).toThrow(/non-empty array/);
    expect(bad({ tasks: [{ data: "a" }] })).toThrow(/tasks\[0\]\.name/);
    expect(bad({ tasks: [{ name: "a" }] })).toThrow(/\(a\)\.data/);
    expect(
      bad({
        tasks: [
          { name: "a", data: "x" },
          { name: "a", data: "y" },
        ],
      }),
    ).toThrow(/used twice/);
    expect(bad({ tasks: [{ name: "a", data: "x", cap: 0 }] })).toThrow(/cap must be a positive integer/);
    expect(bad({ tasks: [{ name: "a", data: "x", prefix: 3 }] })).toThrow(/prefix/);
    expect(bad({ tasks: [{ name: "a", data: "x" }], mixing: { strategy: "x" } })).toThrow(/strategy/);
    expect(bad({ tasks: [{ name: "a", data: "x" }], mixing: { strategy: "equal", limit: -1 } })).toThrow(
      /limit/,
    );
    expect(
      bad({ tasks: [{ name: "a", data: "x" }], mixing: { strategy: "temperature", temperature: 0 } }),
    ).toThrow(/temperature/);
  });

  it("parses JSONL examples (blank lines skipped, cap, line numbers in errors)", () => {
    const text =
      '{"input": "a", "target": "b"}\n\n  {"input": "c", "target": "d", "extra": 1}\r\n{"input":"e","target":"f"}\n';
    expect(parseJsonlExamples(text, "x.jsonl")).toEqual([
      { input: "a", target: "b" },
      { input: "c", target: "d" },
      { input: "e", target: "f" },
    ]);
    expect(parseJsonlExamples(text, "x.jsonl", 2)).toHaveLength(2);
    expect(() => parseJsonlExamples('{"input": "a", "target": "b"}\n{oops}', "x.jsonl")).toThrow(
      /x\.jsonl line 2: not valid JSON/,
    );
    expect(() => parseJsonlExamples('{"input": "a"}', "x.jsonl")).toThrow(/line 1: expected/);
  });

  it("loads the tasks and their data from disk, relative to tasks.json", async () => {
    const dir = await mkdtemp(join(tmpdir(), "t5data-"));
    try {
      const lines = (name: string, n: number) =>
        Array.from({ length: n }, (_, i) => JSON.stringify({ input: `${name} ${i}`, target: `${i}` })).join(
          "\n",
        );
      await writeFile(join(dir, "a.jsonl"), lines("a", 5));
      await writeFile(join(dir, "b.jsonl"), lines("b", 50));
      await writeFile(
        join(dir, "tasks.json"),
        JSON.stringify({
          tasks: [
            { name: "a", data: "a.jsonl", prefix: "task a:" },
            { name: "b", data: "./b.jsonl", cap: 20 },
          ],
          mixing: { strategy: "proportional" },
        }),
      );
      const loaded = await loadTasksFile(join(dir, "tasks.json"));
      expect(loaded.loaded.map((t) => [t.name, t.prefix, t.examples.length])).toEqual([
        ["a", "task a:", 5],
        ["b", "", 20],
      ]);
      expect(loaded.loaded[1].examples[19]).toEqual({ input: "b 19", target: "19" });
      const sampler = new MixtureSampler(loaded.loaded, { ...loaded.mixing!, seed: 3 });
      expect(sampler.rates).toEqual([0.2, 0.8]);
      expect(sampler.next().input).toMatch(/^(task a: a \d|b \d+)$/);
      await writeFile(
        join(dir, "missing.json"),
        JSON.stringify({ tasks: [{ name: "m", data: "nope.jsonl" }] }),
      );
      await expect(loadTasksFile(join(dir, "missing.json"))).rejects.toThrow(/task "m": cannot read/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
