// Fused masked attention  out = softmax(scale · Q·Kᵀ + bias + mask) · V  for B×H heads, Tq ≠ Tk allowed
// (cross-attention, one-token decoding against a cache). Masks: key padding ([B,Tk] i32, 1 = attend),
// causal, prefix-LM (keys < P visible to all, causal after); an optional additive bias [H,Tq,Tk] (T5).
// Queries are aligned to the end of the keys: query i sits at absolute position i + Tk − Tq.
// Layout: element (b, t, h, d) of Q/K/V/out is at b·sB + t·sT + h·D + d (strides in elements), which
// covers [B,T,H·D] activations, fused QKV rows and KV caches with spare capacity.
// A query with no visible key gets zero probabilities and a zero output.
import { EPI_BIAS } from "./epilogue";
import { gemmAcc, matmul_f32 } from "./matmul";
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

/** Keys j < visibleEnd(...) may be seen by query iAbs under the causal / prefix-LM mask. */
@inline function visibleEnd(Tk: i32, iAbs: i32, maskKind: i32, prefixLen: i32): i32 {
  if (maskKind == MASK_CAUSAL) return min(Tk, iAbs + 1);
  if (maskKind == MASK_PREFIX) return min(Tk, max(iAbs + 1, prefixLen));
  return Tk;
}

/** addMask[j] = 0 for a key that may be attended, −inf for padding ([Tk] f32 from keyMask row b). */
@inline function fillAddMask(addMask: usize, keyMask: usize, b: i32, Tk: i32): void {
  for (let j = 0; j < Tk; j++) {
    store<f32>(addMask + (<usize>j << 2), load<i32>(keyMask + ((<usize>b * Tk + j) << 2)) != 0 ? 0 : -Infinity);
  }
}

/**
 * Turns a row of raw dot products q·k into probabilities in place: scale, bias, additive key mask
 * (addMask, or 0), causal / prefix limit (keys ≥ end get 0), softmax; masked keys get exactly 0.
 * A row with no visible key becomes all zeros.
 */
@inline function softmaxRow(row: usize, Tk: i32, end: i32, scale: f32, brow: usize, addMask: usize): void {
  const NEG_INF: f32 = -Infinity;
  const vscale = f32x4.splat(scale);
  let vmx = f32x4.splat(NEG_INF);
  let j = 0;
  for (; j + 4 <= end; j += 4) {
    const o = <usize>j << 2;
    let s = f32x4.mul(v128.load(row + o), vscale);
    if (brow) s = f32x4.add(s, v128.load(brow + o));
    if (addMask) s = f32x4.add(s, v128.load(addMask + o));
    v128.store(row + o, s);
    vmx = f32x4.pmax(vmx, s); // one maxps (f32x4.max is a long sequence on x86); a NaN score still ends NaN
  }
  let mx = Mathf.max(Mathf.max(f32x4.extract_lane(vmx, 0), f32x4.extract_lane(vmx, 1)), Mathf.max(f32x4.extract_lane(vmx, 2), f32x4.extract_lane(vmx, 3)));
  for (; j < end; j++) {
    const o = <usize>j << 2;
    let s = load<f32>(row + o) * scale;
    if (brow) s += load<f32>(brow + o);
    if (addMask) s += load<f32>(addMask + o);
    store<f32>(row + o, s);
    mx = Mathf.max(mx, s);
  }
  if (end < Tk) memory.fill(row + (<usize>end << 2), 0, <usize>(Tk - end) << 2);
  if (mx == NEG_INF) {
    memory.fill(row, 0, <usize>end << 2);
    return;
  }
  // exp pass; −inf scores (padding) become exactly 0
  const vm = f32x4.splat(mx);
  const vneg = f32x4.splat(NEG_INF);
  let vsum = f32x4.splat(0);
  j = 0;
  for (; j + 4 <= end; j += 4) {
    const at = row + (<usize>j << 2);
    const s = v128.load(at);
    const e = v128.andnot(vexp(f32x4.sub(s, vm)), f32x4.eq(s, vneg));
    v128.store(at, e);
    vsum = f32x4.add(vsum, e);
  }
  let sum = f32x4.extract_lane(vsum, 0) + f32x4.extract_lane(vsum, 1) + (f32x4.extract_lane(vsum, 2) + f32x4.extract_lane(vsum, 3));
  for (; j < end; j++) {
    const at = row + (<usize>j << 2);
    const s = load<f32>(at);
    const e: f32 = s == NEG_INF ? 0 : f32x4.extract_lane(vexp(f32x4.splat(s - mx)), 0);
    store<f32>(at, e);
    sum += e;
  }
  const inv = f32x4.splat(<f32>1 / sum);
  j = 0;
  for (; j + 4 <= end; j += 4) {
    const at = row + (<usize>j << 2);
    v128.store(at, f32x4.mul(v128.load(at), inv));
  }
  for (; j < end; j++) {
    const at = row + (<usize>j << 2);
    store<f32>(at, load<f32>(at) / sum);
  }
}

/**
 * Stores the 4×4 transpose of rows r0…r3 (4 keys × 4 dims) as 4 vectors 32 bytes apart: at + 32·i holds
 * dim i of the 4 keys (one half of a packed 8-key panel row).
 */
@inline function transposeStore4(at: usize, r0: v128, r1: v128, r2: v128, r3: v128): void {
  const t0 = v128.shuffle<i32>(r0, r1, 0, 4, 1, 5); // r0[0] r1[0] r0[1] r1[1]
  const t1 = v128.shuffle<i32>(r2, r3, 0, 4, 1, 5); // r2[0] r3[0] r2[1] r3[1]
  const t2 = v128.shuffle<i32>(r0, r1, 2, 6, 3, 7);
  const t3 = v128.shuffle<i32>(r2, r3, 2, 6, 3, 7);
  v128.store(at, v128.shuffle<i64>(t0, t1, 0, 2));
  v128.store(at + 32, v128.shuffle<i64>(t0, t1, 1, 3));
  v128.store(at + 64, v128.shuffle<i64>(t2, t3, 0, 2));
  v128.store(at + 96, v128.shuffle<i64>(t2, t3, 1, 3));
}

/** Queries from this many rows up use the two-GEMM path (packing K and V pays off). */
const GEMM_MIN_TQ: i32 = 4;

@inline function ceil8(n: i32): i32 {
  return (n + 7) & ~7;
}

/**
 * Bytes of scratch attention_f32 needs: packed K [ceil8(Tk)·D], contiguous Q [Tq·D], packed V
 * [ceil8(D)·Tk], output rows [Tq·D], a score block [Tq·Tk] (used when probs is 0) and an additive key
 * mask row [Tk].
 */
export function attention_scratch_size(Tq: i32, Tk: i32, D: i32): i32 {
  return (ceil8(Tk) * D + Tq * D + ceil8(D) * Tk + Tq * D + Tq * Tk + ceil8(Tk)) << 2;
}

/**
 * out: [B,Tq,H,D] by strides (osB, osT); probs: [B,H,Tq,Tk] softmax saved for backward, or 0;
 * scratch: attention_scratch_size(Tq, Tk, D) bytes; q/k/v by strides; bias: [H,Tq,Tk] or 0;
 * keyMask: [B,Tk] i32 or 0.
 * With Tq ≥ 4 each head runs as two register-tiled GEMMs (S = Q·Kᵀ, then O = P·V, with K and V packed
 * into panels per head); decoding (Tq < 4) walks the keys directly.
 */
export function attention_f32(
  out: usize, probs: usize, scratch: usize,
  q: usize, k: usize, v: usize, bias: usize, keyMask: usize,
  B: i32, H: i32, Tq: i32, Tk: i32, D: i32, scale: f32, maskKind: i32, prefixLen: i32,
  qsB: i32, qsT: i32, ksB: i32, ksT: i32, vsB: i32, vsT: i32, osB: i32, osT: i32,
): void {
  if (Tq < GEMM_MIN_TQ) {
    attentionRows(out, probs, scratch, q, k, v, bias, keyMask, B, H, Tq, Tk, D, scale, maskKind, prefixLen, qsB, qsT, ksB, ksT, vsB, vsT, osB, osT);
    return;
  }
  const kp = scratch; // packed K panels [ceil8(Tk)/8][D][8]
  const qc = kp + ((<usize>ceil8(Tk) * D) << 2); // [Tq, D]
  const vp = qc + ((<usize>Tq * D) << 2); // packed V panels [ceil8(D)/8][Tk][8]
  const oc = vp + ((<usize>ceil8(D) * Tk) << 2); // [Tq, D]
  const sc = oc + ((<usize>Tq * D) << 2); // [Tq, Tk] scores when probs is 0
  const addMask = keyMask ? sc + ((<usize>Tq * Tk) << 2) : 0; // [Tk] 0 or −inf
  for (let b = 0; b < B; b++) {
    if (addMask) fillAddMask(addMask, keyMask, b, Tk);
    for (let h = 0; h < H; h++) {
      // pack K_h as GEMM weights W[N = Tk][K = D]: full panels of 8 keys by 4×4 transposes (D % 4 == 0),
      // the rest element by element
      const fullK = (D & 3) == 0 ? Tk >> 3 : 0;
      for (let p = 0; p < fullK; p++) {
        const src = k + ((<usize>b * ksB + <usize>(p << 3) * ksT + <usize>h * D) << 2);
        const rs = <usize>ksT << 2; // bytes between keys
        const dst = kp + ((<usize>p * D) << 5);
        for (let d = 0; d < D; d += 4) {
          const o = <usize>d << 2;
          const at = dst + (<usize>d << 5);
          transposeStore4(at, v128.load(src + o), v128.load(src + rs + o), v128.load(src + 2 * rs + o), v128.load(src + 3 * rs + o));
          transposeStore4(at + 16, v128.load(src + 4 * rs + o), v128.load(src + 5 * rs + o), v128.load(src + 6 * rs + o), v128.load(src + 7 * rs + o));
        }
      }
      for (let p = fullK; p < ceil8(Tk) >> 3; p++) {
        for (let jj = 0; jj < 8; jj++) {
          const j = (p << 3) + jj;
          const src = k + ((<usize>b * ksB + <usize>j * ksT + <usize>h * D) << 2);
          for (let d = 0; d < D; d++) {
            store<f32>(kp + ((((<usize>p * D + d) << 3) + jj) << 2), j < Tk ? load<f32>(src + (<usize>d << 2)) : 0);
          }
        }
      }
      // Q_h rows, contiguous
      for (let i = 0; i < Tq; i++) {
        memory.copy(qc + ((<usize>i * D) << 2), q + ((<usize>b * qsB + <usize>i * qsT + <usize>h * D) << 2), <usize>D << 2);
      }
      const S = probs ? probs + ((((<usize>b * H + h) * Tq) * Tk) << 2) : sc;
      matmul_f32(S, 0, qc, kp, 0, 0, Tq, D, Tk, EPI_BIAS);
      for (let i = 0; i < Tq; i++) {
        const brow = bias ? bias + (((<usize>h * Tq + i) * Tk) << 2) : 0;
        softmaxRow(S + ((<usize>i * Tk) << 2), Tk, visibleEnd(Tk, i + Tk - Tq, maskKind, prefixLen), scale, brow, addMask);
      }
      // pack V_h as GEMM weights W[N = D][K = Tk]: panel p holds columns d = 8p..8p+7 of V rows
      for (let p = 0; p < D >> 3; p++) {
        // full panels: 8 consecutive values of each row
        for (let j = 0; j < Tk; j++) {
          const src = v + ((<usize>b * vsB + <usize>j * vsT + <usize>h * D + (<usize>p << 3)) << 2);
          const dst = vp + ((((<usize>p * Tk + j) << 3)) << 2);
          v128.store(dst, v128.load(src));
          v128.store(dst, v128.load(src, 16), 16);
        }
      }
      for (let p = D >> 3; p < ceil8(D) >> 3; p++) {
        for (let j = 0; j < Tk; j++) {
          const src = v + ((<usize>b * vsB + <usize>j * vsT + <usize>h * D) << 2);
          const dst = vp + ((((<usize>p * Tk + j) << 3)) << 2);
          for (let dd = 0; dd < 8; dd++) {
            const d = (p << 3) + dd;
            store<f32>(dst + (<usize>dd << 2), d < D ? load<f32>(src + (<usize>d << 2)) : 0);
          }
        }
      }
      matmul_f32(oc, 0, S, vp, 0, 0, Tq, Tk, D, EPI_BIAS);
      for (let i = 0; i < Tq; i++) {
        memory.copy(out + ((<usize>b * osB + <usize>i * osT + <usize>h * D) << 2), oc + ((<usize>i * D) << 2), <usize>D << 2);
      }
    }
  }
}

/** The direct path: one query at a time, dot products against each key, then p·V accumulated. */
function attentionRows(
  out: usize, probs: usize, scratch: usize,
  q: usize, k: usize, v: usize, bias: usize, keyMask: usize,
  B: i32, H: i32, Tq: i32, Tk: i32, D: i32, scale: f32, maskKind: i32, prefixLen: i32,
  qsB: i32, qsT: i32, ksB: i32, ksT: i32, vsB: i32, vsT: i32, osB: i32, osT: i32,
): void {
  const addMask = keyMask ? scratch + ((<usize>ceil8(Tk)) << 2) : 0; // [Tk] 0 or −inf
  for (let b = 0; b < B; b++) {
    if (addMask) fillAddMask(addMask, keyMask, b, Tk);
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < Tq; i++) {
        const row = probs ? probs + ((((<usize>b * H + h) * Tq + i) * Tk) << 2) : scratch;
        const qi = q + ((<usize>b * qsB + <usize>i * qsT + <usize>h * D) << 2);
        const end = visibleEnd(Tk, i + Tk - Tq, maskKind, prefixLen);
        for (let j = 0; j < end; j++) {
          store<f32>(row + (<usize>j << 2), dot(qi, k + ((<usize>b * ksB + <usize>j * ksT + <usize>h * D) << 2), D));
        }
        const brow = bias ? bias + (((<usize>h * Tq + i) * Tk) << 2) : 0;
        softmaxRow(row, Tk, end, scale, brow, addMask);
        const oi = out + ((<usize>b * osB + <usize>i * osT + <usize>h * D) << 2);
        memory.fill(oi, 0, <usize>D << 2);
        for (let j = 0; j < Tk; j++) {
          const p = load<f32>(row + (<usize>j << 2));
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

// ---- one-query decoding --------------------------------------------------------------------------
// Decoding with a KV cache: each row's one new query (the last position, so the causal mask hides no
// key) attends to its Tk cached keys, for every row and head in one call. The T5 relative-position
// bias of such a query depends only on the key's distance n = Tk − 1 − j, so it comes as a table by
// distance (built once per decoding state) instead of a fresh [H,1,Tk] block per step.
// The cache is cold when a decode step reaches it (the weight GEMVs stream tens of MB between two
// attention calls), so the loops walk it key-major: four cache rows at a time, every head of them,
// which reads memory in order instead of jumping a cache row per key for each head. Scores take one
// horizontal reduction per four keys; p·V adds four keys per load and store of the output. The sums
// are formed in the same order as attention_f32's direct path, so both give the same numbers.

/** Bytes of scratch attention_decode_f32 needs: scores [H, Tk] (rows padded to 4), a bias row and a mask row. */
export function attention_decode_scratch_size(H: i32, Tk: i32): i32 {
  return ((H + 2) * ((Tk + 3) & ~3)) << 2;
}

/** at[0..4) = qi·k_u for the four keys at k0 + u·ks (bytes), with the sums and reduction of dot(). */
@inline function dot4(at: usize, qi: usize, k0: usize, ks: usize, D: i32): void {
  const k1 = k0 + ks;
  const k2 = k1 + ks;
  const k3 = k2 + ks;
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let b0 = f32x4.splat(0);
  let b1 = f32x4.splat(0);
  let c0 = f32x4.splat(0);
  let c1 = f32x4.splat(0);
  let e0 = f32x4.splat(0);
  let e1 = f32x4.splat(0);
  let d = 0;
  for (; d + 8 <= D; d += 8) {
    const o = <usize>d << 2;
    const q0 = v128.load(qi + o);
    const q1 = v128.load(qi + o, 16);
    a0 = madd(q0, v128.load(k0 + o), a0);
    a1 = madd(q1, v128.load(k0 + o, 16), a1);
    b0 = madd(q0, v128.load(k1 + o), b0);
    b1 = madd(q1, v128.load(k1 + o, 16), b1);
    c0 = madd(q0, v128.load(k2 + o), c0);
    c1 = madd(q1, v128.load(k2 + o, 16), c1);
    e0 = madd(q0, v128.load(k3 + o), e0);
    e1 = madd(q1, v128.load(k3 + o, 16), e1);
  }
  if (d + 4 <= D) {
    const o = <usize>d << 2;
    const q0 = v128.load(qi + o);
    a0 = madd(q0, v128.load(k0 + o), a0);
    b0 = madd(q0, v128.load(k1 + o), b0);
    c0 = madd(q0, v128.load(k2 + o), c0);
    e0 = madd(q0, v128.load(k3 + o), e0);
    d += 4;
  }
  // lanes (x0 + x1) + (x2 + x3) of each key's accumulator, as dot() reduces
  const sa = f32x4.add(a0, a1);
  const sb = f32x4.add(b0, b1);
  const sc = f32x4.add(c0, c1);
  const se = f32x4.add(e0, e1);
  const pab = f32x4.add(v128.shuffle<f32>(sa, sb, 0, 2, 4, 6), v128.shuffle<f32>(sa, sb, 1, 3, 5, 7));
  const pce = f32x4.add(v128.shuffle<f32>(sc, se, 0, 2, 4, 6), v128.shuffle<f32>(sc, se, 1, 3, 5, 7));
  v128.store(at, f32x4.add(v128.shuffle<f32>(pab, pce, 0, 2, 4, 6), v128.shuffle<f32>(pab, pce, 1, 3, 5, 7)));
  for (; d < D; d++) {
    const o = <usize>d << 2;
    const qd = load<f32>(qi + o);
    store<f32>(at, load<f32>(at) + qd * load<f32>(k0 + o));
    store<f32>(at, load<f32>(at, 4) + qd * load<f32>(k1 + o), 4);
    store<f32>(at, load<f32>(at, 8) + qd * load<f32>(k2 + o), 8);
    store<f32>(at, load<f32>(at, 12) + qd * load<f32>(k3 + o), 12);
  }
}

/**
 * o[0..D) += p_u·v_u for the four keys u with p_u ≠ 0 (probabilities at pr, V rows at v0 + u·vs bytes),
 * key after key per output as axpy does, with one load and store of o per four keys.
 */
@inline function axpy4(o: usize, pr: usize, v0: usize, vs: usize, D: i32): void {
  const p0 = load<f32>(pr);
  const p1 = load<f32>(pr, 4);
  const p2 = load<f32>(pr, 8);
  const p3 = load<f32>(pr, 12);
  if (p0 == 0 || p1 == 0 || p2 == 0 || p3 == 0) {
    // a masked key among the four: one at a time, skipping it
    if (p0 != 0) axpy(o, p0, v0, D);
    if (p1 != 0) axpy(o, p1, v0 + vs, D);
    if (p2 != 0) axpy(o, p2, v0 + 2 * vs, D);
    if (p3 != 0) axpy(o, p3, v0 + 3 * vs, D);
    return;
  }
  const v1 = v0 + vs;
  const v2 = v1 + vs;
  const v3 = v2 + vs;
  const w0 = f32x4.splat(p0);
  const w1 = f32x4.splat(p1);
  const w2 = f32x4.splat(p2);
  const w3 = f32x4.splat(p3);
  let d = 0;
  for (; d + 8 <= D; d += 8) {
    const at = <usize>d << 2;
    let x = v128.load(o + at);
    let y = v128.load(o + at, 16);
    x = madd(w0, v128.load(v0 + at), x);
    y = madd(w0, v128.load(v0 + at, 16), y);
    x = madd(w1, v128.load(v1 + at), x);
    y = madd(w1, v128.load(v1 + at, 16), y);
    x = madd(w2, v128.load(v2 + at), x);
    y = madd(w2, v128.load(v2 + at, 16), y);
    x = madd(w3, v128.load(v3 + at), x);
    y = madd(w3, v128.load(v3 + at, 16), y);
    v128.store(o + at, x);
    v128.store(o + at, y, 16);
  }
  for (; d + 4 <= D; d += 4) {
    const at = <usize>d << 2;
    let x = v128.load(o + at);
    x = madd(w0, v128.load(v0 + at), x);
    x = madd(w1, v128.load(v1 + at), x);
    x = madd(w2, v128.load(v2 + at), x);
    x = madd(w3, v128.load(v3 + at), x);
    v128.store(o + at, x);
  }
  for (; d < D; d++) {
    const at = <usize>d << 2;
    let x = load<f32>(o + at);
    x = x + p0 * load<f32>(v0 + at);
    x = x + p1 * load<f32>(v1 + at);
    x = x + p2 * load<f32>(v2 + at);
    x = x + p3 * load<f32>(v3 + at);
    store<f32>(o + at, x);
  }
}

/**
 * One query per row: out[b, h·D + d] = Σ_j softmax_j(scale·q_bh·k_bhj + bias_h(Tk−1−j) + mask_bj)·v_bhj.
 * q: row b's heads at b·qsB + h·D; k, v: element (b, j, h, d) at b·sB + j·sT + h·D + d; out: b·osB + h·D.
 * relBias: T5 bias by distance [H, ≥Tk] f32, element (h, n) at h·bsH + n for the key at distance
 * n = Tk − 1 − j from the query, or 0. keyMask: [B, ≥Tk] i32 at b·msB + j (1 = attend), or 0.
 * scratch: attention_decode_scratch_size(H, Tk) bytes. A row with no visible key gets a zero output.
 * Equals attention_f32 with Tq = 1 and bias[h, 0, j] = relBias[h·bsH + Tk − 1 − j].
 */
export function attention_decode_f32(
  out: usize, scratch: usize, q: usize, k: usize, v: usize, relBias: usize, keyMask: usize,
  B: i32, H: i32, Tk: i32, D: i32, scale: f32,
  qsB: i32, ksB: i32, ksT: i32, vsB: i32, vsT: i32, osB: i32, bsH: i32, msB: i32,
): void {
  const T4 = (Tk + 3) & ~3;
  const sc = scratch; // [H, T4] scores, then probabilities
  const brow = sc + ((<usize>H * T4) << 2); // [Tk] one head's bias in key order
  const addMask = keyMask ? brow + ((<usize>T4) << 2) : 0; // [Tk] 0 or −inf
  const ks = <usize>ksT << 2;
  const vs = <usize>vsT << 2;
  const hb = <usize>D << 2; // bytes from one head to the next in a row
  for (let b = 0; b < B; b++) {
    const qb = q + ((<usize>b * qsB) << 2);
    const kb = k + ((<usize>b * ksB) << 2);
    const vb = v + ((<usize>b * vsB) << 2);
    const ob = out + ((<usize>b * osB) << 2);
    // scores, four cache rows at a time, every head of them
    let j = 0;
    for (; j + 4 <= Tk; j += 4) {
      const kj = kb + <usize>j * ks;
      for (let h = 0; h < H; h++) dot4(sc + ((<usize>h * T4 + j) << 2), qb + <usize>h * hb, kj + <usize>h * hb, ks, D);
    }
    for (; j < Tk; j++) {
      const kj = kb + <usize>j * ks;
      for (let h = 0; h < H; h++) store<f32>(sc + ((<usize>h * T4 + j) << 2), dot(qb + <usize>h * hb, kj + <usize>h * hb, D));
    }
    if (addMask) {
      const mrow = keyMask + ((<usize>b * msB) << 2);
      for (let i = 0; i < Tk; i++) {
        store<f32>(addMask + (<usize>i << 2), load<i32>(mrow + (<usize>i << 2)) != 0 ? 0 : -Infinity);
      }
    }
    for (let h = 0; h < H; h++) {
      if (relBias) {
        const bh = relBias + ((<usize>h * bsH + <usize>(Tk - 1)) << 2); // distance 0: the last key
        for (let i = 0; i < Tk; i++) store<f32>(brow + (<usize>i << 2), load<f32>(bh - (<usize>i << 2)));
      }
      softmaxRow(sc + ((<usize>h * T4) << 2), Tk, Tk, scale, relBias ? brow : 0, addMask);
    }
    // p·V, four cache rows at a time, every head of them
    for (let h = 0; h < H; h++) memory.fill(ob + <usize>h * hb, 0, hb);
    j = 0;
    for (; j + 4 <= Tk; j += 4) {
      const vj = vb + <usize>j * vs;
      for (let h = 0; h < H; h++) axpy4(ob + <usize>h * hb, sc + ((<usize>h * T4 + j) << 2), vj + <usize>h * hb, vs, D);
    }
    for (; j < Tk; j++) {
      const vj = vb + <usize>j * vs;
      for (let h = 0; h < H; h++) {
        const p = load<f32>(sc + ((<usize>h * T4 + j) << 2));
        if (p != 0) axpy(ob + <usize>h * hb, p, vj + <usize>h * hb, D);
      }
    }
  }
}

/** Scalar f64 score of key j for (b, h) in attention_decode_f32_ref, or −inf for a masked key. */
function decodeScoreRef(
  q: usize, k: usize, relBias: usize, keyMask: usize, b: i32, h: i32, j: i32, Tk: i32, D: i32, scale: f32,
  qsB: i32, ksB: i32, ksT: i32, bsH: i32, msB: i32,
): f64 {
  if (keyMask && load<i32>(keyMask + ((<usize>b * msB + j) << 2)) == 0) return -Infinity;
  const qi = q + ((<usize>b * qsB + <usize>h * D) << 2);
  const kj = k + ((<usize>b * ksB + <usize>j * ksT + <usize>h * D) << 2);
  let s: f64 = 0;
  for (let d = 0; d < D; d++) s += <f64>load<f32>(qi + (<usize>d << 2)) * <f64>load<f32>(kj + (<usize>d << 2));
  s *= <f64>scale;
  if (relBias) s += <f64>load<f32>(relBias + ((<usize>h * bsH + <usize>(Tk - 1 - j)) << 2));
  return s;
}

/** Scalar f64 reference with the same arguments as attention_decode_f32 (scratch unused). */
export function attention_decode_f32_ref(
  out: usize, scratch: usize, q: usize, k: usize, v: usize, relBias: usize, keyMask: usize,
  B: i32, H: i32, Tk: i32, D: i32, scale: f32,
  qsB: i32, ksB: i32, ksT: i32, vsB: i32, vsT: i32, osB: i32, bsH: i32, msB: i32,
): void {
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      let mx: f64 = -Infinity;
      for (let j = 0; j < Tk; j++) {
        mx = Math.max(mx, decodeScoreRef(q, k, relBias, keyMask, b, h, j, Tk, D, scale, qsB, ksB, ksT, bsH, msB));
      }
      const oi = out + ((<usize>b * osB + <usize>h * D) << 2);
      for (let d = 0; d < D; d++) {
        let sum: f64 = 0;
        let acc: f64 = 0;
        if (mx > -Infinity) {
          for (let j = 0; j < Tk; j++) {
            const s = decodeScoreRef(q, k, relBias, keyMask, b, h, j, Tk, D, scale, qsB, ksB, ksT, bsH, msB);
            if (s == -Infinity) continue;
            const p = Math.exp(s - mx);
            sum += p;
            acc += p * <f64>load<f32>(v + ((<usize>b * vsB + <usize>j * vsT + <usize>h * D + d) << 2));
          }
        }
        store<f32>(oi + (<usize>d << 2), sum > 0 ? <f32>(acc / sum) : 0);
      }
    }
  }
}


// ---- backward ------------------------------------------------------------------------------------
// With P = softmax(S), S = scale·Q·Kᵀ + bias + mask, O = P·V, per head (b, h):
//   dV += Pᵀ·dO;  dP = dO·Vᵀ;  dS = P ⊙ (dP − rowsum(P ⊙ dP));  dBias[h] += dS (summed over b);
//   dQ += scale·dS·K;  dK += scale·dSᵀ·Q.
// Masks need no special handling: masked (and fully masked) entries have P = 0, so dS = 0 there.

/**
 * Bytes of scratch attention_backward_f32 needs: packed V [ceil8(Tk)·D], contiguous dO rows [Tq·D] and
 * a dP / dS block [Tq·Tk] (at least [Tq·Tk] f64, which the `_ref` version uses).
 */
export function attention_backward_scratch_size(Tq: i32, Tk: i32, D: i32): i32 {
  return max((ceil8(Tk) * D + Tq * D + Tq * Tk) << 2, (Tq * Tk) << 3);
}

/**
 * Backward of attention_f32. ACCUMULATES into dq, dk, dv (same shapes and strides as q, k, v) and
 * dbias ([H,Tq,Tk], summed over the batch; 0 to skip); any of dq, dk, dv may be 0 to skip it.
 * probs: [B,H,Tq,Tk] saved by the forward; scratch: attention_backward_scratch_size(Tq, Tk, D) bytes;
 * q, k, v: the forward inputs; dout: [B,Tq,H,D] by strides (osB, osT), the gradient of out.
 * scale is the forward's. No mask arguments: every mask (key padding, causal, prefix-LM, a query with
 * no visible key) is already in probs as exact zeros. Gradients must not alias the inputs (they may
 * share one fused buffer, e.g. dQKV [B,T,3·H·D], as q, k and v do).
 */
export function attention_backward_f32(
  dq: usize, dk: usize, dv: usize, dbias: usize, probs: usize, scratch: usize,
  q: usize, k: usize, v: usize, dout: usize,
  B: i32, H: i32, Tq: i32, Tk: i32, D: i32, scale: f32,
  qsB: i32, qsT: i32, ksB: i32, ksT: i32, vsB: i32, vsT: i32, osB: i32, osT: i32,
): void {
  const vp = scratch; // packed V panels [ceil8(Tk)/8][D][8]
  const oc = vp + ((<usize>ceil8(Tk) * D) << 2); // [Tq, D] contiguous dO rows
  const ds = oc + ((<usize>Tq * D) << 2); // [Tq, Tk] dP, then dS
  const tkB = <usize>Tk << 2;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const P = probs + ((((<usize>b * H + h) * Tq) * Tk) << 2);
      const qh = q + ((<usize>b * qsB + <usize>h * D) << 2);
      const kh = k + ((<usize>b * ksB + <usize>h * D) << 2);
      const vh = v + ((<usize>b * vsB + <usize>h * D) << 2);
      const oh = dout + ((<usize>b * osB + <usize>h * D) << 2);
      // dV_h[Tk,D] += P_hᵀ·dO_h
      if (dv) gemmAcc(dv + ((<usize>b * vsB + <usize>h * D) << 2), vsT, P, 4, tkB, oh, osT, Tk, D, Tq);
      if (!dq && !dk && !dbias) continue;
      // dP[Tq,Tk] = dO_h·V_hᵀ: pack V_h as GEMM weights W[N = Tk][K = D]
      for (let p = 0; p < ceil8(Tk) >> 3; p++) {
        for (let jj = 0; jj < 8; jj++) {
          const j = (p << 3) + jj;
          const src = vh + ((<usize>j * vsT) << 2);
          for (let d = 0; d < D; d++) {
            store<f32>(vp + ((((<usize>p * D + d) << 3) + jj) << 2), j < Tk ? load<f32>(src + (<usize>d << 2)) : 0);
          }
        }
      }
      for (let i = 0; i < Tq; i++) {
        memory.copy(oc + ((<usize>i * D) << 2), oh + ((<usize>i * osT) << 2), <usize>D << 2);
      }
      matmul_f32(ds, 0, oc, vp, 0, 0, Tq, D, Tk, EPI_BIAS);
      // dS = P ⊙ (dP − Σ_j P·dP) per row; dBias += dS; then dS *= scale for dQ and dK
      const vscale = f32x4.splat(scale);
      for (let i = 0; i < Tq; i++) {
        const pr = P + ((<usize>i * Tk) << 2);
        const dr = ds + ((<usize>i * Tk) << 2);
        const br = dbias ? dbias + (((<usize>h * Tq + i) * Tk) << 2) : 0;
        let acc = f32x4.splat(0);
        let j = 0;
        for (; j + 4 <= Tk; j += 4) {
          const o = <usize>j << 2;
          acc = madd(v128.load(pr + o), v128.load(dr + o), acc);
        }
        let dot = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
        for (; j < Tk; j++) dot += load<f32>(pr + (<usize>j << 2)) * load<f32>(dr + (<usize>j << 2));
        const vdot = f32x4.splat(dot);
        j = 0;
        for (; j + 4 <= Tk; j += 4) {
          const o = <usize>j << 2;
          const g = f32x4.mul(v128.load(pr + o), f32x4.sub(v128.load(dr + o), vdot));
          if (br) v128.store(br + o, f32x4.add(v128.load(br + o), g));
          v128.store(dr + o, f32x4.mul(g, vscale));
        }
        for (; j < Tk; j++) {
          const o = <usize>j << 2;
          const g = load<f32>(pr + o) * (load<f32>(dr + o) - dot);
          if (br) store<f32>(br + o, load<f32>(br + o) + g);
          store<f32>(dr + o, g * scale);
        }
      }
      // dQ_h[Tq,D] += dS·K_h;  dK_h[Tk,D] += dSᵀ·Q_h
      if (dq) gemmAcc(dq + ((<usize>b * qsB + <usize>h * D) << 2), qsT, ds, tkB, 4, kh, ksT, Tq, D, Tk);
      if (dk) gemmAcc(dk + ((<usize>b * ksB + <usize>h * D) << 2), ksT, ds, 4, tkB, qh, qsT, Tk, D, Tq);
    }
  }
}

/** f64 scalar reference for attention_backward_f32 (same arguments; scratch holds one head's dS in f64). */
export function attention_backward_f32_ref(
  dq: usize, dk: usize, dv: usize, dbias: usize, probs: usize, scratch: usize,
  q: usize, k: usize, v: usize, dout: usize,
  B: i32, H: i32, Tq: i32, Tk: i32, D: i32, scale: f32,
  qsB: i32, qsT: i32, ksB: i32, ksT: i32, vsB: i32, vsT: i32, osB: i32, osT: i32,
): void {
  const dS = scratch; // [Tq, Tk] f64
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const P = probs + ((((<usize>b * H + h) * Tq) * Tk) << 2);
      // dS = P ⊙ (dP − rowsum(P ⊙ dP)), dP = dO·Vᵀ
      for (let i = 0; i < Tq; i++) {
        const oi = dout + ((<usize>b * osB + <usize>i * osT + <usize>h * D) << 2);
        let dot: f64 = 0;
        for (let j = 0; j < Tk; j++) {
          const vj = v + ((<usize>b * vsB + <usize>j * vsT + <usize>h * D) << 2);
          let dp: f64 = 0;
          for (let d = 0; d < D; d++) dp += <f64>load<f32>(oi + (<usize>d << 2)) * <f64>load<f32>(vj + (<usize>d << 2));
          store<f64>(dS + ((<usize>i * Tk + j) << 3), dp);
          dot += <f64>load<f32>(P + ((<usize>i * Tk + j) << 2)) * dp;
        }
        for (let j = 0; j < Tk; j++) {
          const at = dS + ((<usize>i * Tk + j) << 3);
          const g = <f64>load<f32>(P + ((<usize>i * Tk + j) << 2)) * (load<f64>(at) - dot);
          store<f64>(at, g);
          if (dbias) {
            const bt = dbias + ((((<usize>h * Tq + i) * Tk) + j) << 2);
            store<f32>(bt, <f32>(<f64>load<f32>(bt) + g));
          }
        }
      }
      for (let d = 0; d < D; d++) {
        const o = <usize>d << 2;
        if (dq) {
          for (let i = 0; i < Tq; i++) {
            let acc: f64 = 0;
            for (let j = 0; j < Tk; j++) {
              acc += load<f64>(dS + ((<usize>i * Tk + j) << 3)) * <f64>load<f32>(k + ((<usize>b * ksB + <usize>j * ksT + <usize>h * D) << 2) + o);
            }
            const at = dq + ((<usize>b * qsB + <usize>i * qsT + <usize>h * D) << 2) + o;
            store<f32>(at, <f32>(<f64>load<f32>(at) + acc * <f64>scale));
          }
        }
        for (let j = 0; j < Tk; j++) {
          let ak: f64 = 0;
          let av: f64 = 0;
          for (let i = 0; i < Tq; i++) {
            ak += load<f64>(dS + ((<usize>i * Tk + j) << 3)) * <f64>load<f32>(q + ((<usize>b * qsB + <usize>i * qsT + <usize>h * D) << 2) + o);
            av += <f64>load<f32>(P + ((<usize>i * Tk + j) << 2)) * <f64>load<f32>(dout + ((<usize>b * osB + <usize>i * osT + <usize>h * D) << 2) + o);
          }
          if (dk) {
            const at = dk + ((<usize>b * ksB + <usize>j * ksT + <usize>h * D) << 2) + o;
            store<f32>(at, <f32>(<f64>load<f32>(at) + ak * <f64>scale));
          }
          if (dv) {
            const at = dv + ((<usize>b * vsB + <usize>j * vsT + <usize>h * D) << 2) + o;
            store<f32>(at, <f32>(<f64>load<f32>(at) + av));
          }
        }
      }
    }
  }
}
