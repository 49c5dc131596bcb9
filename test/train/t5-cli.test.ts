// `edgeformer pretrain t5`, `edgeformer train` and `edgeformer evaluate` as users run them, in child
// processes: a tiny span-corruption run writes a model folder and JSON result, multi-task training
// continues from it with --init and equal mixing, evaluate scores it per task next to the baselines, a
// NaN (test hook) exits 1 with one line, and usage mistakes exit 2 with the command's usage.
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tinySetup } from "./trainer-corpus.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const setup = tinySetup("edgeformer-t5-cli-");
afterAll(() => rmSync(setup.dir, { recursive: true, force: true }));

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ["src/cli/edgeformer.mjs", ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: "utf8",
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const config = join(setup.dir, "t5.json");
writeFileSync(
  config,
  JSON.stringify({ d_model: 32, d_kv: 8, d_ff: 64, num_layers: 1, num_decoder_layers: 1, num_heads: 4 }),
);
const tiny = [
  "--config",
  config,
  "--vocab-size",
  "300",
  "--input-length",
  "24",
  "--batch",
  "8",
  "--progress",
  "none",
];

describe("edgeformer pretrain t5 / train / evaluate", () => {
  it("pretrains, trains on tasks from the checkpoint, evaluates per task", () => {
    const pre = join(setup.dir, "pre");
    const a = cli(["pretrain", "t5", "--corpus", setup.corpus, "--out", pre, "--steps", "6", ...tiny]);
    expect(a.err).toBe("");
    expect(a.code).toBe(0);
    const ra = JSON.parse(a.out);
    expect(ra.steps).toBe(6);
    expect(ra.checkpoint).toContain("checkpoint-6");

    const tdir = join(setup.dir, "tasks");
    mkdirSync(tdir, { recursive: true });
    const words = ["cat", "dog", "bird", "house", "river", "apple"];
    writeFileSync(
      join(tdir, "echo.jsonl"),
      words.map((w) => `${JSON.stringify({ input: `echo: ${w}`, target: w })}\n`).join(""),
    );
    writeFileSync(
      join(tdir, "tasks.json"),
      JSON.stringify({ tasks: [{ name: "echo", data: "echo.jsonl", prefix: "" }] }),
    );
    const run = join(setup.dir, "multi");
    const b = cli([
      "train",
      "--tasks",
      join(tdir, "tasks.json"),
      "--eval-tasks",
      join(tdir, "tasks.json"),
      "--init",
      pre,
      "--out",
      run,
      "--mixing",
      "equal",
      "--steps",
      "4",
      "--eval-every",
      "2",
      "--batch",
      "4",
      "--progress",
      "none",
    ]);
    expect(b.err).toBe("");
    expect(b.code).toBe(0);
    expect(JSON.parse(b.out).eval.tasks.echo.examples).toBe(6);

    const c = cli([
      "evaluate",
      "--model",
      run,
      "--tasks",
      join(tdir, "tasks.json"),
      "--limit",
      "4",
      "--samples",
      "1",
    ]);
    expect(c.code).toBe(0);
    const rep = JSON.parse(c.out).tasks.echo;
    expect(rep.examples).toBe(4);
    expect(rep.baseline_copy.exact_match).toBe(1); // the input without "echo: " is the answer
    expect(rep.samples).toHaveLength(1);
    expect(typeof rep.model.token_f1).toBe("number");
  }, 120_000);

  it("exits 1 with one line on a NaN and 2 on usage mistakes", () => {
    const nan = cli(
      ["pretrain", "t5", "--corpus", setup.corpus, "--out", join(setup.dir, "nan"), "--steps", "4", ...tiny],
      {
        EDGEFORMER_TEST_NAN_STEP: "2",
      },
    );
    expect(nan.code).toBe(1);
    expect(nan.err.trim().split("\n")).toHaveLength(1);
    expect(nan.err).toMatch(/diverged.*step 2/);
    const bad = cli([
      "pretrain",
      "t5",
      "--corpus",
      setup.corpus,
      "--out",
      join(setup.dir, "x"),
      "--objective",
      "mlm",
    ]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--objective must be one of span, lm, prefix-lm/);
    const bert = cli([
      "pretrain",
      "bert",
      "--corpus",
      setup.corpus,
      "--out",
      join(setup.dir, "y"),
      "--objective",
      "lm",
    ]);
    expect(bert.code).toBe(2);
    expect(bert.err).toMatch(/--objective is for pretrain t5/);
    const noTasks = cli(["train", "--out", join(setup.dir, "z")]);
    expect(noTasks.code).toBe(2);
    expect(noTasks.err).toMatch(/--tasks is required/);
  }, 120_000);
});
