// f32 GEMM  Y[M,N] = X[M,K] · Wᵀ + b  (W in Hugging Face Linear layout [N,K]) with fused epilogues.
// W is packed once at load time into column panels Wp[ceil(N/8)][K][8] (zero-padded), so the inner
// loop reads 8 output columns per k with two v128 loads. X is packed per call, one block of rows at a
// time, into 4-row strips [K][4] (XPACK), so the four broadcasts of a k come from one pointer. Register
// tile: 4 rows × 8 columns (8 f32x4 accumulators + 2 weight vectors + 4 broadcasts, which V8 issues
// before the arithmetic, + 1 product = 15 of V8's 15 allocatable vector registers on x64), each
// output summed over k in order. M = 1 (decoding), row tails and K > 8192 use a matrix-vector path with four
// independent accumulator pairs.
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

/**
 * Scratch for one M block of X re-laid out as 4-row strips [K][4] (128 KB: stays in L2). The backward
 * uses the same bytes as its ABLOCK (GEMM_KC · GEMM_MC · 4 = 128 KB); the two never run at once.
 */
const XPACK_BYTES: i32 = 131072;
const XPACK: usize = memory.data(XPACK_BYTES, 64);

/** Packs rows m..m+3 of X[*,K] into dst[K][4] (the four rows' k-th values side by side). */
@inline function packStrip4(dst: usize, x: usize, m: i32, K: i32): void {
  const rowBytes = <usize>K << 2;
  let s = x + <usize>m * rowBytes;
  const end4 = s + ((<usize>K & ~3) << 2);
  const end = s + rowBytes;
  while (s < end4) {
    const a = v128.load(s);
    const b = v128.load(s + rowBytes);
    const c = v128.load(s + 2 * rowBytes);
    const e = v128.load(s + 3 * rowBytes);
    const t0 = v128.shuffle<i32>(a, b, 0, 4, 1, 5); // a0 b0 a1 b1
    const t1 = v128.shuffle<i32>(c, e, 0, 4, 1, 5); // c0 e0 c1 e1
    const t2 = v128.shuffle<i32>(a, b, 2, 6, 3, 7); // a2 b2 a3 b3
    const t3 = v128.shuffle<i32>(c, e, 2, 6, 3, 7); // c2 e2 c3 e3
    v128.store(dst, v128.shuffle<i64>(t0, t1, 0, 2));
    v128.store(dst, v128.shuffle<i64>(t0, t1, 1, 3), 16);
    v128.store(dst, v128.shuffle<i64>(t2, t3, 0, 2), 32);
    v128.store(dst, v128.shuffle<i64>(t2, t3, 1, 3), 48);
    s += 16;
    dst += 64;
  }
  while (s < end) {
    store<f32>(dst, load<f32>(s));
    store<f32>(dst, load<f32>(s + rowBytes), 4);
    store<f32>(dst, load<f32>(s + 2 * rowBytes), 8);
    store<f32>(dst, load<f32>(s + 3 * rowBytes), 12);
    s += 4;
    dst += 16;
  }
}

/**
 * 4×8 register tile over the full K for rows m..m+3 and panel columns n0..n0+7, from a packed strip
 * xs[K][4]: the four broadcasts of a k share one pointer (memarg offsets), so the loop carries two
 * pointer increments and no address arithmetic.
 */
@inline function tile4x8p(
  y: usize, preact: usize, xs: usize, panel: usize, bias: usize, residual: usize,
  m: i32, K: i32, N: i32, n0: i32, epilogue: i32,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let ap = xs;
  let bp = panel;
  const end = xs + (<usize>K << 4);
  while (ap < end) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let a = v128.load32_splat(ap);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    a = v128.load32_splat(ap, 4);
    c10 = madd(a, b0, c10);
    c11 = madd(a, b1, c11);
    a = v128.load32_splat(ap, 8);
    c20 = madd(a, b0, c20);
    c21 = madd(a, b1, c21);
    a = v128.load32_splat(ap, 12);
    c30 = madd(a, b0, c30);
    c31 = madd(a, b1, c31);
    ap += 16;
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
  // Rows per block: the block of X, packed into 4-row strips, fills the scratch (stays in L2) while
  // every panel streams past it.
  let mc = ((XPACK_BYTES >> 2) / max(K, 1)) & ~3;
  if (mc < 4) mc = 4;
  // Rows [0, M4) run in 4×8 register tiles (sequential k per output); the rest in row1x8: the last
  // M mod 4 rows, and every row when K > XPACK_BYTES / 16 (not even one strip fits; no model here has
  // such a K, and a second, in-place copy of the tile would cost ~27 KB of .wasm for it).
  const M4 = <i64>mc * K * 4 <= XPACK_BYTES ? M & ~3 : 0;
  for (let m0 = 0; m0 < M4; m0 += mc) {
    const mEnd = min(M4, m0 + mc);
    for (let m = m0; m < mEnd; m += 4) packStrip4(XPACK + ((<usize>(m - m0) * K) << 2), x, m, K);
    for (let p = 0; p < panels; p++) {
      const panel = wp + <usize>p * panelBytes;
      const n0 = p << 3;
      for (let m = m0; m < mEnd; m += 4) {
        tile4x8p(y, preact, XPACK + ((<usize>(m - m0) * K) << 2), panel, bias, residual, m, K, N, n0, epilogue);
      }
    }
  }
  if (M4 < M) {
    for (let p = 0; p < panels; p++) {
      const panel = wp + <usize>p * panelBytes;
      for (let m = M4; m < M; m++) row1x8(y, preact, x, panel, bias, residual, m, K, N, p << 3, epilogue);
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

// ---- backward ------------------------------------------------------------------------------------
// For Y = X·Wᵀ + b:  dX[M,K] += dY[M,N]·W,  dW[N,K] += dYᵀ·X,  db[N] += Σ_rows dY.
// Layout choice: the backward takes W UNPACKED, in its Hugging Face [N,K] layout (the master copy the
// optimizer updates; the host re-packs it for the forward after each step, which is O(N·K)). In that
// layout dX's "panel" of 8 output columns k0..k0+7 is simply W[n, k0..k0+7] — contiguous within each
// row n — so both backward GEMMs run the forward's 4×8 register tile with no packing and no scratch:
//   dX:  C = dX, A(i, r) = dY[i, r], B(r, j) = W[r, j]   (reduction r over N)
//   dW:  C = dW, A(i, r) = dY[r, i], B(r, j) = X[r, j]   (reduction r over M)
// Both accumulate (+=) into C. The generic driver (gemmAcc) takes the element strides of A, so the
// attention backward uses it on strided per-head views (Q, K, V, dO rows inside [B,T,H·D] buffers).

/** C[4×8] += Σ_r A(i, r)·B(r, 0..7); A(i, r) at a + i·aRow + r·aK bytes, B(r, j) at b + r·bK + 4j. */
@inline function accTile4x8(
  c: usize, ldcB: usize, a: usize, aRow: usize, aK: usize, b: usize, bK: usize, R: i32,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  const a2 = aRow << 1;
  const a3 = a2 + aRow;
  let ap = a;
  let bp = b;
  for (let r = 0; r < R; r++) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let s = v128.load32_splat(ap);
    c00 = madd(s, b0, c00);
    c01 = madd(s, b1, c01);
    s = v128.load32_splat(ap + aRow);
    c10 = madd(s, b0, c10);
    c11 = madd(s, b1, c11);
    s = v128.load32_splat(ap + a2);
    c20 = madd(s, b0, c20);
    c21 = madd(s, b1, c21);
    s = v128.load32_splat(ap + a3);
    c30 = madd(s, b0, c30);
    c31 = madd(s, b1, c31);
    ap += aK;
    bp += bK;
  }
  let cp = c;
  v128.store(cp, f32x4.add(v128.load(cp), c00));
  v128.store(cp, f32x4.add(v128.load(cp, 16), c01), 16);
  cp += ldcB;
  v128.store(cp, f32x4.add(v128.load(cp), c10));
  v128.store(cp, f32x4.add(v128.load(cp, 16), c11), 16);
  cp += ldcB;
  v128.store(cp, f32x4.add(v128.load(cp), c20));
  v128.store(cp, f32x4.add(v128.load(cp, 16), c21), 16);
  cp += ldcB;
  v128.store(cp, f32x4.add(v128.load(cp), c30));
  v128.store(cp, f32x4.add(v128.load(cp, 16), c31), 16);
}

/** C[1×8] += Σ_r A(r)·B(r, 0..7), the reduction unrolled by 2 into independent accumulators. */
@inline function accTile1x8(c: usize, a: usize, aK: usize, b: usize, bK: usize, R: i32): void {
  let x0 = f32x4.splat(0), x1 = f32x4.splat(0), y0 = f32x4.splat(0), y1 = f32x4.splat(0);
  let ap = a;
  let bp = b;
  let r = 0;
  for (; r + 2 <= R; r += 2) {
    let s = v128.load32_splat(ap);
    x0 = madd(s, v128.load(bp), x0);
    x1 = madd(s, v128.load(bp, 16), x1);
    s = v128.load32_splat(ap + aK);
    y0 = madd(s, v128.load(bp + bK), y0);
    y1 = madd(s, v128.load(bp + bK, 16), y1);
    ap += aK << 1;
    bp += bK << 1;
  }
  if (r < R) {
    const s = v128.load32_splat(ap);
    x0 = madd(s, v128.load(bp), x0);
    x1 = madd(s, v128.load(bp, 16), x1);
  }
  v128.store(c, f32x4.add(v128.load(c), f32x4.add(x0, y0)));
  v128.store(c, f32x4.add(v128.load(c, 16), f32x4.add(x1, y1)), 16);
}

/** C[4×4] += Σ_r A(i, r)·B(r, 0..3) (a 4-column tail). */
@inline function accTile4x4(
  c: usize, ldcB: usize, a: usize, aRow: usize, aK: usize, b: usize, bK: usize, R: i32,
): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  let ap = a;
  let bp = b;
  for (let r = 0; r < R; r++) {
    const b0 = v128.load(bp);
    c0 = madd(v128.load32_splat(ap), b0, c0);
    c1 = madd(v128.load32_splat(ap + aRow), b0, c1);
    c2 = madd(v128.load32_splat(ap + (aRow << 1)), b0, c2);
    c3 = madd(v128.load32_splat(ap + aRow * 3), b0, c3);
    ap += aK;
    bp += bK;
  }
  v128.store(c, f32x4.add(v128.load(c), c0));
  v128.store(c + ldcB, f32x4.add(v128.load(c + ldcB), c1));
  v128.store(c + (ldcB << 1), f32x4.add(v128.load(c + (ldcB << 1)), c2));
  v128.store(c + ldcB * 3, f32x4.add(v128.load(c + ldcB * 3), c3));
}

/** C[1×4] += Σ_r A(r)·B(r, 0..3). */
@inline function accTile1x4(c: usize, a: usize, aK: usize, b: usize, bK: usize, R: i32): void {
  let x0 = f32x4.splat(0);
  let ap = a;
  let bp = b;
  for (let r = 0; r < R; r++) {
    x0 = madd(v128.load32_splat(ap), v128.load(bp), x0);
    ap += aK;
    bp += bK;
  }
  v128.store(c, f32x4.add(v128.load(c), x0));
}

/** Reduction rows per block (a packed B panel is GEMM_KC × 8 floats = 8 KB, kept in L1). */
const GEMM_KC: i32 = 256;
/** Rows of C per block when A is packed too (TN case): the packed A block is GEMM_KC × GEMM_MC floats. */
const GEMM_MC: i32 = 128;
/** Rows of C per block when only B is packed: the A block (GEMM_MC_NN × GEMM_KC) stays in L2. */
const GEMM_MC_NN: i32 = 128;
/** Packed B panel: GEMM_KC rows × 8 columns, contiguous. Strided rows of W or X (row pitch often a
 *  multiple of 1 KB) would map to a handful of L1 sets and evict each other; the packed copy does not. */
const BPANEL: usize = memory.data(GEMM_KC * 32, 64);
/** Packed A block for the TN case (A(i, r) contiguous along i): GEMM_KC rows × GEMM_MC columns. */
const ABLOCK: usize = XPACK; // the forward's scratch (XPACK_BYTES = GEMM_KC · GEMM_MC · 4), idle here

/** Packs B[0..rl, j..j+7] (row pitch bK bytes) into BPANEL. */
@inline function packPanel8(src: usize, bK: usize, rl: i32): void {
  let dst = BPANEL;
  for (let r = 0; r < rl; r++) {
    v128.store(dst, v128.load(src));
    v128.store(dst, v128.load(src, 16), 16);
    src += bK;
    dst += 32;
  }
}

/**
 * The blocked driver over C rows [0, M) for one reduction block of rl rows: A(i, r) at a + i·aRow + r·aK,
 * B rows bK bytes apart starting at column 0 of the block.
 */
@inline function gemmBlock(
  c: usize, ldcB: usize, a: usize, aRow: usize, aK: usize, b: usize, bK: usize, M: i32, N: i32, rl: i32,
): void {
  let j = 0;
  for (; j + 8 <= N; j += 8) {
    packPanel8(b + (<usize>j << 2), bK, rl);
    let i = 0;
    for (; i + 4 <= M; i += 4) {
      accTile4x8(c + <usize>i * ldcB + (<usize>j << 2), ldcB, a + <usize>i * aRow, aRow, aK, BPANEL, 32, rl);
    }
    for (; i < M; i++) accTile1x8(c + <usize>i * ldcB + (<usize>j << 2), a + <usize>i * aRow, aK, BPANEL, 32, rl);
  }
  if (j + 4 <= N) {
    const bj = b + (<usize>j << 2);
    let i = 0;
    for (; i + 4 <= M; i += 4) {
      accTile4x4(c + <usize>i * ldcB + (<usize>j << 2), ldcB, a + <usize>i * aRow, aRow, aK, bj, bK, rl);
    }
    for (; i < M; i++) accTile1x4(c + <usize>i * ldcB + (<usize>j << 2), a + <usize>i * aRow, aK, bj, bK, rl);
    j += 4;
  }
  for (; j < N; j++) {
    for (let i = 0; i < M; i++) {
      let acc: f32 = 0;
      let ap = a + <usize>i * aRow;
      let bp = b + (<usize>j << 2);
      for (let r = 0; r < rl; r++) {
        acc += load<f32>(ap) * load<f32>(bp);
        ap += aK;
        bp += bK;
      }
      const at = c + <usize>i * ldcB + (<usize>j << 2);
      store<f32>(at, load<f32>(at) + acc);
    }
  }
}

/**
 * C[M,N] += Σ_{r<R} A(i, r)·B[r, j], with A(i, r) at a + i·aRow + r·aK (byte strides), B row-major with
 * ldb elements per row, C row-major with ldc. Used by the GEMM and attention backward kernels.
 * When A is contiguous along i (aRow = 4: C = Aᵀ·B, as in dW = dYᵀ·X) blocks of A are packed as well.
 */
export function gemmAcc(
  c: usize, ldc: i32, a: usize, aRow: usize, aK: usize, b: usize, ldb: i32, M: i32, N: i32, R: i32,
): void {
  const bK = <usize>ldb << 2;
  const ldcB = <usize>ldc << 2;
  for (let r0 = 0; r0 < R; r0 += GEMM_KC) {
    const rl = min(GEMM_KC, R - r0);
    const ar = a + <usize>r0 * aK;
    const br = b + <usize>r0 * bK;
    if (aRow != 4 || M < 8) {
      for (let m0 = 0; m0 < M; m0 += GEMM_MC_NN) {
        gemmBlock(c + <usize>m0 * ldcB, ldcB, ar + <usize>m0 * aRow, aRow, aK, br, bK, min(GEMM_MC_NN, M - m0), N, rl);
      }
      continue;
    }
    for (let m0 = 0; m0 < M; m0 += GEMM_MC) {
      const mc = min(GEMM_MC, M - m0);
      // copy A[r0.., m0..m0+mc) rows into ABLOCK with a GEMM_MC-float pitch
      let src = ar + (<usize>m0 << 2);
      let dst = ABLOCK;
      for (let r = 0; r < rl; r++) {
        memory.copy(dst, src, <usize>mc << 2);
        src += aK;
        dst += GEMM_MC << 2;
      }
      gemmBlock(c + <usize>m0 * ldcB, ldcB, ABLOCK, 4, GEMM_MC << 2, br, bK, mc, N, rl);
    }
  }
}

/** db[N] += Σ_m dY[m, :]  (dY rows ldy elements apart). */
export function colSumAcc(db: usize, dy: usize, ldy: i32, M: i32, N: i32): void {
  let n = 0;
  for (; n + 8 <= N; n += 8) {
    let s0 = f32x4.splat(0);
    let s1 = f32x4.splat(0);
    let p = dy + (<usize>n << 2);
    for (let m = 0; m < M; m++) {
      s0 = f32x4.add(s0, v128.load(p));
      s1 = f32x4.add(s1, v128.load(p, 16));
      p += <usize>ldy << 2;
    }
    const o = db + (<usize>n << 2);
    v128.store(o, f32x4.add(v128.load(o), s0));
    v128.store(o, f32x4.add(v128.load(o, 16), s1), 16);
  }
  for (; n < N; n++) {
    let s: f32 = 0;
    for (let m = 0; m < M; m++) s += load<f32>(dy + ((<usize>m * ldy + n) << 2));
    const o = db + (<usize>n << 2);
    store<f32>(o, load<f32>(o) + s);
  }
}

/**
 * Backward of Y = X·Wᵀ + b (apply activation_backward_f32 to dY first when the forward fused an
 * activation: dPreact = dY ⊙ act'(preact)). All three ACCUMULATE; pass 0 to skip one.
 * dx: [M,K] += dY·W; dw: [N,K] += dYᵀ·X; db: [N] += Σ_m dY;
 * dy: [M,N]; x: [M,K] (the forward input); w: [N,K] UNPACKED (Hugging Face layout, not pack_weights_f32).
 * No output may alias an input.
 */
export function matmul_backward_f32(
  dx: usize, dw: usize, db: usize, dy: usize, x: usize, w: usize, M: i32, K: i32, N: i32,
): void {
  if (dx) gemmAcc(dx, K, dy, <usize>N << 2, 4, w, K, M, K, N);
  if (dw) gemmAcc(dw, K, dy, 4, <usize>N << 2, x, K, N, K, M);
  if (db) colSumAcc(db, dy, N, M, N);
}

/** f64 scalar reference for matmul_backward_f32 (same arguments; w unpacked [N,K]). */
export function matmul_backward_f32_ref(
  dx: usize, dw: usize, db: usize, dy: usize, x: usize, w: usize, M: i32, K: i32, N: i32,
): void {
  if (dx) {
    for (let m = 0; m < M; m++) {
      for (let k = 0; k < K; k++) {
        let acc: f64 = 0;
        for (let n = 0; n < N; n++) {
          acc += <f64>load<f32>(dy + ((<usize>m * N + n) << 2)) * <f64>load<f32>(w + ((<usize>n * K + k) << 2));
        }
        const o = dx + ((<usize>m * K + k) << 2);
        store<f32>(o, <f32>(<f64>load<f32>(o) + acc));
      }
    }
  }
  if (dw) {
    for (let n = 0; n < N; n++) {
      for (let k = 0; k < K; k++) {
        let acc: f64 = 0;
        for (let m = 0; m < M; m++) {
          acc += <f64>load<f32>(dy + ((<usize>m * N + n) << 2)) * <f64>load<f32>(x + ((<usize>m * K + k) << 2));
        }
        const o = dw + ((<usize>n * K + k) << 2);
        store<f32>(o, <f32>(<f64>load<f32>(o) + acc));
      }
    }
  }
  if (db) {
    for (let n = 0; n < N; n++) {
      let acc: f64 = 0;
      for (let m = 0; m < M; m++) acc += <f64>load<f32>(dy + ((<usize>m * N + n) << 2));
      const o = db + (<usize>n << 2);
      store<f32>(o, <f32>(<f64>load<f32>(o) + acc));
    }
  }
}
