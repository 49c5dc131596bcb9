// int8 quantization: symmetric per-output-row weight quantization (w ≈ q·s, q ∈ [−127, 127]),
// packing into the int8 GEMM's panel layout, and dynamic per-row activation quantization to int8
// values held in i16 lanes (so the GEMM can use i32x4.dot_i16x8_s).

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

/** Bytes of the packed int8 layout Wp[ceil(N/8)][ceil(K/2)][8][2]. */
export function packed_size_i8(N: i32, K: i32): i32 {
  return ((N + 7) >> 3) * ((K + 1) >> 1) * 16;
}

/**
 * Packs wq[N,K] i8 into Wp[ceil(N/8)][ceil(K/2)][8 columns][2 k] (zero-padded) and the scales into
 * sp[ceil(N/8)·8] (zero-padded), the layout matmul_i8 reads: one v128 per (panel, k pair).
 */
export function pack_weights_i8(wp: usize, sp: usize, wq: usize, scales: usize, N: i32, K: i32): void {
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
 * Quantizes each row of X[M,K] to integers in [−qmax, qmax] (qmax = activation_qmax(K)) stored as i16
 * in xq[M][2·ceil(K/2)] (odd K padded with 0), with xs[M] = max|x_row| / qmax. A zero row gets scale 0.
 */
export function quantize_rows_i16(xq: usize, xs: usize, x: usize, M: i32, K: i32): void {
  const K2 = ((K + 1) >> 1) << 1;
  const qmax = <f32>activation_qmax(K);
  for (let m = 0; m < M; m++) {
    const row = x + ((<usize>m * K) << 2);
    const qrow = xq + ((<usize>m * K2) << 1);
    let vmax = f32x4.splat(0);
    let k = 0;
    for (; k + 4 <= K; k += 4) vmax = f32x4.max(vmax, f32x4.abs(v128.load(row + (<usize>k << 2))));
    let amax = Mathf.max(
      Mathf.max(f32x4.extract_lane(vmax, 0), f32x4.extract_lane(vmax, 1)),
      Mathf.max(f32x4.extract_lane(vmax, 2), f32x4.extract_lane(vmax, 3)),
    );
    for (; k < K; k++) amax = Mathf.max(amax, Mathf.abs(load<f32>(row + (<usize>k << 2))));
    const inv: f32 = amax > 0 ? qmax / amax : 0;
    store<f32>(xs + (<usize>m << 2), amax / qmax);
    const vinv = f32x4.splat(inv);
    k = 0;
    for (; k + 8 <= K; k += 8) {
      const q0 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(row + (<usize>k << 2)), vinv)));
      const q1 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(row + (<usize>k << 2), 16), vinv)));
      v128.store(qrow + (<usize>k << 1), i16x8.narrow_i32x4_s(q0, q1));
    }
    for (; k < K; k++) store<i16>(qrow + (<usize>k << 1), <i16>(<i32>nearest<f32>(load<f32>(row + (<usize>k << 2)) * inv)));
    if (K2 > K) store<i16>(qrow + (<usize>K << 1), 0);
  }
}
