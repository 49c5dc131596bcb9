// `edgeformer generate` and `edgeformer evaluate` with --no-repeat-ngram-size / --repetition-penalty, run
// as a user runs them (child processes) on the copy-trained T5 fixture: generate's ids equal the library's
// generate() with the same options (and differ from the default repeating copy), evaluate records the
// settings in its JSON and its outputs follow them, and bad values are one-line usage errors (exit 2).
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadT5PipelineDir } from "../src/models/load-node.ts";
import type { T5Pipeline } from "../src/tasks/text2text.ts";
import { generateText } from "../src/tasks/text2text.ts";
import { fixturePath } from "./helpers/fixtures.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const TEXT = "the cat the cat the cat the cat";

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ["src/cli/edgeformer.mjs", ...args], { cwd: ROOT, encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

let modelDir: string;
let p: T5Pipeline;

beforeAll(async () => {
  // the fixture with its tokenizer in one folder (evaluate reads the tokenizer from the model folder)
  modelDir = mkdtempSync(join(tmpdir(), "edgeformer-rep-"));
  for (const f of ["config.json", "generation_config.json", "model.safetensors"])
    copyFileSync(fixturePath(`t5_tiny_copy/${f}`), join(modelDir, f));
  for (const f of ["spiece.model", "tokenizer.json", "tokenizer_config.json"])
    copyFileSync(fixturePath(`tok/t5/${f}`), join(modelDir, f));
  p = await loadT5PipelineDir(modelDir);
});

describe("CLI repetition options", () => {
  it("generate --no-repeat-ngram-size / --repetition-penalty equal the library's generate()", () => {
    const run = (...extra: string[]) => {
      const r = cli("generate", "--model", modelDir, "--text", TEXT, "--max-new-tokens", "24", ...extra);
      expect(r.code, r.err).toBe(0);
      return JSON.parse(r.out) as { sequences: number[][]; texts: string[] };
    };
    const plain = run();
    expect(plain.texts[0]).toMatch(/the cat the cat/);
    for (const [flags, opts] of [
      [["--no-repeat-ngram-size", "2"], { noRepeatNgramSize: 2 }],
      [
        ["--no-repeat-ngram-size", "3", "--repetition-penalty", "2.5", "--num-beams", "3"],
        { noRepeatNgramSize: 3, repetitionPenalty: 2.5, numBeams: 3 },
      ],
    ] as const) {
      const got = run(...flags);
      expect(got.sequences).toEqual(
        generateText(p, [TEXT], { maxNewTokens: 24, ...opts }).map((r) => r.sequence),
      );
      expect(got.texts[0]).not.toMatch(/the cat the cat/);
    }
    for (const [flag, value, msg] of [
      ["--no-repeat-ngram-size", "-1", /--no-repeat-ngram-size must be an integer ≥ 0/],
      ["--no-repeat-ngram-size", "1.5", /--no-repeat-ngram-size must be an integer/],
      ["--repetition-penalty", "0", /--repetition-penalty must be > 0/],
      ["--repetition-penalty", "abc", /--repetition-penalty must be a number/],
    ] as const) {
      const bad = cli("generate", "--model", modelDir, "--text", "x", `${flag}=${value}`);
      expect(bad.code, bad.err).toBe(2);
      expect(bad.err).toMatch(msg);
    }
  });

  it("evaluate records the settings and generates with them", () => {
    const tasks = join(modelDir, "tasks.json");
    writeFileSync(join(modelDir, "echo.jsonl"), `${JSON.stringify({ input: TEXT, target: TEXT })}\n`);
    writeFileSync(tasks, JSON.stringify({ tasks: [{ name: "echo", data: "echo.jsonl", prefix: "" }] }));
    const run = (...extra: string[]) => {
      const r = cli("evaluate", "--model", modelDir, "--tasks", tasks, "--max-new-tokens", "24", ...extra);
      expect(r.code, r.err).toBe(0);
      return JSON.parse(r.out) as {
        settings: Record<string, number>;
        tasks: { echo: { samples: { output: string }[]; model: { exact_match: number } } };
      };
    };
    const plain = run();
    expect(plain.settings).toEqual({
      limit: 200,
      batch: 16,
      max_new_tokens: 24,
      no_repeat_ngram_size: 0,
      repetition_penalty: 1,
    });
    expect(plain.tasks.echo.samples[0].output).toMatch(/the cat the cat/);
    const rep = run("--no-repeat-ngram-size", "2", "--repetition-penalty", "1.5");
    expect(rep.settings).toMatchObject({ no_repeat_ngram_size: 2, repetition_penalty: 1.5 });
    expect(rep.tasks.echo.samples[0].output).toBe(
      generateText(p, [TEXT], { maxNewTokens: 24, noRepeatNgramSize: 2, repetitionPenalty: 1.5 })[0]
        .generated_text,
    );
    expect(rep.tasks.echo.samples[0].output).not.toMatch(/the cat the cat/);
    const bad = cli("evaluate", "--model", modelDir, "--tasks", tasks, "--repetition-penalty=-1");
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--repetition-penalty must be > 0/);
  });
});
