// T5 relative position buckets (transformers' T5Attention._relative_position_bucket) and the additive
// attention bias they index: bias[h, i, j] = table[bucket(j − i), h].

/**
 * Bucket of a relative position (memory position − query position). Bidirectional (encoder): half the
 * buckets for each sign. Causal (decoder): only positions ≤ 0 are distinguished. Small distances get
 * exact buckets, larger ones logarithmic buckets up to maxDistance.
 */
export function relativePositionBucket(
  relativePosition: number,
  bidirectional: boolean,
  numBuckets: number,
  maxDistance: number,
): number {
  let bucket = 0;
  let n = numBuckets;
  let rp = relativePosition;
  if (bidirectional) {
    n = n >> 1;
    if (rp > 0) bucket += n;
    rp = Math.abs(rp);
  } else {
    rp = -Math.min(rp, 0);
  }
  const maxExact = n >> 1;
  if (rp < maxExact) return bucket + rp;
  // float32 arithmetic as in PyTorch, then truncation toward zero (.to(torch.long))
  const f = Math.fround;
  const ratio = f(f(Math.log(f(rp / maxExact))) / f(Math.log(maxDistance / maxExact)));
  const large = maxExact + Math.trunc(f(f(ratio) * (n - maxExact)));
  return bucket + Math.min(large, n - 1);
}

/**
 * Builds the additive bias [H, Tq, Tk] from a relative_attention_bias table [numBuckets, H].
 * Query i sits at absolute position queryOffset + i (queryOffset = Tk − Tq when decoding with a cache).
 */
export function relativePositionBias(
  table: Float32Array,
  H: number,
  Tq: number,
  Tk: number,
  bidirectional: boolean,
  numBuckets: number,
  maxDistance: number,
  queryOffset = 0,
): Float32Array {
  const out = new Float32Array(H * Tq * Tk);
  const buckets = new Int32Array(Tq * Tk);
  for (let i = 0; i < Tq; i++) {
    for (let j = 0; j < Tk; j++) {
      buckets[i * Tk + j] = relativePositionBucket(
        j - (i + queryOffset),
        bidirectional,
        numBuckets,
        maxDistance,
      );
    }
  }
  for (let h = 0; h < H; h++) {
    const base = h * Tq * Tk;
    for (let t = 0; t < Tq * Tk; t++) out[base + t] = table[buckets[t] * H + h];
  }
  return out;
}
