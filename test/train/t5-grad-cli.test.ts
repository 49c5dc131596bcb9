// `edgeformer grad` on T5 model folders end to end (a child process, as users run it): the t5_tiny
// fixtures' loss and every parameter's gradient against PyTorch's, with decoder_input_ids given or
// derived from the labels, and one-line errors with a non-zero exit for bad T5 inputs.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SafetensorsFile } from "../../src/io/safetensors.ts";
import { fixturePath, readJsonFixture, readSafetensorsFixture } from "../helpers/fixtures.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), "edgeformer-t5-grad-"));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ["src/cli/edgeformer.mjs", ...args], { cwd: ROOT, encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Largest ‖g − ref‖/‖ref‖ over the reference's tensors (no T5 gradient is zero in theory). */
function worstGradError(got: SafetensorsFile, refFile: string): number {
  const ref = readSafetensorsFixture(refFile);
  let worst = 0;
  for (const name of ref.names()) {
    const e = ref.float32(name);
    const g = got.float32(name);
    let d = 0;
    let r = 0;
    for (let i = 0; i < e.length; i++) {
      d += (g[i] - e[i]) ** 2;
      r += e[i] ** 2;
    }
    worst = Math.max(worst, Math.sqrt(d / r));
  }
  return worst;
}

const write = (name: string, j: unknown) => {
  const p = join(tmp, name);
  writeFileSync(p, typeof j === "string" ? j : JSON.stringify(j));
  return p;
};

describe("edgeformer grad (T5)", () => {
  it.each(["t5_tiny_relu", "t5_tiny_gated"])(
    "%s: loss and every gradient against PyTorch, decoder_input_ids given or derived",
    (name) => {
      const dir = fixturePath(name);
      const inputs = readJsonFixture<Record<string, unknown> & { loss: number }>(
        `${name}/seq2seq_inputs.json`,
      );
      const grads = readSafetensorsFixture(`${name}/seq2seq_grads.safetensors`);
      const { decoder_input_ids: _, ...withoutDecoderIds } = inputs;
      for (const [label, file] of [
        ["given", join(dir, "seq2seq_inputs.json")],
        ["derived", write(`${name}-labels-only.json`, withoutDecoderIds)],
      ]) {
        const out = join(tmp, `${name}-${label}.safetensors`);
        const r = cli("grad", "--model", dir, "--inputs", file, "--out", out);
        expect(r.code, r.err).toBe(0);
        const j = JSON.parse(r.out);
        expect(j.architecture).toBe("T5ForConditionalGeneration");
        expect(j.parameters).toBe(grads.names().length);
        expect(Math.abs(j.loss - inputs.loss), label).toBeLessThanOrEqual(1e-5);
        const got = SafetensorsFile.parse(readFileSync(out), `${name}-${label}.safetensors`);
        expect(Math.abs(got.float32("loss")[0] - inputs.loss)).toBeLessThanOrEqual(1e-5);
        expect(got.names().sort()).toEqual([...grads.names(), "loss"].sort());
        expect(worstGradError(got, `${name}/seq2seq_grads.safetensors`), label).toBeLessThanOrEqual(1e-4);
      }
    },
  );

  it("bad T5 inputs: one-line errors and non-zero exits", () => {
    const dir = fixturePath("t5_tiny_relu");
    const inputs = readJsonFixture<Record<string, number[][]>>("t5_tiny_relu/seq2seq_inputs.json");
    const out = join(tmp, "bad.safetensors");
    const ignored = inputs.labels.map((row) => row.map(() => -100));
    const badLabel = inputs.labels.map((row, i) => (i === 1 ? [2000, ...row.slice(1)] : row));
    const cases: [string, unknown, number, RegExp][] = [
      [
        "a.json",
        { ...inputs, labels: undefined },
        2,
        /"labels" \(\[batch\]\[target length\].*is required for T5/,
      ],
      ["b.json", { ...inputs, labels: inputs.labels.slice(1) }, 2, /"labels" must have 3 rows/],
      [
        "c.json",
        { ...inputs, decoder_input_ids: inputs.decoder_input_ids.map((r) => r.slice(1)) },
        2,
        /"decoder_input_ids" must be 3×14 like labels/,
      ],
      ["d.json", { ...inputs, attention_mask: [[1, 1]] }, 2, /"attention_mask" must be 3×27 like input_ids/],
      ["e.json", { ...inputs, labels: ignored }, 2, /every label is −100/],
      ["f.json", { ...inputs, labels: badLabel }, 1, /labels has label 2000 outside \[0, 1100\)/],
    ];
    for (const [file, j, code, message] of cases) {
      const r = cli("grad", "--model", dir, "--inputs", write(file, j), "--out", out);
      expect(r.code, `${file}: ${r.err}`).toBe(code);
      expect(r.err.split("\n")[0]).toMatch(message);
      expect(r.out).toBe("");
    }
    // an unsupported model type is named
    const other = join(tmp, "gpt2");
    spawnSync("mkdir", ["-p", other]);
    writeFileSync(join(other, "config.json"), JSON.stringify({ model_type: "gpt2" }));
    const r = cli("grad", "--model", other, "--inputs", write("g.json", inputs), "--out", out);
    expect(r.code).toBe(2);
    expect(r.err.split("\n")[0]).toMatch(/model_type "gpt2" is not supported \(bert, t5\)/);
  });
});
