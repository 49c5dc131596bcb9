// Row argmax for greedy decoding: the next token of each row straight from the logits in linear memory
// (no copy of the [R,V] logits to the host). Same answer as a scalar `x[v] > x[best]` scan: the first
// index of the maximum; NaN entries never win (and a NaN first entry wins: nothing compares above it).

/**
 * out[r] = first index of the maximum of x[r, 0..N) for R rows. out: [R] i32; x: [R,N] f32.
 * Two interleaved sets of four lanes each keep their running maximum and the index where it first
 * appeared; the lanes are merged at the end (largest value, smallest index among equals).
 */
export function argmax_rows_f32(out: usize, x: usize, R: i32, N: i32): void {
  for (let r = 0; r < R; r++) {
    const row = x + ((<usize>r * N) << 2);
    store<i32>(out + (<usize>r << 2), argmaxRow(row, N));
  }
}

function argmaxRow(row: usize, N: i32): i32 {
  if (N <= 0) return 0;
  const x0 = load<f32>(row);
  if (x0 != x0) return 0; // NaN first: nothing is greater
  let best = 0;
  let bestV = x0;
  let i = 0;
  if (N >= 8) {
    let ma = f32x4.splat(x0);
    let mb = ma;
    let ia = i32x4.splat(0);
    let ib = ia;
    let ca = i32x4(0, 1, 2, 3);
    let cb = i32x4(4, 5, 6, 7);
    const step = i32x4.splat(8);
    for (; i + 8 <= N; i += 8) {
      const at = row + (<usize>i << 2);
      const xa = v128.load(at);
      const xb = v128.load(at, 16);
      const ga = f32x4.gt(xa, ma);
      const gb = f32x4.gt(xb, mb);
      ma = v128.bitselect(xa, ma, ga);
      mb = v128.bitselect(xb, mb, gb);
      ia = v128.bitselect(ca, ia, ga);
      ib = v128.bitselect(cb, ib, gb);
      ca = i32x4.add(ca, step);
      cb = i32x4.add(cb, step);
    }
    // merge the eight lanes: largest value, then the smallest index holding it
    const m = f32x4.max(ma, mb); // no NaN in either (gt never selects one)
    let mx = Mathf.max(Mathf.max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), Mathf.max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
    const vmx = f32x4.splat(mx);
    const big = i32x4.splat(i32.MAX_VALUE);
    const ja = v128.bitselect(ia, big, f32x4.eq(ma, vmx));
    const jb = v128.bitselect(ib, big, f32x4.eq(mb, vmx));
    const j = i32x4.min_s(ja, jb);
    best = min(min(i32x4.extract_lane(j, 0), i32x4.extract_lane(j, 1)), min(i32x4.extract_lane(j, 2), i32x4.extract_lane(j, 3)));
    bestV = load<f32>(row + (<usize>best << 2));
  }
  for (; i < N; i++) {
    const v = load<f32>(row + (<usize>i << 2));
    if (v > bestV) {
      bestV = v;
      best = i;
    }
  }
  return best;
}

/** Scalar reference for argmax_rows_f32 (the `x[v] > x[best]` scan). */
export function argmax_rows_f32_ref(out: usize, x: usize, R: i32, N: i32): void {
  for (let r = 0; r < R; r++) {
    const row = x + ((<usize>r * N) << 2);
    let best = 0;
    for (let v = 1; v < N; v++) if (load<f32>(row + (<usize>v << 2)) > load<f32>(row + (<usize>best << 2))) best = v;
    store<i32>(out + (<usize>r << 2), best);
  }
}
