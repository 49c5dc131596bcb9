// f32 GEMM blocking paths on every build: several M blocks of packed X strips, the unpacked path past
// the scratch's K limit, and the M mod 4 row tail. The result of an output must not depend on how the
// rows are blocked (each output's k order is fixed), so rows computed alone equal the full product.
import { beforeAll, describe, expect, it } from "vitest";
import { Epilogue } from "../../src/runtime/kernels.ts";
import { expectClose } from "../helpers/compare.ts";
import { type Build, loadBuilds, relaxedSupported } from "../helpers/kernels.ts";
import { normal } from "../helpers/random.ts";

let builds: Build[] = [];
beforeAll(async () => {
  builds = await loadBuilds();
});

const BUILDS = relaxedSupported() ? ["simd", "debug", "relaxed"] : ["simd", "debug"];

describe.each(BUILDS)("%s build", (buildName) => {
  const rt = () => builds.find((b) => b.name === buildName)!.rt;

  it.each([
    [70, 1000, 12], // rows in blocks of 32 packed strips, then a 2-row tail
    [9, 2100, 17], // 12 rows per block at most; 8 packed rows and a 1-row tail
    [6, 8195, 9], // a 4-row strip of K = 8195 exceeds the scratch: X read in place
  ])("M=%i K=%i N=%i equals the reference and does not depend on the row blocking", (M, K, N) => {
    const { arena, k } = rt();
    const mark = arena.mark();
    const x = arena.put(normal(M * K, M + K));
    const w = arena.put(normal(N * K, N + 3, 0.2));
    const b = arena.put(normal(N, 4, 0.5));
    const res = arena.put(normal(M * N, 6));
    const wp = arena.alloc(k.packed_size_f32(N, K));
    k.pack_weights_f32(wp, w, N, K);
    const [y, yr, pre, prer] = [0, 0, 0, 0].map(() => arena.allocF32(M * N));
    for (const epi of [Epilogue.geluErf, Epilogue.residual]) {
      k.matmul_f32(y, pre, x, wp, b, res, M, K, N, epi);
      k.matmul_f32_ref(yr, prer, x, w, b, res, M, K, N, epi);
      const tol = 2e-6 * Math.sqrt(K);
      expectClose(arena.f32(pre, M * N), arena.f32(prer, M * N), tol, 1e-5, `preact epilogue ${epi}`);
      expectClose(arena.f32(y, M * N), arena.f32(yr, M * N), tol, 1e-5, `y epilogue ${epi}`);
    }
    // rows 4i..4i+3 alone (one block, one strip) give the same bits as inside the full product
    k.matmul_f32(y, 0, x, wp, b, 0, M, K, N, Epilogue.bias);
    const full = new Uint32Array(arena.f32(y, M * N).slice().buffer);
    const part = arena.allocF32(4 * N);
    for (let m = 0; m + 4 <= (M & ~3); m += 4) {
      k.matmul_f32(part, 0, x + m * K * 4, wp, b, 0, 4, K, N, Epilogue.bias);
      const got = new Uint32Array(arena.f32(part, 4 * N).slice().buffer);
      expect(Array.from(got), `rows ${m}..${m + 3}`).toEqual(Array.from(full.subarray(m * N, (m + 4) * N)));
    }
    arena.reset(mark);
  });
});
