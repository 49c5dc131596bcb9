// int8 GEMM  Y[M,N] = epilogue(dequant(Xq · Wqᵀ) + b): int8 weights with one scale per output row,
// activations quantized per row at run time to up to 12-bit integers (see activation_qmax),
// products in i32x4.dot_i16x8_s, int32 accumulation,
// f32 out. Weights packed once (pack_weights_i8). Register tile: 4 rows × 8 columns of i32x4. The
// quantizer writes each full group of 4 rows as a strip [pairs][4 rows][2] i16 (quantize_strips_i16),
// so the tile's four broadcasts per pair come from one pointer (V8 folds no i32 add into an address);
// the M mod 4 tail rows stay rows and take the one-row paths.
// The packed lanes hold two columns each (low byte: column j + 128, high byte: column j+4), so per
// 16 weight bytes the loop does one shift and two dot products instead of three widening ops and two:
// D = Σ x·lane = 256·Σ x·w_hi + Σ x·w_lo + 128·Σ x and H = Σ x·(lane >> 8) = Σ x·w_hi, hence
// Σ x·w_lo = D − 256·H − 128·Σ x (exact in wrapping int32: the true sums fit int32).
// matmul_i8b: the same with a multiplier per (output row, 8 columns) on top (quant.ts, "block" scheme),
// over pack_weights_i8b's plain panels.
import { epiRef } from "./epilogue";
import { QBLOCK, quantize_rows_i16, quantize_strips_i16 } from "./quant";
import { storeTile8 } from "./matmul_store";

/** Rows per block of matmul_i8's row sums (XSUM). */
const XSUM_ROWS: i32 = 1024;
/** 128·Σ_k xq[m,k] of the rows of one block (i32), the split lanes' offset correction. */
const XSUM: usize = memory.data(XSUM_ROWS * 4, 16);

/**
 * XSUM[m − m0] = 128·Σ_k xq[m,k] for rows m0 … mEnd−1 of quantize_strips_i16's layout: 4-row strips
 * [pairs][4][2] i16 below M4 (m0 a multiple of 4), rows of pairs·2 values from M4 on.
 */
function rowSums(xq: usize, m0: i32, mEnd: i32, M4: i32, pairs: i32): void {
  const rowBytes = <usize>pairs << 2;
  const sEnd = min(mEnd, M4);
  for (let m = m0; m < sEnd; m += 4) {
    // one v128 per pair holds the four rows' two values: pairwise sums give the four rows' sums
    let p = xq + <usize>m * rowBytes;
    const end = p + (rowBytes << 2);
    let acc = i32x4.splat(0);
    for (; p < end; p += 16) acc = i32x4.add(acc, i32x4.extadd_pairwise_i16x8_s(v128.load(p)));
    v128.store(XSUM + (<usize>(m - m0) << 2), i32x4.shl(acc, 7));
  }
  for (let m = max(m0, sEnd); m < mEnd; m++) {
    const row = xq + <usize>m * rowBytes;
    const end = row + rowBytes;
    let acc = i32x4.splat(0);
    let p = row;
    for (; p + 16 <= end; p += 16) acc = i32x4.add(acc, i32x4.extadd_pairwise_i16x8_s(v128.load(p)));
    let s = i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
    for (; p < end; p += 2) s += <i32>load<i16>(p);
    store<i32>(XSUM + (<usize>(m - m0) << 2), s << 7);
  }
}

/** Columns n0…n0+3 from the split sums: D − 256·H − 128·Σx. */
@inline function lowCols(d: v128, h: v128, xsum: i32): v128 {
  return i32x4.sub(i32x4.sub(d, i32x4.shl(h, 8)), i32x4.splat(xsum));
}

/** 4 rows × 8 columns over all k pairs. xq holds rows m…m+3 as a strip [pairs][4][2] i16 (one pointer
 * with offsets 0/4/8/12 for the four broadcasts); bp walks the packed panel. */
@inline function tile4x8_i8(
  y: usize, preact: usize, xq: usize, xs: usize, panel: usize, sp: usize, bias: usize, residual: usize,
  m: i32, m0: i32, pairs: i32, N: i32, n0: i32, epilogue: i32,
): void {
  let d0 = i32x4.splat(0), h0 = i32x4.splat(0), d1 = i32x4.splat(0), h1 = i32x4.splat(0);
  let d2 = i32x4.splat(0), h2 = i32x4.splat(0), d3 = i32x4.splat(0), h3 = i32x4.splat(0);
  const rowBytes = <usize>pairs << 2;
  let xp = xq + <usize>m * rowBytes;
  const xEnd = xp + (rowBytes << 2);
  let bp = panel;
  while (xp < xEnd) {
    const w = v128.load(bp);
    const wh = i16x8.shr_s(w, 8);
    let a = v128.load32_splat(xp);
    d0 = i32x4.add(d0, i32x4.dot_i16x8_s(a, w));
    h0 = i32x4.add(h0, i32x4.dot_i16x8_s(a, wh));
    a = v128.load32_splat(xp, 4);
    d1 = i32x4.add(d1, i32x4.dot_i16x8_s(a, w));
    h1 = i32x4.add(h1, i32x4.dot_i16x8_s(a, wh));
    a = v128.load32_splat(xp, 8);
    d2 = i32x4.add(d2, i32x4.dot_i16x8_s(a, w));
    h2 = i32x4.add(h2, i32x4.dot_i16x8_s(a, wh));
    a = v128.load32_splat(xp, 12);
    d3 = i32x4.add(d3, i32x4.dot_i16x8_s(a, w));
    h3 = i32x4.add(h3, i32x4.dot_i16x8_s(a, wh));
    xp += 16;
    bp += 16;
  }
  const s0 = v128.load(sp + (<usize>n0 << 2));
  const s1 = v128.load(sp + (<usize>n0 << 2), 16);
  const xsum = XSUM + (<usize>(m - m0) << 2);
  storeRowI8(y, preact, xs, bias, residual, m, n0, N, lowCols(d0, h0, load<i32>(xsum)), h0, s0, s1, epilogue);
  storeRowI8(y, preact, xs, bias, residual, m + 1, n0, N, lowCols(d1, h1, load<i32>(xsum, 4)), h1, s0, s1, epilogue);
  storeRowI8(y, preact, xs, bias, residual, m + 2, n0, N, lowCols(d2, h2, load<i32>(xsum, 8)), h2, s0, s1, epilogue);
  storeRowI8(y, preact, xs, bias, residual, m + 3, n0, N, lowCols(d3, h3, load<i32>(xsum, 12)), h3, s0, s1, epilogue);
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
  m: i32, m0: i32, pairs: i32, N: i32, n0: i32, epilogue: i32,
): void {
  let da = i32x4.splat(0), ha = i32x4.splat(0), db = i32x4.splat(0), hb = i32x4.splat(0);
  const xr = xq + ((<usize>m * pairs) << 2);
  let bp = panel;
  let kp = 0;
  for (; kp + 2 <= pairs; kp += 2) {
    const xo = xr + (<usize>kp << 2);
    let w = v128.load(bp);
    let a = v128.load32_splat(xo);
    da = i32x4.add(da, i32x4.dot_i16x8_s(a, w));
    ha = i32x4.add(ha, i32x4.dot_i16x8_s(a, i16x8.shr_s(w, 8)));
    w = v128.load(bp, 16);
    a = v128.load32_splat(xo, 4);
    db = i32x4.add(db, i32x4.dot_i16x8_s(a, w));
    hb = i32x4.add(hb, i32x4.dot_i16x8_s(a, i16x8.shr_s(w, 8)));
    bp += 32;
  }
  if (kp < pairs) {
    const w = v128.load(bp);
    const a = v128.load32_splat(xr + (<usize>kp << 2));
    da = i32x4.add(da, i32x4.dot_i16x8_s(a, w));
    ha = i32x4.add(ha, i32x4.dot_i16x8_s(a, i16x8.shr_s(w, 8)));
  }
  const s0 = v128.load(sp + (<usize>n0 << 2));
  const s1 = v128.load(sp + (<usize>n0 << 2), 16);
  const h = i32x4.add(ha, hb);
  const c0 = lowCols(i32x4.add(da, db), h, load<i32>(XSUM + (<usize>(m - m0) << 2)));
  storeRowI8(y, preact, xs, bias, residual, m, n0, N, c0, h, s0, s1, epilogue);
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
  quantize_strips_i16(xq, xs, x, M, K); // rows below M & ~3 in 4-row strips, the tail in rows
  const M4 = M & ~3;
  const pairs = (K + 1) >> 1;
  const panels = (N + 7) >> 3;
  const panelBytes = <usize>pairs << 4;
  let mc = (65536 / max(pairs, 1)) & ~3;
  if (mc < 4) mc = 4;
  if (mc > XSUM_ROWS) mc = XSUM_ROWS;
  for (let m0 = 0; m0 < M; m0 += mc) {
    const mEnd = min(M, m0 + mc);
    rowSums(xq, m0, mEnd, M4, pairs);
    for (let p = 0; p < panels; p++) {
      const panel = wp + <usize>p * panelBytes;
      const n0 = p << 3;
      let m = m0;
      for (; m + 4 <= mEnd; m += 4) tile4x8_i8(y, preact, xq, xs, panel, sp, bias, residual, m, m0, pairs, N, n0, epilogue);
      for (; m < mEnd; m++) row1x8_i8(y, preact, xq, xs, panel, sp, bias, residual, m, m0, pairs, N, n0, epilogue);
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

// ---- block multipliers (quantize_weights_i8b) ------------------------------------------------------
// Same panels and per-column scales (the row units), plus one i8 multiplier per (column, block of
// QBLOCK = 8 k = 4 pairs). Mp: [panels][blocks][8]. For 4 or more rows each panel is first widened to
// i16 and multiplied once into scratch (q·m ≤ 2032 fits i16), so the 4×8 tile just loads it: fewer live
// registers than multiplying in the loop (which spilled and ran 2× slower). Single rows multiply inline.

/** Multipliers of one panel block, widened to the i16 lane order of the low / high weight halves. */
@inline function multLanes(mp: usize): v128 {
  const m = v128.load64_zero(mp);
  return i8x16.shuffle(m, m, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
}

/** Widens one packed panel to i16 and applies its multipliers: wide[pairs][2 halves] v128. */
function expandPanel(wide: usize, panel: usize, mpanel: usize, pairs: i32): void {
  let bp = panel;
  let dst = wide;
  let mp = mpanel;
  const end = panel + (<usize>pairs << 4);
  const fullEnd = panel + (<usize>(pairs & ~3) << 4);
  while (bp < fullEnd) {
    const mv = multLanes(mp);
    const ml = i16x8.extend_low_i8x16_u(mv);
    const mh = i16x8.extend_high_i8x16_u(mv);
    let w = v128.load(bp);
    v128.store(dst, i16x8.mul(i16x8.extend_low_i8x16_s(w), ml));
    v128.store(dst, i16x8.mul(i16x8.extend_high_i8x16_s(w), mh), 16);
    w = v128.load(bp, 16);
    v128.store(dst, i16x8.mul(i16x8.extend_low_i8x16_s(w), ml), 32);
    v128.store(dst, i16x8.mul(i16x8.extend_high_i8x16_s(w), mh), 48);
    w = v128.load(bp, 32);
    v128.store(dst, i16x8.mul(i16x8.extend_low_i8x16_s(w), ml), 64);
    v128.store(dst, i16x8.mul(i16x8.extend_high_i8x16_s(w), mh), 80);
    w = v128.load(bp, 48);
    v128.store(dst, i16x8.mul(i16x8.extend_low_i8x16_s(w), ml), 96);
    v128.store(dst, i16x8.mul(i16x8.extend_high_i8x16_s(w), mh), 112);
    bp += 64;
    dst += 128;
    mp += 8;
  }
  if (bp < end) {
    const mv = multLanes(mp);
    const ml = i16x8.extend_low_i8x16_u(mv);
    const mh = i16x8.extend_high_i8x16_u(mv);
    for (; bp < end; bp += 16) {
      const w = v128.load(bp);
      v128.store(dst, i16x8.mul(i16x8.extend_low_i8x16_s(w), ml));
      v128.store(dst, i16x8.mul(i16x8.extend_high_i8x16_s(w), mh), 16);
      dst += 32;
    }
  }
}

/** 4 rows × 8 columns over a widened panel (expandPanel), rows m…m+3 read from their strip (tile4x8_i8). */
@inline function tile4x8_wide(
  y: usize, preact: usize, xq: usize, xs: usize, wide: usize, sp: usize, bias: usize, residual: usize,
  m: i32, pairs: i32, N: i32, n0: i32, epilogue: i32,
): void {
  let c00 = i32x4.splat(0), c01 = i32x4.splat(0), c10 = i32x4.splat(0), c11 = i32x4.splat(0);
  let c20 = i32x4.splat(0), c21 = i32x4.splat(0), c30 = i32x4.splat(0), c31 = i32x4.splat(0);
  const rowBytes = <usize>pairs << 2;
  let xp = xq + <usize>m * rowBytes;
  const xEnd = xp + (rowBytes << 2);
  let bp = wide;
  while (xp < xEnd) {
    const wl = v128.load(bp);
    const wh = v128.load(bp, 16);
    let a = v128.load32_splat(xp);
    c00 = i32x4.add(c00, i32x4.dot_i16x8_s(a, wl));
    c01 = i32x4.add(c01, i32x4.dot_i16x8_s(a, wh));
    a = v128.load32_splat(xp, 4);
    c10 = i32x4.add(c10, i32x4.dot_i16x8_s(a, wl));
    c11 = i32x4.add(c11, i32x4.dot_i16x8_s(a, wh));
    a = v128.load32_splat(xp, 8);
    c20 = i32x4.add(c20, i32x4.dot_i16x8_s(a, wl));
    c21 = i32x4.add(c21, i32x4.dot_i16x8_s(a, wh));
    a = v128.load32_splat(xp, 12);
    c30 = i32x4.add(c30, i32x4.dot_i16x8_s(a, wl));
    c31 = i32x4.add(c31, i32x4.dot_i16x8_s(a, wh));
    xp += 16;
    bp += 32;
  }
  const s0 = v128.load(sp + (<usize>n0 << 2));
  const s1 = v128.load(sp + (<usize>n0 << 2), 16);
  storeRowI8(y, preact, xs, bias, residual, m, n0, N, c00, c01, s0, s1, epilogue);
  storeRowI8(y, preact, xs, bias, residual, m + 1, n0, N, c10, c11, s0, s1, epilogue);
  storeRowI8(y, preact, xs, bias, residual, m + 2, n0, N, c20, c21, s0, s1, epilogue);
  storeRowI8(y, preact, xs, bias, residual, m + 3, n0, N, c30, c31, s0, s1, epilogue);
}

/** 1 row × 8 columns over a widened panel, two pairs at a time into independent accumulators. */
@inline function row1x8_wide(
  y: usize, preact: usize, xq: usize, xs: usize, wide: usize, sp: usize, bias: usize, residual: usize,
  m: i32, pairs: i32, N: i32, n0: i32, epilogue: i32,
): void {
  let a0 = i32x4.splat(0), a1 = i32x4.splat(0), b0 = i32x4.splat(0), b1 = i32x4.splat(0);
  const xr = xq + ((<usize>m * pairs) << 2);
  let bp = wide;
  let kp = 0;
  for (; kp + 2 <= pairs; kp += 2) {
    let a = v128.load32_splat(xr + (<usize>kp << 2));
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(a, v128.load(bp)));
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(a, v128.load(bp, 16)));
    a = v128.load32_splat(xr + (<usize>kp << 2), 4);
    b0 = i32x4.add(b0, i32x4.dot_i16x8_s(a, v128.load(bp, 32)));
    b1 = i32x4.add(b1, i32x4.dot_i16x8_s(a, v128.load(bp, 48)));
    bp += 64;
  }
  if (kp < pairs) {
    const a = v128.load32_splat(xr + (<usize>kp << 2));
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(a, v128.load(bp)));
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(a, v128.load(bp, 16)));
  }
  const s0 = v128.load(sp + (<usize>n0 << 2));
  const s1 = v128.load(sp + (<usize>n0 << 2), 16);
  storeRowI8(y, preact, xs, bias, residual, m, n0, N, i32x4.add(a0, b0), i32x4.add(a1, b1), s0, s1, epilogue);
}

/** One row × 8 columns straight from the int8 panel (fewer than 4 rows: decoding): each block's 4 pairs
 * into fresh accumulators, which are then multiplied by the block's multipliers (i32 lanes). */
@inline function row1x8_i8b(
  y: usize, preact: usize, xq: usize, xs: usize, panel: usize, sp: usize, mpanel: usize, bias: usize,
  residual: usize, m: i32, pairs: i32, N: i32, n0: i32, epilogue: i32,
): void {
  let t0 = i32x4.splat(0), t1 = i32x4.splat(0);
  const xr = xq + ((<usize>m * pairs) << 2);
  let bp = panel;
  let mp = mpanel;
  let kp = 0;
  for (; kp + 4 <= pairs; kp += 4) {
    const xo = xr + (<usize>kp << 2);
    let w = v128.load(bp);
    let a = v128.load32_splat(xo);
    let a0 = i32x4.dot_i16x8_s(a, i16x8.extend_low_i8x16_s(w));
    let a1 = i32x4.dot_i16x8_s(a, i16x8.extend_high_i8x16_s(w));
    w = v128.load(bp, 16);
    a = v128.load32_splat(xo, 4);
    let b0 = i32x4.dot_i16x8_s(a, i16x8.extend_low_i8x16_s(w));
    let b1 = i32x4.dot_i16x8_s(a, i16x8.extend_high_i8x16_s(w));
    w = v128.load(bp, 32);
    a = v128.load32_splat(xo, 8);
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(a, i16x8.extend_low_i8x16_s(w)));
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(a, i16x8.extend_high_i8x16_s(w)));
    w = v128.load(bp, 48);
    a = v128.load32_splat(xo, 12);
    b0 = i32x4.add(b0, i32x4.dot_i16x8_s(a, i16x8.extend_low_i8x16_s(w)));
    b1 = i32x4.add(b1, i32x4.dot_i16x8_s(a, i16x8.extend_high_i8x16_s(w)));
    const mv = i16x8.extend_low_i8x16_u(v128.load64_zero(mp));
    t0 = i32x4.add(t0, i32x4.mul(i32x4.add(a0, b0), i32x4.extend_low_i16x8_u(mv)));
    t1 = i32x4.add(t1, i32x4.mul(i32x4.add(a1, b1), i32x4.extend_high_i16x8_u(mv)));
    bp += 64;
    mp += 8;
  }
  if (kp < pairs) {
    let a0 = i32x4.splat(0), a1 = i32x4.splat(0);
    for (; kp < pairs; kp++) {
      const w = v128.load(bp);
      const a = v128.load32_splat(xr + (<usize>kp << 2));
      a0 = i32x4.add(a0, i32x4.dot_i16x8_s(a, i16x8.extend_low_i8x16_s(w)));
      a1 = i32x4.add(a1, i32x4.dot_i16x8_s(a, i16x8.extend_high_i8x16_s(w)));
      bp += 16;
    }
    const mv = i16x8.extend_low_i8x16_u(v128.load64_zero(mp));
    t0 = i32x4.add(t0, i32x4.mul(a0, i32x4.extend_low_i16x8_u(mv)));
    t1 = i32x4.add(t1, i32x4.mul(a1, i32x4.extend_high_i16x8_u(mv)));
  }
  const s0 = v128.load(sp + (<usize>n0 << 2));
  const s1 = v128.load(sp + (<usize>n0 << 2), 16);
  storeRowI8(y, preact, xs, bias, residual, m, n0, N, t0, t1, s0, s1, epilogue);
}

/** Bytes of matmul_i8b's scratch: the quantized activations [M, 2·ceil(K/2)] i16, then one widened panel. */
export function scratch_size_i8b(M: i32, K: i32): i32 {
  const pairs = (K + 1) >> 1;
  return ((M * pairs * 4 + 15) & ~15) + pairs * 32;
}

/**
 * Y[M,N] = epilogue(X[M,K] · Wᵀ + b) with block-multiplier int8 weights (quantize_weights_i8b).
 * As matmul_i8, except: xq is scratch of scratch_size_i8b(M, K) bytes (16-aligned); sp holds the packed
 * row units (wp, sp from pack_weights_i8b); mp the packed multipliers (pack_mults_i8b).
 */
export function matmul_i8b(
  y: usize, preact: usize, xq: usize, xs: usize, x: usize, wp: usize, sp: usize, mp: usize, bias: usize,
  residual: usize, M: i32, K: i32, N: i32, epilogue: i32,
): void {
  quantize_strips_i16(xq, xs, x, M, K); // rows below M & ~3 in 4-row strips, the tail in rows
  const pairs = (K + 1) >> 1;
  const panels = (N + 7) >> 3;
  const panelBytes = <usize>pairs << 4;
  const multBytes = <usize>((K + QBLOCK - 1) / QBLOCK) << 3;
  const wide = xq + ((<usize>M * pairs * 4 + 15) & ~15);
  let mc = (65536 / max(pairs, 1)) & ~3;
  if (mc < 4) mc = 4;
  for (let m0 = 0; m0 < M; m0 += mc) {
    const mEnd = min(M, m0 + mc);
    for (let p = 0; p < panels; p++) {
      const panel = wp + <usize>p * panelBytes;
      const mpanel = mp + <usize>p * multBytes;
      const n0 = p << 3;
      let m = m0;
      if (mEnd - m0 >= 4) {
        expandPanel(wide, panel, mpanel, pairs);
        for (; m + 4 <= mEnd; m += 4) tile4x8_wide(y, preact, xq, xs, wide, sp, bias, residual, m, pairs, N, n0, epilogue);
        for (; m < mEnd; m++) row1x8_wide(y, preact, xq, xs, wide, sp, bias, residual, m, pairs, N, n0, epilogue);
      } else {
        for (; m < mEnd; m++) row1x8_i8b(y, preact, xq, xs, panel, sp, mpanel, bias, residual, m, pairs, N, n0, epilogue);
      }
    }
  }
}
/**
 * Scalar reference over unpacked wq[N,K] i8, units[N] f32 and mults[N, ceil(K/QBLOCK)] i8: the same
 * activation quantization, exact integer sums of x·q·m, then (acc · xs) · u + b and an f64 epilogue.
 */
export function matmul_i8b_ref(
  y: usize, preact: usize, xq: usize, xs: usize, x: usize, wq: usize, units: usize, mults: usize, bias: usize,
  residual: usize, M: i32, K: i32, N: i32, epilogue: i32,
): void {
  quantize_rows_i16(xq, xs, x, M, K);
  const K2 = ((K + 1) >> 1) << 1;
  const nb = (K + QBLOCK - 1) / QBLOCK;
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc: i64 = 0;
      for (let k = 0; k < K; k++) {
        const wk = <i64>load<i8>(wq + <usize>n * K + k) * <i64>load<i8>(mults + <usize>n * nb + k / QBLOCK);
        acc += <i64>load<i16>(xq + ((<usize>m * K2 + k) << 1)) * wk;
      }
      let v: f32 = (<f32>acc * load<f32>(xs + (<usize>m << 2))) * load<f32>(units + (<usize>n << 2));
      if (bias) v += load<f32>(bias + (<usize>n << 2));
      const o = (<usize>m * N + n) << 2;
      if (preact) store<f32>(preact + o, v);
      store<f32>(y + o, <f32>epiRef(<f64>v, epilogue, residual + o));
    }
  }
}
