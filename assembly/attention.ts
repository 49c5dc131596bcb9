// Fused masked attention  out = softmax(scale · Q·Kᵀ + bias + mask) · V  for B×H heads, Tq ≠ Tk allowed
// (cross-attention, one-token decoding against a cache). Masks: key padding ([B,Tk] i32, 1 = attend),
// causal, prefix-LM (keys < P visible to all, causal after); an optional additive bias [H,Tq,Tk] (T5).
// Queries are aligned to the end of the keys: query i sits at absolute position i + Tk − Tq.
// Layout: element (b, t, h, d) of Q/K/V/out is at b·sB + t·sT + h·D + d (strides in elements), which
// covers [B,T,H·D] activations, fused QKV rows and KV caches with spare capacity.
// A query with no visible key gets zero probabilities and a zero output.
import { madd, vexp } from "./vecmath";

export const MASK_NONE: i32 = 0;
export const MASK_CAUSAL: i32 = 1;
export const MASK_PREFIX: i32 = 2;

@inline function visible(keyMask: usize, b: i32, Tk: i32, j: i32, iAbs: i32, maskKind: i32, prefixLen: i32): bool {
  if (keyMask && load<i32>(keyMask + ((<usize>b * Tk + j) << 2)) == 0) return false;
  if (maskKind == MASK_CAUSAL) return j <= iAbs;
  if (maskKind == MASK_PREFIX) return j < prefixLen || j <= iAbs;
  return true;
}

@inline function dot(a: usize, b: usize, D: i32): f32 {
  let acc0 = f32x4.splat(0);
  let acc1 = f32x4.splat(0);
  let d = 0;
  for (; d + 8 <= D; d += 8) {
    const o = <usize>d << 2;
    acc0 = madd(v128.load(a + o), v128.load(b + o), acc0);
    acc1 = madd(v128.load(a + o, 16), v128.load(b + o, 16), acc1);
  }
  if (d + 4 <= D) {
    const o = <usize>d << 2;
    acc0 = madd(v128.load(a + o), v128.load(b + o), acc0);
    d += 4;
  }
  const s = f32x4.add(acc0, acc1);
  let r = f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + (f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3));
  for (; d < D; d++) r += load<f32>(a + (<usize>d << 2)) * load<f32>(b + (<usize>d << 2));
  return r;
}

/** o[0..D) += p · v[0..D) */
@inline function axpy(o: usize, p: f32, v: usize, D: i32): void {
  const vp = f32x4.splat(p);
  let d = 0;
  for (; d + 4 <= D; d += 4) {
    const at = <usize>d << 2;
    v128.store(o + at, madd(vp, v128.load(v + at), v128.load(o + at)));
  }
  for (; d < D; d++) store<f32>(o + (<usize>d << 2), load<f32>(o + (<usize>d << 2)) + p * load<f32>(v + (<usize>d << 2)));
}

/**
 * out: [B,Tq,H,D] by strides (osB, osT); probs: [B,H,Tq,Tk] softmax saved for backward, or 0;
 * scratch: [Tk] f32 (used when probs is 0); q/k/v by strides; bias: [H,Tq,Tk] or 0; keyMask: [B,Tk] i32 or 0.
 */
export function attention_f32(
  out: usize, probs: usize, scratch: usize,
  q: usize, k: usize, v: usize, bias: usize, keyMask: usize,
  B: i32, H: i32, Tq: i32, Tk: i32, D: i32, scale: f32, maskKind: i32, prefixLen: i32,
  qsB: i32, qsT: i32, ksB: i32, ksT: i32, vsB: i32, vsT: i32, osB: i32, osT: i32,
): void {
  const NEG_INF: f32 = -Infinity;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < Tq; i++) {
        const row = probs ? probs + ((((<usize>b * H + h) * Tq + i) * Tk) << 2) : scratch;
        const qi = q + ((<usize>b * qsB + <usize>i * qsT + <usize>h * D) << 2);
        const brow = bias ? bias + (((<usize>h * Tq + i) * Tk) << 2) : 0;
        const iAbs = i + Tk - Tq;
        let mx: f32 = NEG_INF;
        for (let j = 0; j < Tk; j++) {
          let s: f32 = NEG_INF;
          if (visible(keyMask, b, Tk, j, iAbs, maskKind, prefixLen)) {
            const kj = k + ((<usize>b * ksB + <usize>j * ksT + <usize>h * D) << 2);
            s = dot(qi, kj, D) * scale;
            if (brow) s += load<f32>(brow + (<usize>j << 2));
            mx = Mathf.max(mx, s);
          }
          store<f32>(row + (<usize>j << 2), s);
        }
        const oi = out + ((<usize>b * osB + <usize>i * osT + <usize>h * D) << 2);
        for (let d = 0; d < D; d++) store<f32>(oi + (<usize>d << 2), 0);
        if (mx == NEG_INF) {
          for (let j = 0; j < Tk; j++) store<f32>(row + (<usize>j << 2), 0);
          continue;
        }
        // exp pass (vectorized); masked scores are −inf and become exactly 0.
        const vmx = f32x4.splat(mx);
        const vneg = f32x4.splat(NEG_INF);
        let vsum = f32x4.splat(0);
        let j = 0;
        for (; j + 4 <= Tk; j += 4) {
          const at = row + (<usize>j << 2);
          const s = v128.load(at);
          const e = v128.andnot(vexp(f32x4.sub(s, vmx)), f32x4.eq(s, vneg));
          v128.store(at, e);
          vsum = f32x4.add(vsum, e);
        }
        let sum = f32x4.extract_lane(vsum, 0) + f32x4.extract_lane(vsum, 1) + (f32x4.extract_lane(vsum, 2) + f32x4.extract_lane(vsum, 3));
        for (; j < Tk; j++) {
          const at = row + (<usize>j << 2);
          const s = load<f32>(at);
          const e: f32 = s == NEG_INF ? 0 : f32x4.extract_lane(vexp(f32x4.splat(s - mx)), 0);
          store<f32>(at, e);
          sum += e;
        }
        const inv: f32 = 1 / sum;
        for (j = 0; j < Tk; j++) {
          const at = row + (<usize>j << 2);
          const p = load<f32>(at) * inv;
          store<f32>(at, p);
          if (p != 0) axpy(oi, p, v + ((<usize>b * vsB + <usize>j * vsT + <usize>h * D) << 2), D);
        }
      }
    }
  }
}

/** Scalar f64 reference with the same arguments as attention_f32. */
export function attention_f32_ref(
  out: usize, probs: usize, scratch: usize,
  q: usize, k: usize, v: usize, bias: usize, keyMask: usize,
  B: i32, H: i32, Tq: i32, Tk: i32, D: i32, scale: f32, maskKind: i32, prefixLen: i32,
  qsB: i32, qsT: i32, ksB: i32, ksT: i32, vsB: i32, vsT: i32, osB: i32, osT: i32,
): void {
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < Tq; i++) {
        const row = probs ? probs + ((((<usize>b * H + h) * Tq + i) * Tk) << 2) : scratch;
        const qi = q + ((<usize>b * qsB + <usize>i * qsT + <usize>h * D) << 2);
        const iAbs = i + Tk - Tq;
        let mx: f64 = -Infinity;
        for (let j = 0; j < Tk; j++) {
          if (!visible(keyMask, b, Tk, j, iAbs, maskKind, prefixLen)) continue;
          const kj = k + ((<usize>b * ksB + <usize>j * ksT + <usize>h * D) << 2);
          let s: f64 = 0;
          for (let d = 0; d < D; d++) s += <f64>load<f32>(qi + (<usize>d << 2)) * <f64>load<f32>(kj + (<usize>d << 2));
          s *= <f64>scale;
          if (bias) s += <f64>load<f32>(bias + ((((<usize>h * Tq + i) * Tk) + j) << 2));
          mx = Math.max(mx, s);
        }
        let sum: f64 = 0;
        for (let j = 0; j < Tk; j++) {
          let e: f64 = 0;
          if (visible(keyMask, b, Tk, j, iAbs, maskKind, prefixLen)) {
            const kj = k + ((<usize>b * ksB + <usize>j * ksT + <usize>h * D) << 2);
            let s: f64 = 0;
            for (let d = 0; d < D; d++) s += <f64>load<f32>(qi + (<usize>d << 2)) * <f64>load<f32>(kj + (<usize>d << 2));
            s *= <f64>scale;
            if (bias) s += <f64>load<f32>(bias + ((((<usize>h * Tq + i) * Tk) + j) << 2));
            e = Math.exp(s - mx);
          }
          store<f32>(row + (<usize>j << 2), <f32>e);
          sum += e;
        }
        const oi = out + ((<usize>b * osB + <usize>i * osT + <usize>h * D) << 2);
        for (let d = 0; d < D; d++) {
          let acc: f64 = 0;
          if (sum > 0) {
            for (let j = 0; j < Tk; j++) {
              const p = <f64>load<f32>(row + (<usize>j << 2)) / sum;
              acc += p * <f64>load<f32>(v + ((<usize>b * vsB + <usize>j * vsT + <usize>h * D + d) << 2));
            }
          }
          store<f32>(oi + (<usize>d << 2), <f32>acc);
        }
        for (let j = 0; j < Tk; j++) {
          const at = row + (<usize>j << 2);
          store<f32>(at, sum > 0 ? <f32>(<f64>load<f32>(at) / sum) : 0);
        }
      }
    }
  }
}
