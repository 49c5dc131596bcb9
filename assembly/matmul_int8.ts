// int8 GEMM  Y[M,N] = epilogue(dequant(Xq · Wqᵀ) + b): int8 weights with one scale per output row,
// activations quantized per row at run time to up to 12-bit integers (see activation_qmax),
// products in i32x4.dot_i16x8_s, int32 accumulation,
// f32 out. Weights packed once (pack_weights_i8). Register tile: 4 rows × 8 columns of i32x4.
import { epiRef } from "./epilogue";
import { quantize_rows_i16 } from "./quant";
import { storeTile8 } from "./matmul_store";

/** 4 rows × 8 columns over all k pairs. xq rows are i16 pairs; bp walks the packed panel. */
@inline function tile4x8_i8(
  y: usize, preact: usize, xq: usize, xs: usize, panel: usize, sp: usize, bias: usize, residual: usize,
  m: i32, pairs: i32, N: i32, n0: i32, epilogue: i32,
): void {
  let c00 = i32x4.splat(0), c01 = i32x4.splat(0), c10 = i32x4.splat(0), c11 = i32x4.splat(0);
  let c20 = i32x4.splat(0), c21 = i32x4.splat(0), c30 = i32x4.splat(0), c31 = i32x4.splat(0);
  const rowBytes = <usize>pairs << 2;
  let xp = xq + <usize>m * rowBytes;
  const xEnd = xp + rowBytes;
  let bp = panel;
  while (xp < xEnd) {
    const w = v128.load(bp);
    const wl = i16x8.extend_low_i8x16_s(w);
    const wh = i16x8.extend_high_i8x16_s(w);
    let a = v128.load32_splat(xp);
    c00 = i32x4.add(c00, i32x4.dot_i16x8_s(a, wl));
    c01 = i32x4.add(c01, i32x4.dot_i16x8_s(a, wh));
    a = v128.load32_splat(xp + rowBytes);
    c10 = i32x4.add(c10, i32x4.dot_i16x8_s(a, wl));
    c11 = i32x4.add(c11, i32x4.dot_i16x8_s(a, wh));
    a = v128.load32_splat(xp + 2 * rowBytes);
    c20 = i32x4.add(c20, i32x4.dot_i16x8_s(a, wl));
    c21 = i32x4.add(c21, i32x4.dot_i16x8_s(a, wh));
    a = v128.load32_splat(xp + 3 * rowBytes);
    c30 = i32x4.add(c30, i32x4.dot_i16x8_s(a, wl));
    c31 = i32x4.add(c31, i32x4.dot_i16x8_s(a, wh));
    xp += 4;
    bp += 16;
  }
  const s0 = v128.load(sp + (<usize>n0 << 2));
  const s1 = v128.load(sp + (<usize>n0 << 2), 16);
  storeRowI8(y, preact, xs, bias, residual, m, n0, N, c00, c01, s0, s1, epilogue);
  storeRowI8(y, preact, xs, bias, residual, m + 1, n0, N, c10, c11, s0, s1, epilogue);
  storeRowI8(y, preact, xs, bias, residual, m + 2, n0, N, c20, c21, s0, s1, epilogue);
  storeRowI8(y, preact, xs, bias, residual, m + 3, n0, N, c30, c31, s0, s1, epilogue);
}

/** Dequantizes one row's accumulators (acc · xs[m] · ws[n]) and stores through the shared epilogue. */
@inline function storeRowI8(
  y: usize, preact: usize, xs: usize, bias: usize, residual: usize,
  m: i32, n0: i32, N: i32, c0: v128, c1: v128, s0: v128, s1: v128, epilogue: i32,
): void {
  const sx = f32x4.splat(load<f32>(xs + (<usize>m << 2)));
  const v0 = f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(c0), sx), s0);
  const v1 = f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(c1), sx), s1);
  storeTile8(y, preact, bias, residual, m, n0, N, v0, v1, epilogue);
}

/** One row × 8 columns, k pairs unrolled by 2 into independent accumulators (decoding, row tails). */
@inline function row1x8_i8(
  y: usize, preact: usize, xq: usize, xs: usize, panel: usize, sp: usize, bias: usize, residual: usize,
  m: i32, pairs: i32, N: i32, n0: i32, epilogue: i32,
): void {
  let a0 = i32x4.splat(0), a1 = i32x4.splat(0), b0 = i32x4.splat(0), b1 = i32x4.splat(0);
  const xr = xq + ((<usize>m * pairs) << 2);
  let bp = panel;
  let kp = 0;
  for (; kp + 2 <= pairs; kp += 2) {
    const xo = xr + (<usize>kp << 2);
    let w = v128.load(bp);
    let a = v128.load32_splat(xo);
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(a, i16x8.extend_low_i8x16_s(w)));
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(a, i16x8.extend_high_i8x16_s(w)));
    w = v128.load(bp, 16);
    a = v128.load32_splat(xo, 4);
    b0 = i32x4.add(b0, i32x4.dot_i16x8_s(a, i16x8.extend_low_i8x16_s(w)));
    b1 = i32x4.add(b1, i32x4.dot_i16x8_s(a, i16x8.extend_high_i8x16_s(w)));
    bp += 32;
  }
  if (kp < pairs) {
    const w = v128.load(bp);
    const a = v128.load32_splat(xr + (<usize>kp << 2));
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(a, i16x8.extend_low_i8x16_s(w)));
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(a, i16x8.extend_high_i8x16_s(w)));
  }
  const s0 = v128.load(sp + (<usize>n0 << 2));
  const s1 = v128.load(sp + (<usize>n0 << 2), 16);
  storeRowI8(y, preact, xs, bias, residual, m, n0, N, i32x4.add(a0, b0), i32x4.add(a1, b1), s0, s1, epilogue);
}

/**
 * Y[M,N] = epilogue(X[M,K] · Wᵀ + b) with int8 weights.
 * y: [M,N] out; preact: [M,N] or 0; xq: scratch [M, 2·ceil(K/2)] i16; xs: scratch [M] f32;
 * x: [M,K] f32; wp, sp: packed weights and scales (pack_weights_i8); bias: [N] or 0; residual: [M,N] or 0.
 */
export function matmul_i8(
  y: usize, preact: usize, xq: usize, xs: usize, x: usize, wp: usize, sp: usize, bias: usize, residual: usize,
  M: i32, K: i32, N: i32, epilogue: i32,
): void {
  quantize_rows_i16(xq, xs, x, M, K);
  const pairs = (K + 1) >> 1;
  const panels = (N + 7) >> 3;
  const panelBytes = <usize>pairs << 4;
  let mc = (65536 / max(pairs, 1)) & ~3;
  if (mc < 4) mc = 4;
  for (let m0 = 0; m0 < M; m0 += mc) {
    const mEnd = min(M, m0 + mc);
    for (let p = 0; p < panels; p++) {
      const panel = wp + <usize>p * panelBytes;
      const n0 = p << 3;
      let m = m0;
      for (; m + 4 <= mEnd; m += 4) tile4x8_i8(y, preact, xq, xs, panel, sp, bias, residual, m, pairs, N, n0, epilogue);
      for (; m < mEnd; m++) row1x8_i8(y, preact, xq, xs, panel, sp, bias, residual, m, pairs, N, n0, epilogue);
    }
  }
}

/**
 * Scalar reference over unpacked wq[N,K] i8 and scales[N]: the same activation quantization, exact
 * integer dot products, then (acc · xs) · ws + b and an f64 epilogue.
 */
export function matmul_i8_ref(
  y: usize, preact: usize, xq: usize, xs: usize, x: usize, wq: usize, scales: usize, bias: usize, residual: usize,
  M: i32, K: i32, N: i32, epilogue: i32,
): void {
  quantize_rows_i16(xq, xs, x, M, K);
  const K2 = ((K + 1) >> 1) << 1;
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc: i64 = 0;
      for (let k = 0; k < K; k++) {
        acc += <i64>load<i16>(xq + ((<usize>m * K2 + k) << 1)) * <i64>load<i8>(wq + <usize>n * K + k);
      }
      let v: f32 = (<f32>acc * load<f32>(xs + (<usize>m << 2))) * load<f32>(scales + (<usize>n << 2));
      if (bias) v += load<f32>(bias + (<usize>n << 2));
      const o = (<usize>m * N + n) << 2;
      if (preact) store<f32>(preact + o, v);
      store<f32>(y + o, <f32>epiRef(<f64>v, epilogue, residual + o));
    }
  }
}
