// f32 GEMM  Y[M,N] = X[M,K] · Wᵀ + b  (W in Hugging Face Linear layout [N,K]) with fused epilogues.
// W is packed once at load time into column panels Wp[ceil(N/8)][K][8] (zero-padded), so the inner
// loop reads 8 output columns per k with two v128 loads. Register tile: 4 rows × 8 columns (8 f32x4
// accumulators + 2 weight vectors + 1 broadcast = 11 of V8's 16 vector registers). M = 1 (decoding)
// and row tails use a matrix-vector path with four independent accumulator pairs.
import { madd } from "./vecmath";
import { epiRef } from "./epilogue";
import { storeTile8 } from "./matmul_store";


/** Bytes of the packed panel layout for an [N,K] weight. */
export function packed_size_f32(N: i32, K: i32): i32 {
  return ((N + 7) >> 3) * K * 32;
}

/** Packs W[N,K] (row-major) into Wp[ceil(N/8)][K][8], zero-padding the last panel. */
export function pack_weights_f32(wp: usize, w: usize, N: i32, K: i32): void {
  const panels = (N + 7) >> 3;
  for (let p = 0; p < panels; p++) {
    for (let k = 0; k < K; k++) {
      const dst = wp + ((<usize>p * K + k) << 5);
      for (let j = 0; j < 8; j++) {
        const n = (p << 3) + j;
        store<f32>(dst + (<usize>j << 2), n < N ? load<f32>(w + ((<usize>n * K + k) << 2)) : 0);
      }
    }
  }
}

/** 4×8 register tile over the full K for rows m..m+3 and panel columns n0..n0+7. */
@inline function tile4x8(
  y: usize, preact: usize, x: usize, panel: usize, bias: usize, residual: usize,
  m: i32, K: i32, N: i32, n0: i32, epilogue: i32,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  const rowBytes = <usize>K << 2;
  let xp = x + <usize>m * rowBytes;
  let bp = panel;
  const xEnd = xp + rowBytes;
  while (xp < xEnd) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let a = v128.load32_splat(xp);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    a = v128.load32_splat(xp + rowBytes);
    c10 = madd(a, b0, c10);
    c11 = madd(a, b1, c11);
    a = v128.load32_splat(xp + 2 * rowBytes);
    c20 = madd(a, b0, c20);
    c21 = madd(a, b1, c21);
    a = v128.load32_splat(xp + 3 * rowBytes);
    c30 = madd(a, b0, c30);
    c31 = madd(a, b1, c31);
    xp += 4;
    bp += 32;
  }
  storeTile8(y, preact, bias, residual, m, n0, N, c00, c01, epilogue);
  storeTile8(y, preact, bias, residual, m + 1, n0, N, c10, c11, epilogue);
  storeTile8(y, preact, bias, residual, m + 2, n0, N, c20, c21, epilogue);
  storeTile8(y, preact, bias, residual, m + 3, n0, N, c30, c31, epilogue);
}

/** One row × 8 columns with k unrolled by 4 into independent accumulators (latency-bound case). */
@inline function row1x8(
  y: usize, preact: usize, x: usize, panel: usize, bias: usize, residual: usize,
  m: i32, K: i32, N: i32, n0: i32, epilogue: i32,
): void {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), b0 = f32x4.splat(0), b1 = f32x4.splat(0);
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), d0 = f32x4.splat(0), d1 = f32x4.splat(0);
  const xr = x + ((<usize>m * K) << 2);
  let bp = panel;
  let k = 0;
  for (; k + 4 <= K; k += 4) {
    const xo = xr + (<usize>k << 2);
    let s = v128.load32_splat(xo);
    a0 = madd(s, v128.load(bp), a0);
    a1 = madd(s, v128.load(bp, 16), a1);
    s = v128.load32_splat(xo, 4);
    b0 = madd(s, v128.load(bp, 32), b0);
    b1 = madd(s, v128.load(bp, 48), b1);
    s = v128.load32_splat(xo, 8);
    c0 = madd(s, v128.load(bp, 64), c0);
    c1 = madd(s, v128.load(bp, 80), c1);
    s = v128.load32_splat(xo, 12);
    d0 = madd(s, v128.load(bp, 96), d0);
    d1 = madd(s, v128.load(bp, 112), d1);
    bp += 128;
  }
  for (; k < K; k++) {
    const s = v128.load32_splat(xr + (<usize>k << 2));
    a0 = madd(s, v128.load(bp), a0);
    a1 = madd(s, v128.load(bp, 16), a1);
    bp += 32;
  }
  const v0 = f32x4.add(f32x4.add(a0, b0), f32x4.add(c0, d0));
  const v1 = f32x4.add(f32x4.add(a1, b1), f32x4.add(c1, d1));
  storeTile8(y, preact, bias, residual, m, n0, N, v0, v1, epilogue);
}

/**
 * Y[M,N] = epilogue(X[M,K] · Wᵀ + b).
 * y: [M,N] out; preact: [M,N] pre-activation (x·Wᵀ + b) saved for backward, or 0;
 * x: [M,K]; wp: packed weights (pack_weights_f32); bias: [N] or 0; residual: [M,N] or 0 (EPI_RESIDUAL);
 * y must not alias x; it may alias residual.
 */
export function matmul_f32(
  y: usize, preact: usize, x: usize, wp: usize, bias: usize, residual: usize,
  M: i32, K: i32, N: i32, epilogue: i32,
): void {
  const panels = (N + 7) >> 3;
  const panelBytes = <usize>K << 5;
  // Rows per block so a block of X stays in L2 (~256 KB) while every panel streams past it.
  let mc = (65536 / max(K, 1)) & ~3;
  if (mc < 4) mc = 4;
  for (let m0 = 0; m0 < M; m0 += mc) {
    const mEnd = min(M, m0 + mc);
    for (let p = 0; p < panels; p++) {
      const panel = wp + <usize>p * panelBytes;
      const n0 = p << 3;
      let m = m0;
      for (; m + 4 <= mEnd; m += 4) tile4x8(y, preact, x, panel, bias, residual, m, K, N, n0, epilogue);
      for (; m < mEnd; m++) row1x8(y, preact, x, panel, bias, residual, m, K, N, n0, epilogue);
    }
  }
}

/** Scalar reference: f64 accumulation over unpacked W[N,K]. Same arguments as matmul_f32. */
export function matmul_f32_ref(
  y: usize, preact: usize, x: usize, w: usize, bias: usize, residual: usize,
  M: i32, K: i32, N: i32, epilogue: i32,
): void {
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc: f64 = bias ? <f64>load<f32>(bias + (<usize>n << 2)) : 0;
      for (let k = 0; k < K; k++) {
        acc += <f64>load<f32>(x + ((<usize>m * K + k) << 2)) * <f64>load<f32>(w + ((<usize>n * K + k) << 2));
      }
      const o = (<usize>m * N + n) << 2;
      if (preact) store<f32>(preact + o, <f32>acc);
      store<f32>(y + o, <f32>epiRef(acc, epilogue, residual + o));
    }
  }
}
