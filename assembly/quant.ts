// int8 quantization: symmetric per-output-row weight quantization (w ≈ q·s, q ∈ [−127, 127]) or the
// finer block scheme (w ≈ q·u·m, an integer multiplier m per 8 columns; see below), packing into the
// int8 GEMM's panel layout, and dynamic per-row activation quantization to int8 values held in i16
// lanes (so the GEMM can use i32x4.dot_i16x8_s), written as rows or as the GEMM's 4-row strips.

/** Σ (w − round(w/s)·s)² over a row for the step s (values past ±127 steps are clipped). */
function rowError(row: usize, K: i32, s: f32): f32 {
  const inv = f32x4.splat(<f32>1 / s);
  const vs = f32x4.splat(s);
  const lo = f32x4.splat(-127);
  const hi = f32x4.splat(127);
  let acc = f32x4.splat(0);
  let k = 0;
  for (; k + 4 <= K; k += 4) {
    const w = v128.load(row + (<usize>k << 2));
    const q = f32x4.min(hi, f32x4.max(lo, f32x4.nearest(f32x4.mul(w, inv))));
    const d = f32x4.sub(w, f32x4.mul(q, vs));
    acc = f32x4.add(acc, f32x4.mul(d, d));
  }
  let err = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
  for (; k < K; k++) {
    const w = load<f32>(row + (<usize>k << 2));
    const q = Mathf.max(-127, Mathf.min(127, nearest<f32>(w * (<f32>1 / s))));
    const d = w - q * s;
    err += d * d;
  }
  return err;
}

/**
 * Quantizes W[N,K] f32 → wq[N,K] i8 and scales[N] f32, one symmetric scale per row (w ≈ q·s,
 * q ∈ [−127, 127]). The scale is max|w|/127 shrunk by the clip factor (1.0, 0.99, …, 0.80) that gives
 * the smallest squared error: clipping a few outliers buys a finer step for every other weight.
 */
export function quantize_weights_i8(wq: usize, scales: usize, w: usize, N: i32, K: i32): void {
  for (let n = 0; n < N; n++) {
    const row = w + ((<usize>n * K) << 2);
    let amax: f32 = 0;
    for (let k = 0; k < K; k++) amax = Mathf.max(amax, Mathf.abs(load<f32>(row + (<usize>k << 2))));
    let s: f32 = 0;
    if (amax > 0) {
      s = amax / 127;
      let best = rowError(row, K, s);
      for (let c = 99; c >= 80; c--) {
        const cand: f32 = (amax * (<f32>c / 100)) / 127;
        const e = rowError(row, K, cand);
        if (e < best) {
          best = e;
          s = cand;
        }
      }
    }
    const inv: f32 = s > 0 ? <f32>1 / s : 0;
    store<f32>(scales + (<usize>n << 2), s);
    for (let k = 0; k < K; k++) {
      const q = nearest<f32>(load<f32>(row + (<usize>k << 2)) * inv);
      store<i8>(wq + <usize>n * K + k, <i8>max(-127, min(127, <i32>q)));
    }
  }
}

/** Bytes of the packed int8 layouts Wp[ceil(N/8)][ceil(K/2)][16] (pack_weights_i8 and pack_weights_i8b). */
export function packed_size_i8(N: i32, K: i32): i32 {
  return ((N + 7) >> 3) * ((K + 1) >> 1) * 16;
}

/**
 * Packs wq[N,K] i8 into the "split" panels matmul_i8 reads, Wp[ceil(N/8)][ceil(K/2)][4][2] i16
 * (zero-padded), and the scales into sp[ceil(N/8)·8] (zero-padded). Each panel holds 8 columns as 4
 * column pairs (j, j+4) of i16 lanes: lane (j, h) of pair kp has low byte w[n0+j, 2kp+h] + 128 (u8)
 * and high byte w[n0+4+j, 2kp+h] (i8), so one arithmetic shift gives the high columns as i16 and a dot
 * product of the whole lanes gives 256·(high) + (low + 128) (see matmul_i8).
 */
export function pack_weights_i8(wp: usize, sp: usize, wq: usize, scales: usize, N: i32, K: i32): void {
  const panels = (N + 7) >> 3;
  const pairs = (K + 1) >> 1;
  for (let p = 0; p < panels; p++) {
    for (let kp = 0; kp < pairs; kp++) {
      const dst = wp + ((<usize>p * pairs + kp) << 4);
      for (let j = 0; j < 4; j++) {
        for (let h = 0; h < 2; h++) {
          const k = (kp << 1) + h;
          const n = (p << 3) + j;
          const lo: i32 = n < N && k < K ? <i32>load<i8>(wq + <usize>n * K + k) : 0;
          const hi: i32 = n + 4 < N && k < K ? <i32>load<i8>(wq + <usize>(n + 4) * K + k) : 0;
          const lane = dst + (<usize>((j << 1) + h) << 1);
          store<u8>(lane, <u8>(lo + 128));
          store<i8>(lane + 1, <i8>hi);
        }
      }
    }
    for (let j = 0; j < 8; j++) {
      const n = (p << 3) + j;
      store<f32>(sp + ((<usize>n) << 2), n < N ? load<f32>(scales + (<usize>n << 2)) : 0);
    }
  }
}

/**
 * Packs wq[N,K] i8 into Wp[ceil(N/8)][ceil(K/2)][8 columns][2 k] (zero-padded) and the row units into
 * sp[ceil(N/8)·8] (zero-padded), the panels matmul_i8b reads: one v128 per (panel, k pair).
 */
export function pack_weights_i8b(wp: usize, sp: usize, wq: usize, scales: usize, N: i32, K: i32): void {
  const panels = (N + 7) >> 3;
  const pairs = (K + 1) >> 1;
  for (let p = 0; p < panels; p++) {
    for (let kp = 0; kp < pairs; kp++) {
      const dst = wp + ((<usize>p * pairs + kp) << 4);
      for (let j = 0; j < 8; j++) {
        const n = (p << 3) + j;
        for (let h = 0; h < 2; h++) {
          const k = (kp << 1) + h;
          const v: i8 = n < N && k < K ? load<i8>(wq + <usize>n * K + k) : 0;
          store<i8>(dst + (<usize>j << 1) + h, v);
        }
      }
    }
    for (let j = 0; j < 8; j++) {
      const n = (p << 3) + j;
      store<f32>(sp + ((<usize>n) << 2), n < N ? load<f32>(scales + (<usize>n << 2)) : 0);
    }
  }
}

/**
 * Activation levels for a reduction length K: activations live in i16 lanes, so they get up to 12 bits
 * (±2047) instead of 8, limited so that K products of |q| ≤ qmax and |w| ≤ 127 cannot overflow int32.
 * Measured (test/kernels/int8-accuracy.test.ts): with outlier channels, ±127 activations gave row
 * cosines of 0.9988 against f32; ±2047 gives the weight-quantization error alone.
 */
export function activation_qmax(K: i32): i32 {
  return <i32>min(<i64>2047, <i64>2147483647 / (<i64>127 * <i64>max(K, 1)));
}

/**
 * Row scale of one row of X: stores xs = max|x_row| / qmax at xsp and returns qmax / max|x_row| (0 for a
 * zero row). max |x| on the bit patterns: for floats without sign, integer order is float order, with
 * NaN above ∞ (so a NaN still wins); one pmaxsd per step, where f32x4.max is a long sequence on x86 and
 * the loop-carried chain made this pass latency-bound.
 */
function rowInv(row: usize, K: i32, qmax: f32, xsp: usize): f32 {
  let vmax = i32x4.splat(0);
  const absMask = i32x4.splat(0x7fffffff);
  let k = 0;
  for (; k + 4 <= K; k += 4) vmax = i32x4.max_s(vmax, v128.and(v128.load(row + (<usize>k << 2)), absMask));
  let amax = reinterpret<f32>(
    max(max(i32x4.extract_lane(vmax, 0), i32x4.extract_lane(vmax, 1)), max(i32x4.extract_lane(vmax, 2), i32x4.extract_lane(vmax, 3))),
  );
  for (; k < K; k++) amax = Mathf.max(amax, Mathf.abs(load<f32>(row + (<usize>k << 2))));
  store<f32>(xsp, amax / qmax);
  return amax > 0 ? qmax / amax : 0;
}

// Rounding to the nearest integer (ties to even, as f32x4.nearest) by adding 1.5·2²³: |x·inv| ≤ qmax <
// 2²², so the sum's bits minus the constant's bits are that integer; no float → int conversion
// (trunc_sat is a long instruction sequence on x86). A row holding NaN or ±∞ has scale NaN or ∞ (xs),
// which makes every output of the row non-finite whatever its lanes hold.
const MAGIC: f32 = 12582912.0; // 1.5·2²³
const MAGIC_BITS: i32 = 0x4b400000;

/** Eight values x[p…p+7] · inv rounded to i16 (the rounding above). */
@inline function quant8(p: usize, vinv: v128): v128 {
  const magic = f32x4.splat(MAGIC);
  const magicBits = i32x4.splat(MAGIC_BITS);
  const q0 = i32x4.sub(f32x4.add(f32x4.mul(v128.load(p), vinv), magic), magicBits);
  const q1 = i32x4.sub(f32x4.add(f32x4.mul(v128.load(p, 16), vinv), magic), magicBits);
  return i16x8.narrow_i32x4_s(q0, q1);
}

/**
 * Quantizes each row of X[M,K] to integers in [−qmax, qmax] (qmax = activation_qmax(K)) stored as i16
 * in xq[M][2·ceil(K/2)] (odd K padded with 0), with xs[M] = max|x_row| / qmax. A zero row gets scale 0.
 */
export function quantize_rows_i16(xq: usize, xs: usize, x: usize, M: i32, K: i32): void {
  const K2 = ((K + 1) >> 1) << 1;
  const qmax = <f32>activation_qmax(K);
  for (let m = 0; m < M; m++) {
    const row = x + ((<usize>m * K) << 2);
    const qrow = xq + ((<usize>m * K2) << 1);
    const inv = rowInv(row, K, qmax, xs + (<usize>m << 2));
    const vinv = f32x4.splat(inv);
    let k = 0;
    for (; k + 8 <= K; k += 8) v128.store(qrow + (<usize>k << 1), quant8(row + (<usize>k << 2), vinv));
    for (; k < K; k++) store<i16>(qrow + (<usize>k << 1), <i16>(<i32>nearest<f32>(load<f32>(row + (<usize>k << 2)) * inv)));
    if (K2 > K) store<i16>(qrow + (<usize>K << 1), 0);
  }
}

/**
 * quantize_rows_i16 with the rows 0 … (M & ~3) − 1 written as 4-row strips: the strip of rows m … m+3
 * takes the same bytes as those four rows, laid out [ceil(K/2) pairs][4 rows][2] i16, so the int8 GEMM's
 * 4-row tile reads the four rows' pairs from one pointer. The last M mod 4 rows keep the row layout.
 * The values and xs are the ones quantize_rows_i16 gives.
 */
export function quantize_strips_i16(xq: usize, xs: usize, x: usize, M: i32, K: i32): void {
  const M4 = M & ~3;
  const pairs = (K + 1) >> 1;
  const qmax = <f32>activation_qmax(K);
  const rowBytes = <usize>K << 2;
  for (let m = 0; m < M4; m += 4) {
    const row = x + <usize>m * rowBytes;
    const dst = xq + ((<usize>m * pairs) << 2); // [pairs][4][2] i16
    const xsp = xs + (<usize>m << 2);
    const inv0 = rowInv(row, K, qmax, xsp);
    const inv1 = rowInv(row + rowBytes, K, qmax, xsp + 4);
    const inv2 = rowInv(row + 2 * rowBytes, K, qmax, xsp + 8);
    const inv3 = rowInv(row + 3 * rowBytes, K, qmax, xsp + 12);
    const v0 = f32x4.splat(inv0), v1 = f32x4.splat(inv1), v2 = f32x4.splat(inv2), v3 = f32x4.splat(inv3);
    let k = 0;
    for (; k + 8 <= K; k += 8) {
      const p = row + (<usize>k << 2);
      const a = quant8(p, v0); // 4 pairs of row m
      const b = quant8(p + rowBytes, v1);
      const c = quant8(p + 2 * rowBytes, v2);
      const e = quant8(p + 3 * rowBytes, v3);
      const t0 = v128.shuffle<i32>(a, b, 0, 4, 1, 5); // a0 b0 a1 b1 (pairs)
      const t1 = v128.shuffle<i32>(c, e, 0, 4, 1, 5);
      const t2 = v128.shuffle<i32>(a, b, 2, 6, 3, 7);
      const t3 = v128.shuffle<i32>(c, e, 2, 6, 3, 7);
      const d = dst + (<usize>k << 3); // pair k/2 · 16 bytes
      v128.store(d, v128.shuffle<i64>(t0, t1, 0, 2));
      v128.store(d, v128.shuffle<i64>(t0, t1, 1, 3), 16);
      v128.store(d, v128.shuffle<i64>(t2, t3, 0, 2), 32);
      v128.store(d, v128.shuffle<i64>(t2, t3, 1, 3), 48);
    }
    for (; k < K; k++) {
      const d = dst + ((<usize>k >> 1) << 4) + ((<usize>k & 1) << 1);
      const p = row + (<usize>k << 2);
      store<i16>(d, <i16>(<i32>nearest<f32>(load<f32>(p) * inv0)));
      store<i16>(d, <i16>(<i32>nearest<f32>(load<f32>(p + rowBytes) * inv1)), 4);
      store<i16>(d, <i16>(<i32>nearest<f32>(load<f32>(p + 2 * rowBytes) * inv2)), 8);
      store<i16>(d, <i16>(<i32>nearest<f32>(load<f32>(p + 3 * rowBytes) * inv3)), 12);
    }
    if (K & 1) {
      const d = dst + ((<usize>K >> 1) << 4) + 2; // the odd K's padding lane of each row
      store<i16>(d, 0);
      store<i16>(d, 0, 4);
      store<i16>(d, 0, 8);
      store<i16>(d, 0, 12);
    }
  }
  if (M4 < M) quantize_rows_i16(xq + ((<usize>M4 * pairs) << 2), xs + (<usize>M4 << 2), x + <usize>M4 * rowBytes, M - M4, K);
}

// ---- block multipliers -----------------------------------------------------------------------------
// A finer int8 scheme for small, noisy models (T5): each row n has a unit u[n] and each block of
// QBLOCK columns an integer multiplier m ∈ [1, block_mult_max(K)], so w ≈ q·u·m with q ∈ [−127, 127].
// The GEMM multiplies the int8 weights by m in their i16 lanes (|q·m| ≤ 2032), so it keeps one scale
// per output column; the blocks get their own step, which cuts the weight error 2.5× against one scale
// per row (measured on the tiny T5 fixtures, rows of 64: Σ(w − ŵ)²/Σw² 3.5e-5 → 1.4e-5).

/** Columns per multiplier block (4 k pairs of the packed layout). */
export const QBLOCK: i32 = 8;

/**
 * Largest block multiplier for a reduction length K: K products of activations (|x| ≤ 2047) and
 * effective weights (|q·m| ≤ 127·m) must fit int32: 16 up to K = 516, 8 at K = 1032, 1 from K = 4131
 * (past K = 8260, activation_qmax shrinks the activations instead).
 */
export function block_mult_max(K: i32): i32 {
  const m = <i64>2147483647 / (<i64>2047 * 127 * <i64>max(K, 1));
  return <i32>max(<i64>1, min(<i64>16, m));
}

/**
 * Σ (w − round(w·inv)·s)² over one block of len ≤ QBLOCK values, for a step s (inv ≈ 1/s) that needs
 * no clipping (|w·inv| ≤ 127 + rounding).
 */
@inline function blockError(p: usize, len: i32, s: f32, inv: f32): f32 {
  if (len == QBLOCK) {
    const vi = f32x4.splat(inv);
    const vs = f32x4.splat(s);
    const w0 = v128.load(p);
    const w1 = v128.load(p, 16);
    const d0 = f32x4.sub(w0, f32x4.mul(f32x4.nearest(f32x4.mul(w0, vi)), vs));
    const d1 = f32x4.sub(w1, f32x4.mul(f32x4.nearest(f32x4.mul(w1, vi)), vs));
    const e = f32x4.add(f32x4.mul(d0, d0), f32x4.mul(d1, d1));
    return f32x4.extract_lane(e, 0) + f32x4.extract_lane(e, 1) + (f32x4.extract_lane(e, 2) + f32x4.extract_lane(e, 3));
  }
  let err: f32 = 0;
  for (let k = 0; k < len; k++) {
    const w = load<f32>(p + (<usize>k << 2));
    const d = w - nearest<f32>(w * inv) * s;
    err += d * d;
  }
  return err;
}

/** 1/m for the multipliers 0…16 (0 unused), so a step's reciprocal is (1/u)·(1/m) without a division. */
const RECIP: usize = memory.data<f32>([
  0, 1, 1 / 2.0, 1 / 3.0, 1 / 4.0, 1 / 5.0, 1 / 6.0, 1 / 7.0, 1 / 8.0, 1 / 9.0, 1 / 10.0, 1 / 11.0, 1 / 12.0,
  1 / 13.0, 1 / 14.0, 1 / 15.0, 1 / 16.0,
]);

/** The reciprocal of the step u·m used both to search and to quantize. */
@inline function stepInv(invU: f32, m: i32): f32 {
  return invU * load<f32>(RECIP + (<usize>m << 2));
}

/** max |w| over len values (SIMD for a full block). */
@inline function blockAmax(p: usize, len: i32): f32 {
  if (len == QBLOCK) {
    const a = f32x4.max(f32x4.abs(v128.load(p)), f32x4.abs(v128.load(p, 16)));
    return Mathf.max(
      Mathf.max(f32x4.extract_lane(a, 0), f32x4.extract_lane(a, 1)),
      Mathf.max(f32x4.extract_lane(a, 2), f32x4.extract_lane(a, 3)),
    );
  }
  let a: f32 = 0;
  for (let k = 0; k < len; k++) a = Mathf.max(a, Mathf.abs(load<f32>(p + (<usize>k << 2))));
  return a;
}

let lastBlockError: f32 = 0;

/**
 * The multiplier for one block under unit u: the smallest m that needs no clipping (m0) or one of the
 * next two (a slightly coarser step can fit these 8 values better), whichever has the least squared
 * error (left in lastBlockError).
 */
@inline function bestMult(p: usize, len: i32, u: f32, invU: f32, mmax: i32): i32 {
  const m0 = <i32>min(mmax, max(1, <i32>Mathf.ceil(blockAmax(p, len) * invU * (<f32>1 / 127))));
  let best = m0;
  let bestErr = blockError(p, len, u * <f32>m0, stepInv(invU, m0));
  const mEnd = min(mmax, m0 + 2);
  for (let m = m0 + 1; m <= mEnd; m++) {
    const e = blockError(p, len, u * <f32>m, stepInv(invU, m));
    if (e < bestErr) {
      bestErr = e;
      best = m;
    }
  }
  lastBlockError = bestErr;
  return best;
}

/** Row amax (SIMD). */
function rowAmax(row: usize, K: i32): f32 {
  let v = f32x4.splat(0);
  let k = 0;
  for (; k + 4 <= K; k += 4) v = f32x4.max(v, f32x4.abs(v128.load(row + (<usize>k << 2))));
  let a = Mathf.max(
    Mathf.max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)),
    Mathf.max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)),
  );
  for (; k < K; k++) a = Mathf.max(a, Mathf.abs(load<f32>(row + (<usize>k << 2))));
  return a;
}

/** Squared error of one value w under 4 steps at once (s and its reciprocal inv per lane), added to e. */
@inline function err4(e: v128, w: v128, s: v128, inv: v128): v128 {
  const d = f32x4.sub(w, f32x4.mul(f32x4.nearest(f32x4.mul(w, inv)), s));
  return f32x4.add(e, f32x4.mul(d, d));
}

/**
 * Total squared error of one block under 4 candidate units (lanes of u, invU): per lane the best of the
 * multipliers m0, m0 + 1, m0 + 2 (m0 = the smallest unclipped one; a coarser step can fit 8 values
 * better), as bestMult picks them one unit at a time.
 */
@inline function blockErrors4(p: usize, len: i32, u: v128, invU: v128, vmax: v128): v128 {
  const one = f32x4.splat(1);
  const m0 = f32x4.min(vmax, f32x4.max(one, f32x4.ceil(f32x4.mul(f32x4.mul(f32x4.splat(blockAmax(p, len)), invU), f32x4.splat(<f32>1 / 127)))));
  const m1 = f32x4.add(m0, one);
  const m2 = f32x4.add(m1, one);
  const s0 = f32x4.mul(u, m0);
  const s1 = f32x4.mul(u, m1);
  const s2 = f32x4.mul(u, m2);
  const i0 = f32x4.mul(invU, f32x4.div(one, m0));
  const i1 = f32x4.mul(invU, f32x4.div(one, m1));
  const i2 = f32x4.mul(invU, f32x4.div(one, m2));
  let e0 = f32x4.splat(0);
  let e1 = f32x4.splat(0);
  let e2 = f32x4.splat(0);
  for (let k = 0; k < len; k++) {
    const w = v128.load32_splat(p + (<usize>k << 2));
    e0 = err4(e0, w, s0, i0);
    e1 = err4(e1, w, s1, i1);
    e2 = err4(e2, w, s2, i2);
  }
  const inf = f32x4.splat(Infinity);
  e1 = v128.bitselect(e1, inf, f32x4.le(m1, vmax)); // multipliers past mmax are not candidates
  e2 = v128.bitselect(e2, inf, f32x4.le(m2, vmax));
  return f32x4.min(e0, f32x4.min(e1, e2));
}

/**
 * Quantizes W[N,K] f32 → wq[N,K] i8, units[N] f32 and mults[N, ceil(K/QBLOCK)] i8 (values 1…
 * block_mult_max(K)) with w ≈ q·u·m. The unit is amax/(127·mmax) widened by the factor (1.000, 1.025,
 * …, 1.175, all eight evaluated together in two f32x4) whose best per-block multipliers give the
 * smallest squared error of the row (a coarser unit shifts the grid of steps the blocks can choose
 * from). An all-zero row gets unit 0 and multipliers 1.
 */
export function quantize_weights_i8b(wq: usize, units: usize, mults: usize, w: usize, N: i32, K: i32): void {
  const nb = (K + QBLOCK - 1) / QBLOCK;
  const mmax = block_mult_max(K);
  const vmax = f32x4.splat(<f32>mmax);
  const f0 = f32x4(1, 1.025, 1.05, 1.075);
  const f1 = f32x4(1.1, 1.125, 1.15, 1.175);
  const one = f32x4.splat(1);
  for (let n = 0; n < N; n++) {
    const row = w + ((<usize>n * K) << 2);
    const mrow = mults + <usize>n * nb;
    const amax = rowAmax(row, K);
    if (amax == 0) {
      store<f32>(units + (<usize>n << 2), 0);
      memory.fill(mrow, 1, nb);
      memory.fill(wq + <usize>n * K, 0, K);
      continue;
    }
    const base = f32x4.splat(amax / (<f32>127 * <f32>mmax));
    const u0 = f32x4.mul(base, f0);
    const u1 = f32x4.mul(base, f1);
    const iu0 = f32x4.div(one, u0);
    const iu1 = f32x4.div(one, u1);
    let t0 = f32x4.splat(0);
    let t1 = f32x4.splat(0);
    for (let b = 0; b < nb; b++) {
      const k0 = b * QBLOCK;
      const p = row + (<usize>k0 << 2);
      const len = min(QBLOCK, K - k0);
      t0 = f32x4.add(t0, blockErrors4(p, len, u0, iu0, vmax));
      t1 = f32x4.add(t1, blockErrors4(p, len, u1, iu1, vmax));
    }
    // the first unit with the smallest total
    let bestU = f32x4.extract_lane(u0, 0);
    let bestTot = f32x4.extract_lane(t0, 0);
    for (let i = 1; i < 8; i++) {
      const t = i < 4 ? extract(t0, i) : extract(t1, i - 4);
      if (t < bestTot) {
        bestTot = t;
        bestU = i < 4 ? extract(u0, i) : extract(u1, i - 4);
      }
    }
    store<f32>(units + (<usize>n << 2), bestU);
    const invU: f32 = <f32>1 / bestU;
    for (let b = 0; b < nb; b++) {
      const k0 = b * QBLOCK;
      const len = min(QBLOCK, K - k0);
      const m = bestMult(row + (<usize>k0 << 2), len, bestU, invU, mmax);
      store<i8>(mrow + b, <i8>m);
      const inv = stepInv(invU, m);
      for (let k = k0; k < k0 + len; k++) {
        const q = nearest<f32>(load<f32>(row + (<usize>k << 2)) * inv);
        store<i8>(wq + <usize>n * K + k, <i8>max(-127, min(127, <i32>q)));
      }
    }
  }
}

/** Lane i (0…3) of an f32x4 (lane indices must be constants). */
@inline function extract(v: v128, i: i32): f32 {
  return i == 0
    ? f32x4.extract_lane(v, 0)
    : i == 1
      ? f32x4.extract_lane(v, 1)
      : i == 2
        ? f32x4.extract_lane(v, 2)
        : f32x4.extract_lane(v, 3);
}

/** Bytes of the packed multipliers Mp[ceil(N/8)][ceil(K/QBLOCK)][8]. */
export function packed_size_mults(N: i32, K: i32): i32 {
  return ((N + 7) >> 3) * ((K + QBLOCK - 1) / QBLOCK) * 8;
}

/**
 * Packs mults[N, ceil(K/QBLOCK)] i8 into Mp[ceil(N/8)][ceil(K/QBLOCK)][8 columns] (padding columns get
 * 0), the layout matmul_i8b reads next to the pack_weights_i8b panels.
 */
export function pack_mults_i8b(mp: usize, mults: usize, N: i32, K: i32): void {
  const nb = (K + QBLOCK - 1) / QBLOCK;
  const panels = (N + 7) >> 3;
  for (let p = 0; p < panels; p++) {
    for (let b = 0; b < nb; b++) {
      const dst = mp + ((<usize>p * nb + b) << 3);
      for (let j = 0; j < 8; j++) {
        const n = (p << 3) + j;
        store<i8>(dst + j, n < N ? load<i8>(mults + <usize>n * nb + b) : 0);
      }
    }
  }
}
