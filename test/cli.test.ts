// The edgeformer CLI end to end, as a user runs it (a child process): JSON on stdout, one-line errors
// and non-zero exits for bad arguments, missing files and corrupt checkpoints.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SafetensorsFile } from "../src/io/safetensors.ts";
import { expectClose } from "./helpers/compare.ts";
import { fixturePath, readJsonFixture, readSafetensorsFixture } from "./helpers/fixtures.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const BERT = fixturePath("bert_tiny");
const TOK = fixturePath("tok/bert");

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ["src/cli/edgeformer.mjs", ...args], { cwd: ROOT, encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const tmp = mkdtempSync(join(tmpdir(), "edgeformer-cli-"));

describe("edgeformer CLI", () => {
  it("tokenize prints ids, type ids, mask, tokens and offsets equal to the goldens", () => {
    const golden = readJsonFixture<{
      pairs: { a: string; b: string; input_ids: number[]; token_type_ids: number[] }[];
    }>("tok/bert_goldens.json").pairs[0];
    const r = cli("tokenize", "--model", BERT, "--tokenizer", TOK, "--text", golden.a, "--pair", golden.b);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.input_ids).toEqual(golden.input_ids);
    expect(j.token_type_ids).toEqual(golden.token_type_ids);
    expect(j.attention_mask).toEqual(golden.input_ids.map(() => 1));
    expect(j.tokens[0]).toBe("[CLS]");
    expect(j.offsets).toHaveLength(golden.input_ids.length);
  });

  it("tokenize works for T5 from tokenizer.json and from a bare spiece.model alike", () => {
    const golden = readJsonFixture<{ texts: { text: string; input_ids: number[] }[] }>("tok/t5_goldens.json")
      .texts[0];
    const bare = join(tmp, "t5-spiece-only");
    spawnSync("mkdir", ["-p", bare]);
    copyFileSync(fixturePath("tok/t5/spiece.model"), join(bare, "spiece.model"));
    copyFileSync(fixturePath("tok/t5/tokenizer_config.json"), join(bare, "tokenizer_config.json"));
    for (const dir of [fixturePath("tok/t5"), bare]) {
      const r = cli("tokenize", "--model", dir, "--text", golden.text);
      expect(r.code, r.err).toBe(0);
      expect(JSON.parse(r.out).input_ids).toEqual(golden.input_ids);
    }
  });

  it("forward writes every output under the goldens' names (f32 within 1e-4; int8 close)", () => {
    const out = join(tmp, "out.safetensors");
    const r = cli("forward", "--model", BERT, "--inputs", join(BERT, "pretrain_inputs.json"), "--out", out);
    expect(r.code, r.err).toBe(0);
    const got = SafetensorsFile.parse(readFileSync(out), "out.safetensors");
    const golden = readSafetensorsFixture("bert_tiny/pretrain_outputs.safetensors");
    for (const name of golden.names()) expectClose(got.float32(name), golden.float32(name), 1e-4, 0, name);
    const out8 = join(tmp, "out8.safetensors");
    expect(
      cli(
        "forward",
        "--model",
        BERT,
        "--inputs",
        join(BERT, "pretrain_inputs.json"),
        "--out",
        out8,
        "--dtype",
        "int8",
      ).code,
    ).toBe(0);
    const got8 = SafetensorsFile.parse(readFileSync(out8), "out8.safetensors");
    expectClose(got8.float32("hidden_states.2"), golden.float32("hidden_states.2"), 0.1, 0, "int8 hidden");
  });

  it("forward and generate work for T5: outputs and generated ids equal the goldens", () => {
    const dir = fixturePath("t5_tiny_gated");
    const out = join(tmp, "t5.safetensors");
    const r = cli("forward", "--model", dir, "--inputs", join(dir, "seq2seq_inputs.json"), "--out", out);
    expect(r.code, r.err).toBe(0);
    const got = SafetensorsFile.parse(readFileSync(out), "t5.safetensors");
    const golden = readSafetensorsFixture("t5_tiny_gated/seq2seq_outputs.safetensors");
    for (const name of golden.names()) expectClose(got.float32(name), golden.float32(name), 1e-4, 0, name);
    const inputs = readJsonFixture<{
      input_ids: number[][];
      loss: number;
      beam4_max_new_tokens_12: number[][];
    }>("t5_tiny_gated/seq2seq_inputs.json");
    expect(JSON.parse(r.out).loss).toBeCloseTo(inputs.loss, 4);
    const g = cli(
      "generate",
      "--model",
      dir,
      "--tokenizer",
      fixturePath("tok/t5"),
      "--input-ids",
      JSON.stringify(inputs.input_ids),
      "--max-new-tokens",
      "12",
      "--num-beams",
      "4",
    );
    expect(g.code, g.err).toBe(0);
    expect(JSON.parse(g.out).sequences).toEqual(inputs.beam4_max_new_tokens_12);
    const t = cli(
      "generate",
      "--model",
      dir,
      "--tokenizer",
      fixturePath("tok/t5"),
      "--text",
      "hello world",
      "--max-new-tokens",
      "3",
    );
    expect(t.code, t.err).toBe(0);
    const tj = JSON.parse(t.out);
    expect(tj.sequences[0]).toHaveLength(4);
    expect(typeof tj.texts[0]).toBe("string");
    const bad = cli(
      "generate",
      "--model",
      dir,
      "--tokenizer",
      fixturePath("tok/t5"),
      "--text",
      "x",
      "--top-p",
      "2",
    );
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--top-p must be in \(0, 1\]/);
  });

  it("quantize writes an int8 checkpoint that the other commands load", () => {
    const src = join(tmp, "bert-with-tok");
    const q = join(tmp, "bert-int8");
    spawnSync("mkdir", ["-p", src]);
    for (const f of ["config.json", "model.safetensors"]) copyFileSync(join(BERT, f), join(src, f));
    for (const f of ["vocab.txt", "tokenizer.json", "tokenizer_config.json"])
      copyFileSync(join(TOK, f), join(src, f));
    const r = cli("quantize", src, q);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).int8_tensors).toBeGreaterThan(10);
    const st = SafetensorsFile.parse(readFileSync(join(q, "model.safetensors")), "model.safetensors");
    expect(st.info("bert.encoder.layer.0.intermediate.dense.weight").dtype).toBe("I8");
    expect(st.metadata["edgeformer.dtype"]).toBe("int8");
    const fm = cli(
      "fill-mask",
      "--model",
      q,
      "--dtype",
      "int8",
      "--text",
      "the [MASK] sat.",
      "--json",
      "--top-k",
      "3",
    );
    expect(fm.code, fm.err).toBe(0);
    const cands = JSON.parse(fm.out);
    expect(cands).toHaveLength(3);
    expect(cands[0]).toHaveProperty("sequence");
  });

  it("quantize writes T5 in the block scheme (<name>_mult); generate --dtype int8 gives the golden greedy ids", () => {
    const q = join(tmp, "t5-int8");
    const r = cli("quantize", fixturePath("t5_tiny_gated"), q);
    expect(r.code, r.err).toBe(0);
    const st = SafetensorsFile.parse(readFileSync(join(q, "model.safetensors")), "model.safetensors");
    expect(st.info("shared.weight").dtype).toBe("I8");
    expect(st.info("shared.weight_mult")).toMatchObject({ dtype: "I8", shape: [1100, 8] });
    expect(st.metadata["edgeformer.quantization"]).toMatch(/multiplier/);
    const inputs = readJsonFixture<{ input_ids: number[][]; greedy_max_new_tokens_12: number[][] }>(
      "t5_tiny_gated/seq2seq_inputs.json",
    );
    const g = cli(
      "generate",
      "--model",
      q,
      "--tokenizer",
      fixturePath("tok/t5"),
      "--input-ids",
      JSON.stringify(inputs.input_ids),
      "--max-new-tokens",
      "12",
      "--dtype",
      "int8",
    );
    expect(g.code, g.err).toBe(0);
    expect(JSON.parse(g.out).sequences).toEqual(inputs.greedy_max_new_tokens_12);
  });

  it("people-facing commands print readable lines", () => {
    const r = cli(
      "fill-mask",
      "--model",
      BERT,
      "--tokenizer",
      TOK,
      "--text",
      "the [MASK] sat.",
      "--top-k",
      "2",
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out.split("\n")[0]).toBe("the [MASK] sat.");
    expect(r.out).toMatch(/\d+\.\d\d%/);
    const n = cli("nsp", "--model", BERT, "--tokenizer", TOK, "--text", "a cat.", "--pair", "it sat.");
    expect(n.out).toMatch(/% that "it sat\." follows "a cat\."/);
  });

  it("bad arguments, missing files and corrupt checkpoints give one line and a non-zero exit", () => {
    const unknown = cli("frobnicate");
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/unknown command "frobnicate"/);
    const missingFlag = cli("forward", "--model", BERT);
    expect(missingFlag.code).toBe(2);
    expect(missingFlag.err).toMatch(/--inputs is required/);
    const badFlag = cli("fill-mask", "--model", BERT, "--bogus", "1");
    expect(badFlag.code).toBe(2);
    const noDir = cli("embed", "--model", "/no/such/dir", "--text", "x");
    expect(noDir.code).toBe(2);
    expect(noDir.err).toMatch(/not a directory/);

    const corrupt = join(tmp, "corrupt");
    spawnSync("mkdir", ["-p", corrupt]);
    copyFileSync(join(BERT, "config.json"), join(corrupt, "config.json"));
    const bytes = readFileSync(join(BERT, "model.safetensors"));
    writeFileSync(join(corrupt, "model.safetensors"), bytes.subarray(0, bytes.length - 1000)); // truncated
    const r = cli(
      "forward",
      "--model",
      corrupt,
      "--inputs",
      join(BERT, "pretrain_inputs.json"),
      "--out",
      join(tmp, "x.safetensors"),
    );
    expect(r.code).toBe(1);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(/model\.safetensors.*truncated/);

    const badInputs = join(tmp, "bad.json");
    writeFileSync(badInputs, '{"input_ids": [[2, 3], [4]]}');
    const bi = cli("forward", "--model", BERT, "--inputs", badInputs, "--out", join(tmp, "y.safetensors"));
    expect(bi.code).toBe(2);
    expect(bi.err).toMatch(/rows of "input_ids" differ in length/);
  });
});
