// fill-mask: the most likely tokens for each [MASK] in a text, in the shape of transformers'
// FillMaskPipeline: one mask → [{score, token, token_str, sequence}]; several masks → one such list
// per mask (each `sequence` fills only that mask; the other masks, being special tokens, are dropped).
import { type BertPipeline, checkTopK, encodeBatch, softmax, TaskInputError, topK } from "./pipeline.ts";

export interface FillMaskCandidate {
  score: number;
  token: number;
  token_str: string;
  sequence: string;
}

export function fillMask(
  p: BertPipeline,
  texts: string[],
  opts: { topK?: number } = {},
): FillMaskCandidate[][][] {
  const k = checkTopK(opts.topK, 5);
  const maskId = p.tokenizer.special.mask;
  if (maskId === undefined) throw new TaskInputError("this tokenizer has no mask token");
  const { encodings, input } = encodeBatch(p, texts);
  const T = input.seq;
  const rows: number[] = [];
  const owner: [number, number][] = []; // (text index, position)
  encodings.forEach((e, b) => {
    const positions = e.ids.flatMap((id, t) => (id === maskId && e.attentionMask[t] ? [t] : []));
    if (positions.length === 0) {
      throw new TaskInputError(
        `no mask token (${p.tokenizer.idToToken(maskId)}) in input ${b}: ${JSON.stringify(texts[b].slice(0, 80))}`,
      );
    }
    for (const t of positions) {
      rows.push(b * T + t);
      owner.push([b, t]);
    }
  });
  const logits = p.model.forward(input, { mlm: rows }).mlmLogits!;
  const V = p.model.config.vocabSize;
  const result: FillMaskCandidate[][][] = texts.map(() => []);
  owner.forEach(([b, t], i) => {
    const probs = softmax(logits.subarray(i * V, (i + 1) * V));
    const ids = encodings[b].ids.slice(0, encodings[b].attentionMask.lastIndexOf(1) + 1);
    result[b].push(
      topK(probs, k).map((token) => {
        const filled = ids.slice();
        filled[t] = token;
        return {
          score: probs[token],
          token,
          token_str: p.tokenizer.decode([token]),
          sequence: p.tokenizer.decode(filled, { skipSpecialTokens: true }),
        };
      }),
    );
  });
  return result;
}
