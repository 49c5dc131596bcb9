// Row normalizations over the channel dimension C: LayerNorm (BERT) and RMSNorm (T5: no mean
// subtraction, no bias). Both save what backward needs (mean and 1/std per row) when given buffers.
import { hsum, madd } from "./vecmath";

@inline function rowSum(x: usize, C: i32): f32 {
  let acc = f32x4.splat(0);
  let c = 0;
  for (; c + 4 <= C; c += 4) acc = f32x4.add(acc, v128.load(x + (<usize>c << 2)));
  let s = hsum(acc);
  for (; c < C; c++) s += load<f32>(x + (<usize>c << 2));
  return s;
}

/** Σ (x − mu)² over the row. */
@inline function rowSqDev(x: usize, C: i32, mu: f32): f32 {
  const vmu = f32x4.splat(mu);
  let acc = f32x4.splat(0);
  let c = 0;
  for (; c + 4 <= C; c += 4) {
    const d = f32x4.sub(v128.load(x + (<usize>c << 2)), vmu);
    acc = f32x4.add(acc, f32x4.mul(d, d));
  }
  let s = hsum(acc);
  for (; c < C; c++) {
    const d = load<f32>(x + (<usize>c << 2)) - mu;
    s += d * d;
  }
  return s;
}

/**
 * y = (x − mean) / sqrt(var + eps) · w + b per row (biased variance, as PyTorch).
 * y: [R,C]; mean, rstd: [R] saved for backward, or 0; x: [R,C]; w, b: [C]. y may alias x.
 */
export function layernorm_f32(y: usize, mean: usize, rstd: usize, x: usize, w: usize, b: usize, R: i32, C: i32, eps: f32): void {
  for (let r = 0; r < R; r++) {
    const xr = x + ((<usize>r * C) << 2);
    const yr = y + ((<usize>r * C) << 2);
    const mu = rowSum(xr, C) / <f32>C;
    const rs: f32 = 1 / Mathf.sqrt(rowSqDev(xr, C, mu) / <f32>C + eps);
    if (mean) store<f32>(mean + (<usize>r << 2), mu);
    if (rstd) store<f32>(rstd + (<usize>r << 2), rs);
    const vmu = f32x4.splat(mu);
    const vrs = f32x4.splat(rs);
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const o = <usize>c << 2;
      const n = f32x4.mul(f32x4.sub(v128.load(xr + o), vmu), vrs);
      v128.store(yr + o, f32x4.add(f32x4.mul(n, v128.load(w + o)), v128.load(b + o)));
    }
    for (; c < C; c++) {
      const o = <usize>c << 2;
      store<f32>(yr + o, (load<f32>(xr + o) - mu) * rs * load<f32>(w + o) + load<f32>(b + o));
    }
  }
}

/** y = x / sqrt(mean(x²) + eps) · w per row. y: [R,C]; rstd: [R] or 0; x: [R,C]; w: [C]. y may alias x. */
export function rmsnorm_f32(y: usize, rstd: usize, x: usize, w: usize, R: i32, C: i32, eps: f32): void {
  for (let r = 0; r < R; r++) {
    const xr = x + ((<usize>r * C) << 2);
    const yr = y + ((<usize>r * C) << 2);
    const rs: f32 = 1 / Mathf.sqrt(rowSqDev(xr, C, 0) / <f32>C + eps);
    if (rstd) store<f32>(rstd + (<usize>r << 2), rs);
    const vrs = f32x4.splat(rs);
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const o = <usize>c << 2;
      v128.store(yr + o, f32x4.mul(f32x4.mul(v128.load(xr + o), vrs), v128.load(w + o)));
    }
    for (; c < C; c++) {
      const o = <usize>c << 2;
      store<f32>(yr + o, load<f32>(xr + o) * rs * load<f32>(w + o));
    }
  }
}

/** f64 reference for layernorm_f32 (same arguments). */
export function layernorm_f32_ref(y: usize, mean: usize, rstd: usize, x: usize, w: usize, b: usize, R: i32, C: i32, eps: f32): void {
  for (let r = 0; r < R; r++) {
    const xr = x + ((<usize>r * C) << 2);
    let mu: f64 = 0;
    for (let c = 0; c < C; c++) mu += <f64>load<f32>(xr + (<usize>c << 2));
    mu /= <f64>C;
    let v: f64 = 0;
    for (let c = 0; c < C; c++) {
      const d = <f64>load<f32>(xr + (<usize>c << 2)) - mu;
      v += d * d;
    }
    const rs = 1 / Math.sqrt(v / <f64>C + <f64>eps);
    if (mean) store<f32>(mean + (<usize>r << 2), <f32>mu);
    if (rstd) store<f32>(rstd + (<usize>r << 2), <f32>rs);
    for (let c = 0; c < C; c++) {
      const o = <usize>c << 2;
      const n = (<f64>load<f32>(xr + o) - mu) * rs;
      store<f32>(y + ((<usize>r * C) << 2) + o, <f32>(n * <f64>load<f32>(w + o) + <f64>load<f32>(b + o)));
    }
  }
}

/** f64 reference for rmsnorm_f32 (same arguments). */
export function rmsnorm_f32_ref(y: usize, rstd: usize, x: usize, w: usize, R: i32, C: i32, eps: f32): void {
  for (let r = 0; r < R; r++) {
    const xr = x + ((<usize>r * C) << 2);
    let ss: f64 = 0;
    for (let c = 0; c < C; c++) {
      const d = <f64>load<f32>(xr + (<usize>c << 2));
      ss += d * d;
    }
    const rs = 1 / Math.sqrt(ss / <f64>C + <f64>eps);
    if (rstd) store<f32>(rstd + (<usize>r << 2), <f32>rs);
    for (let c = 0; c < C; c++) {
      const o = <usize>c << 2;
      store<f32>(y + ((<usize>r * C) << 2) + o, <f32>(<f64>load<f32>(xr + o) * rs * <f64>load<f32>(w + o)));
    }
  }
}

// ---- backward ------------------------------------------------------------------------------------
// With n = (x − mean)·rstd (LayerNorm) or n = x·rstd (RMSNorm) and g = dy ⊙ w:
//   LayerNorm: dx += rstd·(g − mean(g) − n·mean(g ⊙ n)),  dw += Σ_rows dy ⊙ n,  db += Σ_rows dy
//   RMSNorm:   dx += rstd·(g − n·mean(g ⊙ n)),            dw += Σ_rows dy ⊙ n

/**
 * Backward of layernorm_f32 from its saved mean and rstd. ACCUMULATES: dx [R,C], dw [C], db [C] (dw or db
 * may be 0 to skip); mean, rstd: [R] saved by the forward; dy: [R,C]; x: [R,C] the forward input; w: [C].
 * dx must not alias dy or x.
 */
export function layernorm_backward_f32(
  dx: usize, dw: usize, db: usize, mean: usize, rstd: usize, dy: usize, x: usize, w: usize, R: i32, C: i32,
): void {
  const invC: f32 = 1 / <f32>C;
  for (let r = 0; r < R; r++) {
    const ro = (<usize>r * C) << 2;
    const xr = x + ro;
    const dyr = dy + ro;
    const dxr = dx + ro;
    const mu = load<f32>(mean + (<usize>r << 2));
    const rs = load<f32>(rstd + (<usize>r << 2));
    const vmu = f32x4.splat(mu);
    const vrs = f32x4.splat(rs);
    // pass 1: Σ g, Σ g·n, and the weight / bias gradients
    let sg = f32x4.splat(0);
    let sgn = f32x4.splat(0);
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const o = <usize>c << 2;
      const d = v128.load(dyr + o);
      const n = f32x4.mul(f32x4.sub(v128.load(xr + o), vmu), vrs);
      const g = f32x4.mul(d, v128.load(w + o));
      sg = f32x4.add(sg, g);
      sgn = madd(g, n, sgn);
      if (dw) v128.store(dw + o, madd(d, n, v128.load(dw + o)));
      if (db) v128.store(db + o, f32x4.add(v128.load(db + o), d));
    }
    let sumG = hsum(sg);
    let sumGN = hsum(sgn);
    for (; c < C; c++) {
      const o = <usize>c << 2;
      const d = load<f32>(dyr + o);
      const n = (load<f32>(xr + o) - mu) * rs;
      const g = d * load<f32>(w + o);
      sumG += g;
      sumGN += g * n;
      if (dw) store<f32>(dw + o, load<f32>(dw + o) + d * n);
      if (db) store<f32>(db + o, load<f32>(db + o) + d);
    }
    // pass 2: dx
    const mg = sumG * invC;
    const mgn = sumGN * invC;
    const vmg = f32x4.splat(mg);
    const vmgn = f32x4.splat(mgn);
    c = 0;
    for (; c + 4 <= C; c += 4) {
      const o = <usize>c << 2;
      const n = f32x4.mul(f32x4.sub(v128.load(xr + o), vmu), vrs);
      const g = f32x4.mul(v128.load(dyr + o), v128.load(w + o));
      const t = f32x4.sub(f32x4.sub(g, vmg), f32x4.mul(n, vmgn));
      v128.store(dxr + o, madd(t, vrs, v128.load(dxr + o)));
    }
    for (; c < C; c++) {
      const o = <usize>c << 2;
      const n = (load<f32>(xr + o) - mu) * rs;
      const g = load<f32>(dyr + o) * load<f32>(w + o);
      store<f32>(dxr + o, load<f32>(dxr + o) + (g - mg - n * mgn) * rs);
    }
  }
}

/**
 * Backward of rmsnorm_f32 from its saved rstd. ACCUMULATES: dx [R,C], dw [C] (0 to skip); rstd: [R];
 * dy: [R,C]; x: [R,C] the forward input; w: [C]. dx must not alias dy or x.
 */
export function rmsnorm_backward_f32(dx: usize, dw: usize, rstd: usize, dy: usize, x: usize, w: usize, R: i32, C: i32): void {
  const invC: f32 = 1 / <f32>C;
  for (let r = 0; r < R; r++) {
    const ro = (<usize>r * C) << 2;
    const xr = x + ro;
    const dyr = dy + ro;
    const dxr = dx + ro;
    const rs = load<f32>(rstd + (<usize>r << 2));
    const vrs = f32x4.splat(rs);
    let sgn = f32x4.splat(0);
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const o = <usize>c << 2;
      const d = v128.load(dyr + o);
      const n = f32x4.mul(v128.load(xr + o), vrs);
      sgn = madd(f32x4.mul(d, v128.load(w + o)), n, sgn);
      if (dw) v128.store(dw + o, madd(d, n, v128.load(dw + o)));
    }
    let sumGN = hsum(sgn);
    for (; c < C; c++) {
      const o = <usize>c << 2;
      const d = load<f32>(dyr + o);
      const n = load<f32>(xr + o) * rs;
      sumGN += d * load<f32>(w + o) * n;
      if (dw) store<f32>(dw + o, load<f32>(dw + o) + d * n);
    }
    const mgn = sumGN * invC;
    const vmgn = f32x4.splat(mgn);
    c = 0;
    for (; c + 4 <= C; c += 4) {
      const o = <usize>c << 2;
      const n = f32x4.mul(v128.load(xr + o), vrs);
      const g = f32x4.mul(v128.load(dyr + o), v128.load(w + o));
      v128.store(dxr + o, madd(f32x4.sub(g, f32x4.mul(n, vmgn)), vrs, v128.load(dxr + o)));
    }
    for (; c < C; c++) {
      const o = <usize>c << 2;
      const n = load<f32>(xr + o) * rs;
      const g = load<f32>(dyr + o) * load<f32>(w + o);
      store<f32>(dxr + o, load<f32>(dxr + o) + (g - n * mgn) * rs);
    }
  }
}

/** f64 reference for layernorm_backward_f32 (same arguments; uses the saved mean and rstd). */
export function layernorm_backward_f32_ref(
  dx: usize, dw: usize, db: usize, mean: usize, rstd: usize, dy: usize, x: usize, w: usize, R: i32, C: i32,
): void {
  for (let r = 0; r < R; r++) {
    const ro = (<usize>r * C) << 2;
    const mu = <f64>load<f32>(mean + (<usize>r << 2));
    const rs = <f64>load<f32>(rstd + (<usize>r << 2));
    let sumG: f64 = 0;
    let sumGN: f64 = 0;
    for (let c = 0; c < C; c++) {
      const o = <usize>c << 2;
      const g = <f64>load<f32>(dy + ro + o) * <f64>load<f32>(w + o);
      sumG += g;
      sumGN += g * (<f64>load<f32>(x + ro + o) - mu) * rs;
    }
    for (let c = 0; c < C; c++) {
      const o = <usize>c << 2;
      const d = <f64>load<f32>(dy + ro + o);
      const n = (<f64>load<f32>(x + ro + o) - mu) * rs;
      const g = d * <f64>load<f32>(w + o);
      store<f32>(dx + ro + o, <f32>(<f64>load<f32>(dx + ro + o) + (g - sumG / <f64>C - n * sumGN / <f64>C) * rs));
    }
  }
  normParamGradRef(dw, db, mean, rstd, dy, x, R, C);
}

/** f64 reference for rmsnorm_backward_f32 (same arguments; uses the saved rstd). */
export function rmsnorm_backward_f32_ref(dx: usize, dw: usize, rstd: usize, dy: usize, x: usize, w: usize, R: i32, C: i32): void {
  for (let r = 0; r < R; r++) {
    const ro = (<usize>r * C) << 2;
    const rs = <f64>load<f32>(rstd + (<usize>r << 2));
    let sumGN: f64 = 0;
    for (let c = 0; c < C; c++) {
      const o = <usize>c << 2;
      sumGN += <f64>load<f32>(dy + ro + o) * <f64>load<f32>(w + o) * <f64>load<f32>(x + ro + o) * rs;
    }
    for (let c = 0; c < C; c++) {
      const o = <usize>c << 2;
      const n = <f64>load<f32>(x + ro + o) * rs;
      const g = <f64>load<f32>(dy + ro + o) * <f64>load<f32>(w + o);
      store<f32>(dx + ro + o, <f32>(<f64>load<f32>(dx + ro + o) + (g - n * sumGN / <f64>C) * rs));
    }
  }
  normParamGradRef(dw, 0, 0, rstd, dy, x, R, C);
}

/** dw += Σ_r dy ⊙ n and db += Σ_r dy, each column summed in f64 (mean = 0: RMSNorm). */
function normParamGradRef(dw: usize, db: usize, mean: usize, rstd: usize, dy: usize, x: usize, R: i32, C: i32): void {
  for (let c = 0; c < C; c++) {
    const o = <usize>c << 2;
    let sw: f64 = 0;
    let sb: f64 = 0;
    for (let r = 0; r < R; r++) {
      const ro = (<usize>r * C) << 2;
      const mu: f64 = mean ? <f64>load<f32>(mean + (<usize>r << 2)) : 0;
      const d = <f64>load<f32>(dy + ro + o);
      sw += d * (<f64>load<f32>(x + ro + o) - mu) * <f64>load<f32>(rstd + (<usize>r << 2));
      sb += d;
    }
    if (dw) store<f32>(dw + o, <f32>(<f64>load<f32>(dw + o) + sw));
    if (db) store<f32>(db + o, <f32>(<f64>load<f32>(db + o) + sb));
  }
}
