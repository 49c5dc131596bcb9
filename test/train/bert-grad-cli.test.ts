// `edgeformer grad` end to end (a child process, as users run it): the pretraining and classification
// fixtures' losses and every parameter's gradient against PyTorch's, and one-line errors with a non-zero
// exit for bad inputs.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SafetensorsFile, type TensorInput, writeSafetensors } from "../../src/io/safetensors.ts";
import { fixturePath, readJsonFixture, readSafetensorsFixture } from "../helpers/fixtures.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const BERT = fixturePath("bert_tiny");
const tmp = mkdtempSync(join(tmpdir(), "edgeformer-grad-"));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ["src/cli/edgeformer.mjs", ...args], { cwd: ROOT, encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Largest ‖g − ref‖/‖ref‖ over the reference's tensors (the attention key bias, whose true gradient is 0, by ‖g‖). */
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
    if (name.endsWith("attention.self.key.bias")) {
      expect(Math.sqrt(d), name).toBeLessThan(1e-6);
      continue;
    }
    worst = Math.max(worst, Math.sqrt(d / r));
  }
  return worst;
}

describe("edgeformer grad", () => {
  it("pretraining inputs: loss, mlm_loss, nsp_loss and every gradient against PyTorch", () => {
    const out = join(tmp, "pretrain.safetensors");
    const r = cli("grad", "--model", BERT, "--inputs", join(BERT, "pretrain_inputs.json"), "--out", out);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    const ref = readJsonFixture<{ loss: number; mlm_loss: number; nsp_loss: number }>(
      "bert_tiny/pretrain_inputs.json",
    );
    expect(j.architecture).toBe("BertForPreTraining");
    expect(Math.abs(j.loss - ref.loss)).toBeLessThanOrEqual(1e-5);
    const got = SafetensorsFile.parse(readFileSync(out), "pretrain.safetensors");
    expect(Math.abs(got.float32("loss")[0] - ref.loss)).toBeLessThanOrEqual(1e-5);
    expect(Math.abs(got.float32("mlm_loss")[0] - ref.mlm_loss)).toBeLessThanOrEqual(1e-5);
    expect(Math.abs(got.float32("nsp_loss")[0] - ref.nsp_loss)).toBeLessThanOrEqual(1e-5);
    const grads = readSafetensorsFixture("bert_tiny/pretrain_grads.safetensors");
    expect(got.names().sort()).toEqual([...grads.names(), "loss", "mlm_loss", "nsp_loss"].sort());
    expect(worstGradError(got, "bert_tiny/pretrain_grads.safetensors")).toBeLessThanOrEqual(1e-4);
  });

  it("classification inputs: loss and every gradient against PyTorch", () => {
    // a BertForSequenceClassification folder: the encoder plus the classifier head in one file
    const dir = join(tmp, "classifier");
    spawnSync("mkdir", ["-p", dir]);
    const config = JSON.parse(readFileSync(join(BERT, "config.json"), "utf8"));
    writeFileSync(
      join(dir, "config.json"),
      JSON.stringify({ ...config, architectures: ["BertForSequenceClassification"], num_labels: 3 }),
    );
    const tensors: Record<string, TensorInput> = {};
    for (const f of ["model.safetensors", "classifier_head.safetensors"]) {
      const st = readSafetensorsFixture(`bert_tiny/${f}`);
      for (const n of st.names()) tensors[n] = { dtype: "F32", shape: st.info(n).shape, data: st.float32(n) };
    }
    writeFileSync(join(dir, "model.safetensors"), writeSafetensors(tensors));
    copyFileSync(join(BERT, "classify_inputs.json"), join(dir, "inputs.json"));
    const out = join(tmp, "classify.safetensors");
    const r = cli("grad", "--model", dir, "--inputs", join(dir, "inputs.json"), "--out", out);
    expect(r.code, r.err).toBe(0);
    const ref = readJsonFixture<{ loss: number }>("bert_tiny/classify_inputs.json");
    expect(Math.abs(JSON.parse(r.out).loss - ref.loss)).toBeLessThanOrEqual(1e-5);
    const got = SafetensorsFile.parse(readFileSync(out), "classify.safetensors");
    expect(got.names()).not.toContain("mlm_loss");
    const grads = readSafetensorsFixture("bert_tiny/classify_grads.safetensors");
    expect(got.names().sort()).toEqual([...grads.names(), "loss"].sort());
    expect(worstGradError(got, "bert_tiny/classify_grads.safetensors")).toBeLessThanOrEqual(1e-4);
  });

  it("bad inputs: one-line errors and non-zero exits", () => {
    const inputs = readJsonFixture<Record<string, unknown>>("bert_tiny/pretrain_inputs.json");
    const write = (name: string, j: unknown) => {
      const p = join(tmp, name);
      writeFileSync(p, typeof j === "string" ? j : JSON.stringify(j));
      return p;
    };
    const out = join(tmp, "bad.safetensors");
    const cases: [string[], number, RegExp][] = [
      [["--inputs", write("a.json", inputs), "--out", out], 2, /--model is required/],
      [["--model", BERT, "--inputs", write("b.json", "{not json"), "--out", out], 2, /--inputs .*b\.json/],
      [
        [
          "--model",
          BERT,
          "--inputs",
          write("c.json", { ...inputs, mlm_labels: undefined, next_sentence_label: undefined }),
          "--out",
          out,
        ],
        2,
        /give "mlm_labels" and\/or "next_sentence_label"/,
      ],
      [
        [
          "--model",
          BERT,
          "--inputs",
          write("d.json", { ...inputs, next_sentence_label: [0, 1] }),
          "--out",
          out,
        ],
        2,
        /"next_sentence_label" must be an array of 3 integers/,
      ],
      [
        ["--model", BERT, "--inputs", write("e.json", { ...inputs, labels: [0, 1, 2] }), "--out", out],
        2,
        /"labels" \(classification\) cannot be combined/,
      ],
      [
        [
          "--model",
          BERT,
          "--inputs",
          write("f.json", { ...inputs, next_sentence_label: [0, 2, 1] }),
          "--out",
          out,
        ],
        1,
        /next_sentence_label has label 2 outside \[0, 2\)/,
      ],
      [
        ["--model", BERT, "--inputs", write("g.json", { input_ids: [[2, 5, 3]], labels: [1] }), "--out", out],
        1,
        /labels given but BertForPreTraining has no classification head/,
      ],
      [
        ["--model", fixturePath("t5_tiny_relu"), "--inputs", write("h.json", inputs), "--out", out],
        2,
        /"labels" \(\[batch\]\[target length\].*is required for T5/, // BERT inputs on a T5 folder
      ],
    ];
    for (const [args, code, message] of cases) {
      const r = cli("grad", ...args);
      expect(r.code, `${args.join(" ")}: ${r.err}`).toBe(code);
      expect(r.err.split("\n")[0]).toMatch(message);
      expect(r.out).toBe("");
    }
  });
});
