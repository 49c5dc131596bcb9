// Vector (f32x4) and scalar math helpers shared by the kernels: fused multiply-add that becomes
// relaxed_madd in the relaxed build, exp, tanh, erf, and the f64 scalar versions used by `_ref` kernels.

/** a·b + c; one fused instruction in the relaxed-SIMD build, multiply then add otherwise. */
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** Horizontal sum of the four lanes. */
@inline export function hsum(v: v128): f32 {
  return (
    f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3))
  );
}

/** Horizontal max of the four lanes. */
@inline export function hmax(v: v128): f32 {
  return Mathf.max(
    Mathf.max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)),
    Mathf.max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)),
  );
}

/** exp(x) per lane (Cephes expf: range reduction by ln2, degree-6 polynomial; ~1 ulp). */
@inline export function vexp(x: v128): v128 {
  // pmin / pmax: one minps / maxps each (f32x4.min / max are long sequences on x86); NaN stays NaN
  x = f32x4.pmin(f32x4.pmax(x, f32x4.splat(-87.33654)), f32x4.splat(88.72283));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.44269504088896341)));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = madd(p, r, f32x4.splat(1.3981999507e-3));
  p = madd(p, r, f32x4.splat(8.3334519073e-3));
  p = madd(p, r, f32x4.splat(4.1665795894e-2));
  p = madd(p, r, f32x4.splat(1.6666665459e-1));
  p = madd(p, r, f32x4.splat(5.0000001201e-1));
  const y = f32x4.add(madd(p, f32x4.mul(r, r), r), f32x4.splat(1.0));
  const pow2n = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return f32x4.mul(y, pow2n);
}

/** tanh(x) per lane as sign(x)·(1 − e)/(1 + e) with e = exp(−2|x|); absolute error ~1e-7. */
@inline export function vtanh(x: v128): v128 {
  const ax = f32x4.abs(x);
  const e = vexp(f32x4.mul(ax, f32x4.splat(-2.0)));
  const t = f32x4.div(f32x4.sub(f32x4.splat(1.0), e), f32x4.add(f32x4.splat(1.0), e));
  const sign = v128.and(x, i32x4.splat(0x80000000));
  return v128.or(t, sign);
}

/**
 * erf(x) per lane: x·P(x²)/Q(x²) on x clamped to [−4, 4] (outside, erf is ±1 in f32), a rational
 * minimax fit (the coefficients of Eigen's / XLA's float erf; absolute error ≤ 4.2e-7 in f32 over
 * [−6, 6], vs 5.3e-7 for Abramowitz & Stegun 7.1.26 with an exp, which took ~1.7× the instructions).
 */
@inline export function verf(x: v128): v128 {
  x = f32x4.pmin(f32x4.pmax(x, f32x4.splat(-4.0)), f32x4.splat(4.0)); // NaN stays NaN
  const x2 = f32x4.mul(x, x);
  let p = madd(x2, f32x4.splat(-2.72614225801306e-10), f32x4.splat(2.77068142495902e-8));
  p = madd(x2, p, f32x4.splat(-2.10102402082508e-6));
  p = madd(x2, p, f32x4.splat(-5.69250639462346e-5));
  p = madd(x2, p, f32x4.splat(-7.34990630326855e-4));
  p = madd(x2, p, f32x4.splat(-2.95459980854025e-3));
  p = madd(x2, p, f32x4.splat(-1.60960333262415e-2));
  p = f32x4.mul(x, p);
  let q = madd(x2, f32x4.splat(-1.45660718464996e-5), f32x4.splat(-2.13374055278905e-4));
  q = madd(x2, q, f32x4.splat(-1.68282697438203e-3));
  q = madd(x2, q, f32x4.splat(-7.37332916720468e-3));
  q = madd(x2, q, f32x4.splat(-1.42647390514189e-2));
  return f32x4.div(p, q);
}

/** erfc(a) per lane for a ≥ 0 (Abramowitz & Stegun 7.1.26: t·P(t)·exp(−a²); small values keep their
 * relative accuracy, which 1 − erf loses). */
@inline function verfcPos(a: v128): v128 {
  const t = f32x4.div(f32x4.splat(1.0), madd(a, f32x4.splat(0.3275911), f32x4.splat(1.0)));
  let p = f32x4.splat(1.061405429);
  p = madd(p, t, f32x4.splat(-1.453152027));
  p = madd(p, t, f32x4.splat(1.421413741));
  p = madd(p, t, f32x4.splat(-0.284496736));
  p = madd(p, t, f32x4.splat(0.254829592));
  return f32x4.mul(f32x4.mul(p, t), vexp(f32x4.neg(f32x4.mul(a, a))));
}

/**
 * GELU, erf form: 0.5·x·(1 + erf(x/√2)). 1 + erf(z) comes from the rational verf, except for lanes with
 * z < −2 (x < −2.83, where it is a small difference of nearly equal numbers): those take erfc(−z) with
 * an exp; the branch is taken only when some lane of the vector is that negative.
 */
@inline export function vgeluErf(x: v128): v128 {
  const z = f32x4.mul(x, f32x4.splat(0.7071067811865476));
  let onePlusErf = f32x4.add(f32x4.splat(1.0), verf(z));
  const tail = f32x4.lt(z, f32x4.splat(-2.0));
  if (v128.any_true(tail)) onePlusErf = v128.bitselect(verfcPos(f32x4.neg(z)), onePlusErf, tail);
  return f32x4.mul(f32x4.mul(x, f32x4.splat(0.5)), onePlusErf);
}

/** GELU, tanh form: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
@inline export function vgeluTanh(x: v128): v128 {
  const x3 = f32x4.mul(f32x4.mul(x, x), x);
  const inner = f32x4.mul(madd(x3, f32x4.splat(0.044715), x), f32x4.splat(0.7978845608028654));
  return f32x4.mul(f32x4.mul(x, f32x4.splat(0.5)), f32x4.add(f32x4.splat(1.0), vtanh(inner)));
}

// ---- scalar f64 references (accurate to ~1e-15; used by the `_ref` kernels and tails) ----

/** erf in f64: Taylor series below 3, continued fraction for erfc above. */
export function erf64(x: f64): f64 {
  const ax = Math.abs(x);
  let r: f64;
  if (ax < 3.0) {
    // erf(x) = 2/√π Σ (−1)^n x^(2n+1) / (n! (2n+1))
    let term = ax;
    let sum = ax;
    const x2 = ax * ax;
    for (let n = 1; n < 200; n++) {
      term *= -x2 / <f64>n;
      const add = term / <f64>(2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    r = sum * 1.1283791670955126;
  } else {
    let f = ax;
    for (let k = 60; k >= 1; k--) f = ax + (<f64>k * 0.5) / f;
    r = 1.0 - Math.exp(-ax * ax) / (1.7724538509055159 * f);
  }
  return x < 0 ? -r : r;
}

export function geluErf64(x: f64): f64 {
  return 0.5 * x * (1.0 + erf64(x * 0.7071067811865476));
}

export function geluTanh64(x: f64): f64 {
  return 0.5 * x * (1.0 + Math.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

/** Scalar f32 versions for SIMD tails: one lane through the vector code, so tails match bodies. */
@inline export function geluErf1(x: f32): f32 {
  return f32x4.extract_lane(vgeluErf(f32x4.splat(x)), 0);
}
@inline export function geluTanh1(x: f32): f32 {
  return f32x4.extract_lane(vgeluTanh(f32x4.splat(x)), 0);
}
@inline export function tanh1(x: f32): f32 {
  return f32x4.extract_lane(vtanh(f32x4.splat(x)), 0);
}
@inline export function exp1(x: f32): f32 {
  return f32x4.extract_lane(vexp(f32x4.splat(x)), 0);
}

// ---- derivatives (backward kernels) ----
// Written without the cancellations of the naive forms: 0.5·(1 + tanh u) and 1 − tanh²u are computed
// from e = exp(−2|u|) (so they keep full relative precision where they are tiny), and Φ(x) for x < 0 is
// taken from erfc directly rather than as 1 − erf.

/** d/dx GELU_erf = Φ(x) + x·φ(x) per lane (φ shares the exponential of erfc). */
@inline export function vgeluErfGrad(x: v128): v128 {
  const xc = f32x4.min(f32x4.max(x, f32x4.splat(-20.0)), f32x4.splat(20.0));
  const z = f32x4.mul(f32x4.abs(xc), f32x4.splat(0.7071067811865476));
  const t = f32x4.div(f32x4.splat(1.0), madd(z, f32x4.splat(0.3275911), f32x4.splat(1.0)));
  let p = f32x4.splat(1.061405429);
  p = madd(p, t, f32x4.splat(-1.453152027));
  p = madd(p, t, f32x4.splat(1.421413741));
  p = madd(p, t, f32x4.splat(-0.284496736));
  p = madd(p, t, f32x4.splat(0.254829592));
  p = f32x4.mul(p, t);
  const e = vexp(f32x4.neg(f32x4.mul(z, z))); // exp(−x²/2)
  const q = f32x4.mul(f32x4.mul(p, e), f32x4.splat(0.5)); // Φ(−|x|) = erfc(|x|/√2)/2
  const cdf = v128.bitselect(q, f32x4.sub(f32x4.splat(1.0), q), f32x4.lt(xc, f32x4.splat(0)));
  return madd(f32x4.mul(xc, e), f32x4.splat(0.3989422804014327), cdf);
}

/** d/dx GELU_tanh per lane: 0.5·(1 + t) + 0.5·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²), t = tanh(u). */
@inline export function vgeluTanhGrad(x: v128): v128 {
  const xc = f32x4.min(f32x4.max(x, f32x4.splat(-20.0)), f32x4.splat(20.0));
  const x2 = f32x4.mul(xc, xc);
  const u = f32x4.mul(madd(f32x4.mul(x2, xc), f32x4.splat(0.044715), xc), f32x4.splat(0.7978845608028654));
  const e = vexp(f32x4.mul(f32x4.abs(u), f32x4.splat(-2.0)));
  const inv = f32x4.div(f32x4.splat(1.0), f32x4.add(f32x4.splat(1.0), e));
  const half1pt = v128.bitselect(f32x4.mul(e, inv), inv, f32x4.lt(u, f32x4.splat(0))); // 0.5·(1 + t)
  const sech2 = f32x4.mul(f32x4.mul(f32x4.splat(4.0), e), f32x4.mul(inv, inv)); // 1 − t²
  const du = f32x4.mul(madd(x2, f32x4.splat(0.134145), f32x4.splat(1.0)), f32x4.splat(0.7978845608028654));
  return madd(f32x4.mul(f32x4.mul(xc, f32x4.splat(0.5)), sech2), du, half1pt);
}

/** GELU_tanh per lane in the same cancellation-free form (x·0.5·(1 + t)), for the gated-GELU backward. */
@inline export function vgeluTanhStable(x: v128): v128 {
  const xc = f32x4.min(f32x4.max(x, f32x4.splat(-20.0)), f32x4.splat(20.0));
  const u = f32x4.mul(madd(f32x4.mul(f32x4.mul(xc, xc), xc), f32x4.splat(0.044715), xc), f32x4.splat(0.7978845608028654));
  const e = vexp(f32x4.mul(f32x4.abs(u), f32x4.splat(-2.0)));
  const inv = f32x4.div(f32x4.splat(1.0), f32x4.add(f32x4.splat(1.0), e));
  const half1pt = v128.bitselect(f32x4.mul(e, inv), inv, f32x4.lt(u, f32x4.splat(0)));
  // beyond ±20 GELU is x or 0 to f32 precision: use the unclamped x there
  return f32x4.mul(x, half1pt);
}

/** d/dx tanh = 1 − tanh²x = 4e/(1 + e)², e = exp(−2|x|). */
@inline export function vtanhGrad(x: v128): v128 {
  const e = vexp(f32x4.mul(f32x4.abs(x), f32x4.splat(-2.0)));
  const inv = f32x4.div(f32x4.splat(1.0), f32x4.add(f32x4.splat(1.0), e));
  return f32x4.mul(f32x4.mul(f32x4.splat(4.0), e), f32x4.mul(inv, inv));
}

export function geluErfGrad64(x: f64): f64 {
  return 0.5 * (1.0 + erf64(x * 0.7071067811865476)) + x * Math.exp(-0.5 * x * x) * 0.3989422804014327;
}

export function geluTanhGrad64(x: f64): f64 {
  const t = Math.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x));
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * 0.7978845608028654 * (1.0 + 0.134145 * x * x);
}

export function tanhGrad64(x: f64): f64 {
  const t = Math.tanh(x);
  return 1.0 - t * t;
}
