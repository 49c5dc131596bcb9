// Row normalizations over the channel dimension C: LayerNorm (BERT) and RMSNorm (T5: no mean
// subtraction, no bias). Both save what backward needs (mean and 1/std per row) when given buffers.
import { hsum } from "./vecmath";

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
