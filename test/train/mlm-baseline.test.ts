// The most-frequent-token baseline of masked LM that pretraining reports next to its accuracy.
import { describe, expect, it } from "vitest";
import type { PretrainingExample } from "../../src/train/data/index.ts";
import { mlmBaseline } from "../../src/train/pretrain.ts";

const ex = (labels: number[]): PretrainingExample => ({
  inputIds: new Int32Array(labels.length),
  tokenTypeIds: new Int32Array(labels.length),
  attentionMask: new Int32Array(labels.length).fill(1),
  mlmLabels: Int32Array.from(labels),
  nextSentenceLabel: 0,
});

describe("mlmBaseline", () => {
  it("picks the training labels' most frequent token and scores it on held-out labels", () => {
    const train = [ex([-100, 7, 7, -100]), ex([3, 7, 3, -100]), ex([9, -100, -100, -100])];
    const held = [ex([7, -100, 3, 7]), ex([-100, 5, -100, -100])];
    expect(mlmBaseline(train, held)).toEqual({ token: 7, accuracy: 0.5 });
    expect(mlmBaseline(train, []).accuracy).toBe(0);
  });
});
