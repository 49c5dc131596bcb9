// The gradual-unfreezing schedule (src/train/unfreeze.ts): stages over steps, and which BERT and T5
// tensors each stage trains (top block and head first, one block more per stage, embeddings last).
import { describe, expect, it } from "vitest";
import {
  type UnfreezeArch,
  unfreezeAtStage,
  unfreezeStage,
  unfreezeStages,
  unfreezeTrainable,
} from "../../src/train/unfreeze.ts";

const BERT: UnfreezeArch = { modelType: "bert", numLayers: 3 };
const bertNames = [
  "bert.embeddings.word_embeddings.weight",
  "bert.embeddings.LayerNorm.bias",
  ...[0, 1, 2].flatMap((i) => [
    `bert.encoder.layer.${i}.attention.self.query.weight`,
    `bert.encoder.layer.${i}.output.LayerNorm.weight`,
    `bert.encoder.layer.${i}.output.adapter.up.weight`,
  ]),
  "bert.pooler.dense.weight",
  "classifier.weight",
  "classifier.bias",
];
const trained = (pred: (n: string) => boolean, names: string[]) => names.filter(pred);

describe("gradual unfreezing", () => {
  it("moves one stage every N steps, from 1 to blocks + 1", () => {
    expect(unfreezeStages(BERT)).toBe(4);
    expect([0, 1, 4, 5, 9, 10, 14, 15, 100].map((s) => unfreezeStage(BERT, s, 5))).toEqual([
      1, 1, 1, 2, 2, 3, 3, 4, 4,
    ]);
    expect(() => unfreezeStage(BERT, 0, 0)).toThrow(/every must be an integer ≥ 1/);
    expect(() => unfreezeStage(BERT, -1, 2)).toThrow(/step must be an integer ≥ 0/);
  });

  it("BERT: the top layer and the head first, then one layer more top down, the embeddings last", () => {
    const at = (stage: number) => trained(unfreezeAtStage(BERT, stage), bertNames);
    const head = ["bert.pooler.dense.weight", "classifier.weight", "classifier.bias"];
    const layer = (i: number) => bertNames.filter((n) => n.includes(`layer.${i}.`));
    expect(at(1)).toEqual([...layer(2), ...head]);
    expect(at(2)).toEqual([...layer(1), ...layer(2), ...head]);
    expect(at(3)).toEqual([...layer(0), ...layer(1), ...layer(2), ...head]);
    expect(at(4)).toEqual(bertNames);
    expect(trained(unfreezeTrainable(BERT, 7, 3), bertNames)).toEqual(at(3));
    // a bare BertModel's names (no "bert." prefix); layer 10 is not layer 1
    const bare = unfreezeAtStage({ modelType: "bert", numLayers: 12, prefix: "" }, 2);
    expect(bare("encoder.layer.10.output.dense.weight")).toBe(true);
    expect(bare("encoder.layer.1.output.dense.weight")).toBe(false);
    expect(bare("embeddings.word_embeddings.weight")).toBe(false);
  });

  it("T5: encoder and decoder blocks top down together; final norms and untied head always; shared embedding last", () => {
    const arch: UnfreezeArch = { modelType: "t5", numLayers: 2, numDecoderLayers: 3 };
    expect(unfreezeStages(arch)).toBe(4);
    const names = [
      "shared.weight",
      "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
      "encoder.block.1.layer.1.DenseReluDense.wi.weight",
      "encoder.final_layer_norm.weight",
      "decoder.block.0.layer.1.EncDecAttention.q.weight",
      "decoder.block.1.layer.0.layer_norm.weight",
      "decoder.block.2.layer.2.adapter.down.weight",
      "decoder.final_layer_norm.weight",
      "lm_head.weight",
    ];
    const always = ["encoder.final_layer_norm.weight", "decoder.final_layer_norm.weight", "lm_head.weight"];
    const at = (s: number) => trained(unfreezeAtStage(arch, s), names);
    expect(at(1)).toEqual([
      "encoder.block.1.layer.1.DenseReluDense.wi.weight",
      always[0],
      "decoder.block.2.layer.2.adapter.down.weight",
      ...always.slice(1),
    ]);
    expect(at(2)).toEqual(names.filter((n) => n !== "shared.weight" && !n.startsWith("decoder.block.0.")));
    expect(at(3)).toEqual(names.filter((n) => n !== "shared.weight"));
    expect(at(4)).toEqual(names);
  });
});
