// T5 relative-position bias for training: the bucket of every (query, key) pair, the bias [H,Tq,Tk]
// gathered from a relative_attention_bias table [buckets, H] (as src/models/relative-position.ts builds
// it for inference), and the backward: the bias gradient [H,Tq,Tk] that attention_backward_f32 leaves
// (summed over the batch and every layer sharing the bias) scattered back into the table's gradient.
// Host-side: O(H·Tq·Tk) additions per step, no kernel needed.
import { relativePositionBucket } from "../models/relative-position.ts";

/**
 * Bucket of every pair: [Tq·Tk] i32, element i·Tk + j = bucket(j − (i + queryOffset)). The bucket depends
 * only on j − i, so each of the Tq + Tk − 1 relative positions is bucketed once.
 */
export function positionBuckets(
  Tq: number,
  Tk: number,
  bidirectional: boolean,
  numBuckets: number,
  maxDistance: number,
  queryOffset = 0,
): Int32Array {
  const byOffset = new Int32Array(Tq + Tk - 1); // [Tq + Tk − 1] bucket of relative position r − (Tq − 1)
  for (let r = 0; r < byOffset.length; r++)
    byOffset[r] = relativePositionBucket(r - (Tq - 1) - queryOffset, bidirectional, numBuckets, maxDistance);
  const out = new Int32Array(Tq * Tk); // [Tq,Tk]
  for (let i = 0; i < Tq; i++) for (let j = 0; j < Tk; j++) out[i * Tk + j] = byOffset[j - i + Tq - 1];
  return out;
}

/** out [H,Tq,Tk] = table[bucket(i,j), h] (table [buckets, H]); `buckets` from positionBuckets (Tq·Tk). */
export function gatherPositionBias(
  out: Float32Array,
  table: Float32Array,
  buckets: Int32Array,
  H: number,
): void {
  const n = buckets.length;
  if (out.length !== H * n)
    throw new RangeError(`position bias: out has ${out.length} values, expected ${H * n}`);
  for (let h = 0; h < H; h++) {
    const base = h * n;
    for (let t = 0; t < n; t++) out[base + t] = table[buckets[t] * H + h];
  }
}

/**
 * dtable [buckets, H] += Σ over pairs of dbias [H,Tq,Tk] by bucket (each table entry's sum in f64, then
 * added once). The backward of gatherPositionBias.
 */
export function scatterPositionBiasGrad(
  dtable: Float32Array,
  dbias: Float32Array,
  buckets: Int32Array,
  H: number,
): void {
  const n = buckets.length;
  if (dbias.length !== H * n)
    throw new RangeError(`position bias: gradient has ${dbias.length} values, expected ${H * n}`);
  const acc = new Float64Array(dtable.length); // [buckets, H]
  for (let h = 0; h < H; h++) {
    const base = h * n;
    for (let t = 0; t < n; t++) acc[buckets[t] * H + h] += dbias[base + t];
  }
  for (let i = 0; i < acc.length; i++) dtable[i] += acc[i];
}
