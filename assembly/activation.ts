// Elementwise kernels: activations (GELU erf/tanh, ReLU, tanh — same codes as the GEMM epilogues),
// gated-GELU (T5 v1.1), residual add, and row softmax.
import { epiGradOne, epiGradRef, epiGradVec, epiOne, epiRef, epiVec } from "./epilogue";
import { exp1, geluTanh1, geluTanh64, geluTanhGrad64, hmax, hsum, madd, vexp, vgeluTanh, vgeluTanhGrad, vgeluTanhStable } from "./vecmath";

/** y[n] = act(x[n]) with act one of EPI_GELU_ERF, EPI_GELU_TANH, EPI_RELU, EPI_TANH. y may alias x. */
export function activation_f32(y: usize, x: usize, n: i32, act: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, epiVec(v128.load(x + o), act, 0));
  }
  for (; i < n; i++) store<f32>(y + (<usize>i << 2), epiOne(load<f32>(x + (<usize>i << 2)), act, 0));
}

/** f64 reference for activation_f32. */
export function activation_f32_ref(y: usize, x: usize, n: i32, act: i32): void {
  for (let i = 0; i < n; i++) store<f32>(y + (<usize>i << 2), <f32>epiRef(<f64>load<f32>(x + (<usize>i << 2)), act, 0));
}

/**
 * y[r,f] = gelu_tanh(gate[r,f]) · up[r,f]  (T5 v1.1 feed-forward).
 * y: [R,F]; gate, up: rows of F values, inStride elements apart (F for separate buffers, 2F for one
 * fused [R, 2F] GEMM output with up = gate + F).
 */
export function gated_gelu_f32(y: usize, gate: usize, up: usize, R: i32, F: i32, inStride: i32): void {
  for (let r = 0; r < R; r++) {
    const g = gate + ((<usize>r * inStride) << 2);
    const u = up + ((<usize>r * inStride) << 2);
    const yr = y + ((<usize>r * F) << 2);
    let f = 0;
    for (; f + 4 <= F; f += 4) {
      const o = <usize>f << 2;
      v128.store(yr + o, f32x4.mul(vgeluTanh(v128.load(g + o)), v128.load(u + o)));
    }
    for (; f < F; f++) {
      const o = <usize>f << 2;
      store<f32>(yr + o, geluTanh1(load<f32>(g + o)) * load<f32>(u + o));
    }
  }
}

/** f64 reference for gated_gelu_f32. */
export function gated_gelu_f32_ref(y: usize, gate: usize, up: usize, R: i32, F: i32, inStride: i32): void {
  for (let r = 0; r < R; r++) {
    for (let f = 0; f < F; f++) {
      const o = ((<usize>r * inStride + f) << 2);
      const v = geluTanh64(<f64>load<f32>(gate + o)) * <f64>load<f32>(up + o);
      store<f32>(y + ((<usize>r * F + f) << 2), <f32>v);
    }
  }
}

/** y[n] = a[n] + b[n] (residual add). y may alias a or b. */
export function add_f32(y: usize, a: usize, b: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(a + o) + load<f32>(b + o));
  }
}

/** Row softmax: y[r,:] = exp(x[r,:] − max) / Σ. y: [R,N]; x: [R,N]; y may alias x. */
export function softmax_f32(y: usize, x: usize, R: i32, N: i32): void {
  for (let r = 0; r < R; r++) {
    const xr = x + ((<usize>r * N) << 2);
    const yr = y + ((<usize>r * N) << 2);
    let vm = f32x4.splat(-Infinity);
    let i = 0;
    for (; i + 4 <= N; i += 4) vm = f32x4.max(vm, v128.load(xr + (<usize>i << 2)));
    let mx = hmax(vm);
    for (; i < N; i++) mx = Mathf.max(mx, load<f32>(xr + (<usize>i << 2)));
    const vmx = f32x4.splat(mx);
    let vs = f32x4.splat(0);
    i = 0;
    for (; i + 4 <= N; i += 4) {
      const o = <usize>i << 2;
      const e = vexp(f32x4.sub(v128.load(xr + o), vmx));
      v128.store(yr + o, e);
      vs = f32x4.add(vs, e);
    }
    let sum = hsum(vs);
    for (; i < N; i++) {
      const o = <usize>i << 2;
      const e = exp1(load<f32>(xr + o) - mx);
      store<f32>(yr + o, e);
      sum += e;
    }
    const inv = f32x4.splat(1 / sum);
    i = 0;
    for (; i + 4 <= N; i += 4) {
      const o = <usize>i << 2;
      v128.store(yr + o, f32x4.mul(v128.load(yr + o), inv));
    }
    for (; i < N; i++) {
      const o = <usize>i << 2;
      store<f32>(yr + o, load<f32>(yr + o) / sum);
    }
  }
}

/** f64 reference for softmax_f32. */
export function softmax_f32_ref(y: usize, x: usize, R: i32, N: i32): void {
  for (let r = 0; r < R; r++) {
    const xr = x + ((<usize>r * N) << 2);
    const yr = y + ((<usize>r * N) << 2);
    let mx: f64 = -Infinity;
    for (let i = 0; i < N; i++) mx = Math.max(mx, <f64>load<f32>(xr + (<usize>i << 2)));
    let sum: f64 = 0;
    for (let i = 0; i < N; i++) sum += Math.exp(<f64>load<f32>(xr + (<usize>i << 2)) - mx);
    for (let i = 0; i < N; i++) {
      const o = <usize>i << 2;
      store<f32>(yr + o, <f32>(Math.exp(<f64>load<f32>(xr + o) - mx) / sum));
    }
  }
}

// ---- backward ------------------------------------------------------------------------------------

/**
 * dx[n] += dy[n] · act'(x[n]) with act one of EPI_GELU_ERF, EPI_GELU_TANH, EPI_RELU, EPI_TANH (EPI_BIAS
 * and EPI_RESIDUAL: dx += dy). x is the activation's input — for a GEMM with a fused epilogue, the
 * `preact` it saved, so this is also the epilogue's backward (dPreact from dY). dx must not alias dy or x.
 */
export function activation_backward_f32(dx: usize, dy: usize, x: usize, n: i32, act: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dx + o, madd(v128.load(dy + o), epiGradVec(v128.load(x + o), act), v128.load(dx + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dx + o, load<f32>(dx + o) + load<f32>(dy + o) * epiGradOne(load<f32>(x + o), act));
  }
}

/** f64 reference for activation_backward_f32. */
export function activation_backward_f32_ref(dx: usize, dy: usize, x: usize, n: i32, act: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const g = <f64>load<f32>(dy + o) * epiGradRef(<f64>load<f32>(x + o), act);
    store<f32>(dx + o, <f32>(<f64>load<f32>(dx + o) + g));
  }
}

/**
 * Backward of gated_gelu_f32 (y = gelu_tanh(gate) · up):
 * dgate += dy · up · gelu_tanh'(gate);  dup += dy · gelu_tanh(gate).
 * dgate, dup: rows of F values inStride elements apart, like gate and up (for the fused [R, 2F] layout
 * pass dgate = dh, dup = dh + F, inStride = 2F); dy: [R,F]; gate, up: the forward's inputs.
 */
export function gated_gelu_backward_f32(
  dgate: usize, dup: usize, dy: usize, gate: usize, up: usize, R: i32, F: i32, inStride: i32,
): void {
  for (let r = 0; r < R; r++) {
    const rowIn = (<usize>r * inStride) << 2;
    const g = gate + rowIn;
    const u = up + rowIn;
    const dg = dgate + rowIn;
    const du = dup + rowIn;
    const dyr = dy + ((<usize>r * F) << 2);
    let f = 0;
    for (; f + 4 <= F; f += 4) {
      const o = <usize>f << 2;
      const gv = v128.load(g + o);
      const d = v128.load(dyr + o);
      v128.store(dg + o, madd(f32x4.mul(d, v128.load(u + o)), vgeluTanhGrad(gv), v128.load(dg + o)));
      v128.store(du + o, madd(d, vgeluTanhStable(gv), v128.load(du + o)));
    }
    for (; f < F; f++) {
      const o = <usize>f << 2;
      const gv = f32x4.splat(load<f32>(g + o));
      const d = load<f32>(dyr + o);
      store<f32>(dg + o, load<f32>(dg + o) + d * load<f32>(u + o) * f32x4.extract_lane(vgeluTanhGrad(gv), 0));
      store<f32>(du + o, load<f32>(du + o) + d * f32x4.extract_lane(vgeluTanhStable(gv), 0));
    }
  }
}

/** f64 reference for gated_gelu_backward_f32. */
export function gated_gelu_backward_f32_ref(
  dgate: usize, dup: usize, dy: usize, gate: usize, up: usize, R: i32, F: i32, inStride: i32,
): void {
  for (let r = 0; r < R; r++) {
    for (let f = 0; f < F; f++) {
      const o = (<usize>r * inStride + f) << 2;
      const gv = <f64>load<f32>(gate + o);
      const d = <f64>load<f32>(dy + ((<usize>r * F + f) << 2));
      store<f32>(dgate + o, <f32>(<f64>load<f32>(dgate + o) + d * <f64>load<f32>(up + o) * geluTanhGrad64(gv)));
      store<f32>(dup + o, <f32>(<f64>load<f32>(dup + o) + d * geluTanh64(gv)));
    }
  }
}
