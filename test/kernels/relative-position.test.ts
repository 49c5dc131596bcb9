// T5 relative position buckets against transformers' _relative_position_bucket for every relative
// position −300..300, bidirectional (encoder) and causal (decoder), 32 buckets, max distance 128.
import { describe, expect, it } from "vitest";
import { relativePositionBias, relativePositionBucket } from "../../src/models/relative-position.ts";
import { readJsonFixture } from "../helpers/fixtures.ts";

const ref = readJsonFixture<{
  relative_position: number[];
  bidirectional_32_128: number[];
  causal_32_128: number[];
}>("kernels/t5_relative_position_buckets.json");

describe("T5 relative position buckets", () => {
  it("match transformers on all 601 positions in both directions", () => {
    expect(ref.relative_position.length).toBe(601);
    const bi = ref.relative_position.map((rp) => relativePositionBucket(rp, true, 32, 128));
    const causal = ref.relative_position.map((rp) => relativePositionBucket(rp, false, 32, 128));
    expect(bi).toEqual(ref.bidirectional_32_128);
    expect(causal).toEqual(ref.causal_32_128);
  });

  it("bias [H,Tq,Tk] indexes the table by bucket and head; a decoding query uses its offset", () => {
    const H = 2;
    const table = Float32Array.from({ length: 32 * H }, (_, i) => i); // table[bucket, h] = bucket*H + h
    const full = relativePositionBias(table, H, 5, 5, false, 32, 128);
    const step = relativePositionBias(table, H, 1, 5, false, 32, 128, 4);
    for (let h = 0; h < H; h++)
      for (let j = 0; j < 5; j++) {
        expect(full[(h * 5 + 4) * 5 + j]).toBe(relativePositionBucket(j - 4, false, 32, 128) * H + h);
        expect(step[h * 5 + j]).toBe(full[(h * 5 + 4) * 5 + j]);
      }
  });
});
