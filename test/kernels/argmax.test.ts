// argmax_rows_f32 (greedy decoding's next token in wasm memory) against its scalar `_ref` and the host's
// argmax() on every build: odd row lengths (vector and scalar tail paths), ties (first index wins,
// across lanes and across the two lane sets), −∞, NaN entries (never win; a NaN first entry wins),
// and the maximum in the tail.
import { beforeAll, describe, expect, it } from "vitest";
import { argmax } from "../../src/models/t5-generate.ts";
import { type Build, loadBuilds, relaxedSupported } from "../helpers/kernels.ts";
import { normal } from "../helpers/random.ts";

let builds: Build[] = [];
beforeAll(async () => {
  builds = await loadBuilds();
});

const BUILDS = relaxedSupported() ? ["simd", "debug", "relaxed"] : ["simd", "debug"];

/** Rows [R,N] with the given edits applied to row r: [index, value] pairs. */
function rows(R: number, N: number, seed: number, edits: [number, number, number][] = []): Float32Array {
  const x = normal(R * N, seed);
  for (const [r, i, v] of edits) x[r * N + i] = v;
  return x;
}

describe.each(BUILDS)("%s build", (buildName) => {
  const rt = () => builds.find((b) => b.name === buildName)!.rt;

  function check(x: Float32Array, R: number, N: number): number[] {
    const { arena, k } = rt();
    const mark = arena.mark();
    const xp = arena.put(x);
    const [out, outr] = [arena.allocI32(R), arena.allocI32(R)];
    k.argmax_rows_f32(out, xp, R, N);
    k.argmax_rows_f32_ref(outr, xp, R, N);
    const got = Array.from(arena.i32(out, R));
    arena.reset(mark);
    const host = Array.from({ length: R }, (_, r) => argmax(x.subarray(r * N, (r + 1) * N)));
    expect(got).toEqual(host);
    expect(Array.from(arena.i32(outr, R))).toEqual(host);
    return got;
  }

  it.each([1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 1100, 32128])(
    "random rows of %i equal the host argmax",
    (N) => {
      check(rows(3, N, N), 3, N);
    },
  );

  it("ties: the first index wins, within a lane, across lanes and lane sets, and against the tail", () => {
    const N = 37; // 4 blocks of 8, then a tail of 5
    const x = rows(6, N, 5);
    for (let r = 0; r < 6; r++) for (let i = 0; i < N; i++) x[r * N + i] = Math.min(x[r * N + i], 2);
    const ties: [number, number[]][] = [
      [0, [9, 17]], // same lane of set A, two blocks apart
      [1, [13, 10]], // set B lane 1 before set A lane 2
      [2, [6, 3]], // lanes of set B and A in one block
      [3, [30, 34]], // last block and the scalar tail
      [4, [0, 25]], // the first entry
      [5, [35, 36]], // both in the tail
    ];
    for (const [r, at] of ties) for (const i of at) x[r * N + i] = 5;
    expect(check(x, 6, N)).toEqual(ties.map(([, at]) => Math.min(...at)));
  });

  it("−∞ rows, the maximum in the tail, NaN entries never win, a NaN first entry wins", () => {
    const N = 21;
    const x = rows(5, N, 8, [
      [1, 20, 50],
      [2, 4, Number.NaN],
      [2, 11, 40],
      [3, 0, Number.NaN],
      [3, 9, 60],
    ]);
    x.fill(Number.NEGATIVE_INFINITY, 0, N);
    x[4 * N + 12] = -0;
    for (let i = 0; i < N; i++) if (i !== 12) x[4 * N + i] = -1 - i;
    x[4 * N + 15] = 0; // +0 ties −0 at 12: the first wins
    expect(check(x, 5, N)).toEqual([0, 20, 11, 0, 12]);
  });
});
