// BERT parity with Hugging Face transformers on the tiny fixture checkpoint (test/fixtures/bert_tiny):
// every hidden state, attention probabilities, pooler, MLM and NSP logits of BertForPreTraining, and
// the logits of BertForSequenceClassification, within 1e-4; plus checkpoint errors that name tensors.
import { beforeAll, describe, expect, it } from "vitest";
import { writeSafetensors } from "../../src/io/safetensors.ts";
import { BertModel } from "../../src/models/bert.ts";
import { bertConfigFromJson } from "../../src/models/bert-config.ts";
import { readConfig, readTensors } from "../../src/models/checkpoint-node.ts";
import { TensorStore } from "../../src/models/tensors.ts";
import type { KernelRuntime } from "../../src/runtime/load.ts";
import { loadRuntime } from "../../src/runtime/node.ts";
import { expectClose } from "../helpers/compare.ts";
import { fixturePath, readJsonFixture, readSafetensorsFixture } from "../helpers/fixtures.ts";

const DIR = fixturePath("bert_tiny");
const inputs = readJsonFixture<{
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][];
}>("bert_tiny/pretrain_inputs.json");
const golden = readSafetensorsFixture("bert_tiny/pretrain_outputs.safetensors");

function batch(j: { input_ids: number[][]; attention_mask: number[][]; token_type_ids: number[][] }) {
  return {
    inputIds: Int32Array.from(j.input_ids.flat()),
    attentionMask: Int32Array.from(j.attention_mask.flat()),
    tokenTypeIds: Int32Array.from(j.token_type_ids.flat()),
    batch: j.input_ids.length,
    seq: j.input_ids[0].length,
  };
}

let rt: KernelRuntime;
beforeAll(async () => {
  rt = await loadRuntime({ relaxed: false });
});

describe("BERT f32 parity with transformers (bert_tiny)", () => {
  it("BertForPreTraining: hidden states, attentions, pooler, MLM and NSP logits within 1e-4", async () => {
    const model = new BertModel(rt, bertConfigFromJson(await readConfig(DIR)), await readTensors(DIR));
    const out = model.forward(batch(inputs), {
      hiddenStates: true,
      attentions: true,
      mlm: "all",
      nsp: true,
      pooled: true,
    });
    expect(out.hiddenStates).toHaveLength(3);
    for (const [i, h] of out.hiddenStates!.entries()) {
      expectClose(h, golden.float32(`hidden_states.${i}`), 1e-4, 0, `hidden_states.${i}`);
    }
    for (const [i, a] of out.attentions!.entries()) {
      expectClose(a, golden.float32(`attentions.${i}`), 1e-5, 0, `attentions.${i}`);
    }
    expectClose(out.pooled!, golden.float32("pooler_output"), 1e-4, 0, "pooler_output");
    expectClose(out.mlmLogits!, golden.float32("prediction_logits"), 1e-4, 0, "prediction_logits");
    expectClose(
      out.nspLogits!,
      golden.float32("seq_relationship_logits"),
      1e-4,
      0,
      "seq_relationship_logits",
    );
  });

  it("BertForSequenceClassification logits within 1e-4", async () => {
    const cfg = {
      ...(await readConfig(DIR)),
      architectures: ["BertForSequenceClassification"],
      num_labels: 3,
    };
    const store = await readTensors(DIR, [fixturePath("bert_tiny/classifier_head.safetensors")]);
    const model = new BertModel(rt, bertConfigFromJson(cfg), store);
    const cin = readJsonFixture<{
      input_ids: number[][];
      attention_mask: number[][];
      token_type_ids: number[][];
    }>("bert_tiny/classify_inputs.json");
    const out = model.forward(batch(cin), { classify: true });
    expectClose(
      out.classifyLogits!,
      readSafetensorsFixture("bert_tiny/classify_outputs.safetensors").float32("logits"),
      1e-4,
      0,
      "logits",
    );
  });

  it("MLM on selected rows equals the same rows of the full logits", async () => {
    const model = new BertModel(rt, bertConfigFromJson(await readConfig(DIR)), await readTensors(DIR));
    const full = golden.float32("prediction_logits");
    const rows = [1, 5, 40, 107];
    const out = model.forward(batch(inputs), { mlm: rows });
    const V = 2000;
    for (const [i, r] of rows.entries()) {
      const got = out.mlmLogits!.subarray(i * V, (i + 1) * V);
      expectClose(got, full.subarray(r * V, (r + 1) * V), 1e-4, 0, `row ${r}`);
    }
  });
});

describe("BERT checkpoint errors", () => {
  async function storeWithout(
    drop: (n: string) => boolean,
    reshape?: string,
    extra?: string,
  ): Promise<TensorStore> {
    const base = await readTensors(DIR);
    const tensors: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
    for (const n of base.names()) {
      if (drop(n)) continue;
      const data = base.float32(n);
      tensors[n] = { dtype: "F32", shape: n === reshape ? [data.length] : base.shape(n), data };
    }
    if (extra) tensors[extra] = { dtype: "F32", shape: [1], data: new Float32Array(1) };
    return TensorStore.fromBytes([{ bytes: writeSafetensors(tensors), name: "model.safetensors" }]);
  }
  const cfg = async () => bertConfigFromJson(await readConfig(DIR));

  it("names missing tensors", async () => {
    const store = await storeWithout((n) => n === "bert.encoder.layer.1.output.dense.weight");
    await expect(async () => new BertModel(rt, await cfg(), store)).rejects.toThrow(
      /missing tensors: bert\.encoder\.layer\.1\.output\.dense\.weight/,
    );
  });

  it("names mis-shaped and unexpected tensors", async () => {
    const store = await storeWithout(() => false, "bert.pooler.dense.weight", "bert.encoder.layer.9.weird");
    await expect(async () => new BertModel(rt, await cfg(), store)).rejects.toThrow(
      /mis-shaped tensors: bert\.pooler\.dense\.weight is \[4096\], expected \[64,64\].*unexpected tensors: bert\.encoder\.layer\.9\.weird/,
    );
  });

  it("rejects a head the architecture needs but the checkpoint lacks", async () => {
    const store = await storeWithout((n) => n.startsWith("cls.seq_relationship"));
    await expect(async () => new BertModel(rt, await cfg(), store)).rejects.toThrow(
      /missing tensors: cls\.seq_relationship\.weight/,
    );
  });

  it("rejects out-of-vocabulary ids and over-long sequences with clear errors", async () => {
    const model = new BertModel(rt, await cfg(), await readTensors(DIR));
    expect(() => model.forward({ inputIds: Int32Array.from([2, 5000, 3]), batch: 1, seq: 3 })).toThrow(
      /outside the vocabulary/,
    );
    expect(() => model.forward({ inputIds: new Int32Array(129), batch: 1, seq: 129 })).toThrow(
      /exceeds max_position_embeddings 128/,
    );
  });
});
