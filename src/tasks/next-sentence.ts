// Next-sentence prediction: the probability that text B follows text A (BERT's NSP head; class 0 of
// seq_relationship is "B is the continuation of A").
import { type BertPipeline, encodeBatch, softmax, TaskInputError } from "./pipeline.ts";

export function nextSentence(
  p: BertPipeline,
  pairs: [string, string][],
): { isNextProbability: number; logits: [number, number] }[] {
  if (pairs.length === 0) throw new TaskInputError("no sentence pairs");
  const { input } = encodeBatch(
    p,
    pairs.map((x) => x[0]),
    pairs.map((x) => x[1]),
  );
  const logits = p.model.forward(input, { nsp: true }).nspLogits!; // [B,2]
  return pairs.map((_, b) => {
    const l: [number, number] = [logits[2 * b], logits[2 * b + 1]];
    return { isNextProbability: softmax(l)[0], logits: l };
  });
}
