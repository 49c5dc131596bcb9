// Sentence embeddings: the encoder's last hidden states pooled per text — mean over real tokens (the
// attention mask excludes padding) or the [CLS] token — optionally L2-normalized.
import { type BertPipeline, encodeBatch, TaskInputError } from "./pipeline.ts";

export type Pooling = "mean" | "cls";

export interface EmbeddingResult {
  embeddings: Float32Array[];
  /** Tokens per input, special tokens included (what the model saw). */
  tokenCounts: number[];
}

export function embed(
  p: BertPipeline,
  texts: string[],
  opts: { pooling?: Pooling; normalize?: boolean } = {},
): EmbeddingResult {
  const pooling = opts.pooling ?? "mean";
  if (pooling !== "mean" && pooling !== "cls")
    throw new TaskInputError(`pooling must be "mean" or "cls", got ${JSON.stringify(pooling)}`);
  const { input } = encodeBatch(p, texts);
  const hidden = p.model.forward(input).lastHiddenState; // [B,T,C]
  const { batch: B, seq: T } = input;
  const C = p.model.config.hiddenSize;
  const mask = input.attentionMask!;
  const embeddings: Float32Array[] = [];
  const tokenCounts: number[] = [];
  for (let b = 0; b < B; b++) {
    const v = new Float32Array(C);
    let n = 0;
    if (pooling === "cls") {
      v.set(hidden.subarray(b * T * C, b * T * C + C));
      n = mask.subarray(b * T, (b + 1) * T).reduce((a, x) => a + x, 0);
    } else {
      const acc = new Float64Array(C);
      for (let t = 0; t < T; t++) {
        if (!mask[b * T + t]) continue;
        n++;
        const row = hidden.subarray((b * T + t) * C, (b * T + t + 1) * C);
        for (let c = 0; c < C; c++) acc[c] += row[c];
      }
      for (let c = 0; c < C; c++) v[c] = acc[c] / Math.max(n, 1);
    }
    if (opts.normalize) {
      const norm = Math.hypot(...v) || 1;
      for (let c = 0; c < C; c++) v[c] /= norm;
    }
    embeddings.push(v);
    tokenCounts.push(n);
  }
  return { embeddings, tokenCounts };
}
