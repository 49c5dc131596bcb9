// Optimizer and gradient-buffer kernels. Parameters, gradients and the two AdamW moments share one
// layout (llm.c style), so a step is one call per contiguous parameter region (regions differ only in
// whether weight decay applies), and zero-grad is one call over the whole gradient buffer.

/** x[0..n) = 0 (zero-grad: backward kernels accumulate, so clear the gradients once per step). */
export function zero_f32(x: usize, n: i32): void {
  memory.fill(x, 0, <usize>n << 2);
}

/**
 * Σ x² over n floats in f64 (for global-norm gradient clipping: scale = min(1, maxNorm / sqrt(Σ over
 * all regions)), then pass it to adamw_f32 as gradScale). Lanes accumulate in f32 over blocks of 1024
 * values and the blocks in f64.
 */
export function sumsq_f32(x: usize, n: i32): f64 {
  let total: f64 = 0;
  let i = 0;
  while (i + 4 <= n) {
    const end = min(n, i + 1024);
    let acc = f32x4.splat(0);
    for (; i + 4 <= end; i += 4) {
      const v = v128.load(x + (<usize>i << 2));
      acc = f32x4.add(acc, f32x4.mul(v, v));
    }
    total += <f64>f32x4.extract_lane(acc, 0) + <f64>f32x4.extract_lane(acc, 1) + <f64>f32x4.extract_lane(acc, 2) + <f64>f32x4.extract_lane(acc, 3);
  }
  for (; i < n; i++) {
    const v = <f64>load<f32>(x + (<usize>i << 2));
    total += v * v;
  }
  return total;
}

/**
 * One AdamW step (torch.optim.AdamW, amsgrad off) over a contiguous region of n parameters, in place:
 *   g = grad·gradScale;  p ← p·(1 − lr·weightDecay)                 (decoupled weight decay)
 *   m ← m + (1 − β1)(g − m);  v ← β2·v + (1 − β2)·g²
 *   p ← p − (lr / (1 − β1^step)) · m / (sqrt(v) / sqrt(1 − β2^step) + eps)
 * param, m, v: [n] (m and v start at zero); grad: [n]; step: 1 for the first step. Pass weightDecay 0 for
 * regions without decay (biases, LayerNorm / RMSNorm weights) and gradScale 1 unless clipping or
 * averaging accumulated gradients. Bias corrections are computed in f64, the update in f32 in
 * PyTorch's order of operations.
 */
export function adamw_f32(
  param: usize, m: usize, v: usize, grad: usize, n: i32,
  step: i32, lr: f64, beta1: f64, beta2: f64, eps: f64, weightDecay: f64, gradScale: f64,
): void {
  const bc1 = 1.0 - Math.pow(beta1, <f64>step);
  const bc2sqrt = Math.sqrt(1.0 - Math.pow(beta2, <f64>step));
  const decay = f32x4.splat(<f32>(1.0 - lr * weightDecay));
  const stepSize = f32x4.splat(<f32>(lr / bc1));
  const invBc2 = f32x4.splat(<f32>(1.0 / bc2sqrt));
  const b1 = f32x4.splat(<f32>(1.0 - beta1));
  const b2 = f32x4.splat(<f32>beta2);
  const ob2 = f32x4.splat(<f32>(1.0 - beta2));
  const ve = f32x4.splat(<f32>eps);
  const gs = f32x4.splat(<f32>gradScale);
  const scaled = gradScale != 1.0;
  const decayed = weightDecay != 0.0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    let g = v128.load(grad + o);
    if (scaled) g = f32x4.mul(g, gs);
    let p = v128.load(param + o);
    if (decayed) p = f32x4.mul(p, decay);
    let mv = v128.load(m + o);
    mv = f32x4.add(mv, f32x4.mul(b1, f32x4.sub(g, mv)));
    const vv = f32x4.add(f32x4.mul(v128.load(v + o), b2), f32x4.mul(ob2, f32x4.mul(g, g)));
    const denom = f32x4.add(f32x4.mul(f32x4.sqrt(vv), invBc2), ve);
    p = f32x4.sub(p, f32x4.mul(stepSize, f32x4.div(mv, denom)));
    v128.store(m + o, mv);
    v128.store(v + o, vv);
    v128.store(param + o, p);
  }
  // tail: the same f32 operations on one lane
  for (; i < n; i++) {
    const o = <usize>i << 2;
    let g = f32x4.splat(load<f32>(grad + o));
    if (scaled) g = f32x4.mul(g, gs);
    let p = f32x4.splat(load<f32>(param + o));
    if (decayed) p = f32x4.mul(p, decay);
    let mv = f32x4.splat(load<f32>(m + o));
    mv = f32x4.add(mv, f32x4.mul(b1, f32x4.sub(g, mv)));
    const vv = f32x4.add(f32x4.mul(f32x4.splat(load<f32>(v + o)), b2), f32x4.mul(ob2, f32x4.mul(g, g)));
    const denom = f32x4.add(f32x4.mul(f32x4.sqrt(vv), invBc2), ve);
    p = f32x4.sub(p, f32x4.mul(stepSize, f32x4.div(mv, denom)));
    store<f32>(m + o, f32x4.extract_lane(mv, 0));
    store<f32>(v + o, f32x4.extract_lane(vv, 0));
    store<f32>(param + o, f32x4.extract_lane(p, 0));
  }
}

/** f64 reference for adamw_f32 (same arguments; every operation in f64, stored as f32). */
export function adamw_f32_ref(
  param: usize, m: usize, v: usize, grad: usize, n: i32,
  step: i32, lr: f64, beta1: f64, beta2: f64, eps: f64, weightDecay: f64, gradScale: f64,
): void {
  const bc1 = 1.0 - Math.pow(beta1, <f64>step);
  const bc2sqrt = Math.sqrt(1.0 - Math.pow(beta2, <f64>step));
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const g = <f64>load<f32>(grad + o) * gradScale;
    let p = <f64>load<f32>(param + o) * (1.0 - lr * weightDecay);
    const mv = <f64>load<f32>(m + o) * beta1 + (1.0 - beta1) * g;
    const vv = <f64>load<f32>(v + o) * beta2 + (1.0 - beta2) * g * g;
    p -= (lr / bc1) * mv / (Math.sqrt(vv) / bc2sqrt + eps);
    store<f32>(m + o, <f32>mv);
    store<f32>(v + o, <f32>vv);
    store<f32>(param + o, <f32>p);
  }
}
