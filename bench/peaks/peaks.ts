// Hardware-ceiling micro-benchmarks (AssemblyScript, compiled on its own by `npm run bench:peaks`, twice:
// --enable simd → build/peaks.wasm, --enable simd,relaxed-simd → build/peaks-relaxed.wasm). Each export
// is one tight loop whose result is returned, so nothing is dead code; bench/peaks.ts times them and
// test/bench/peaks.test.ts checks each against its scalar formula.
// Register-only loops run 12 independent chains, each chain feeding its own value back as an operand
// (so no operation is loop-invariant: V8's scheduler would hoist those out of the loop). "Tile" loops
// copy the inner loops of assembly/matmul.ts and assembly/matmul_int8.ts (the 4×8 tiles) over small
// L1-resident buffers (A, B below), repeated `reps` times, with A as 4 rows (a pointer per row) and,
// in the "s" variants, as the 4-row strips the product kernels now pack (one pointer).
// Relaxed-only loops trap (unreachable) in the plain SIMD build. No @inline decorators (Biome lints this
// file as TypeScript): Binaryen -O3 inlines the small helpers anyway.

/** Activation rows: up to 5 rows × KMAX f32 (or 4 rows × KMAX i16 pairs), row stride K·4 bytes. */
const KMAX = 512;
const A = memory.data(5 * KMAX * 4, 16); // [rows,K] f32 or [4,pairs] (i16,i16)
/** Packed weights: KMAX × 12 f32 (or KMAX pairs × 8 split i16 lanes). */
const B = memory.data(KMAX * 12 * 4, 16); // [K,8|12] f32 or [pairs,8] i16

/** Loop constants of the register-only loops, stored and loaded back (see vecConst). */
const CONSTS = memory.data(32, 16);

/**
 * splat(x) through memory: a splat before the loop would be re-done inside it (V8's scheduler sinks
 * pure nodes to their uses, costing 2 shuffles per step); a load stays where it is.
 */
function vecConsts(x: v128, y: v128): void {
  v128.store(CONSTS, x);
  v128.store(CONSTS, y, 16);
}

export function bufA(): usize {
  return A;
}
export function bufB(): usize {
  return B;
}
export function kMax(): i32 {
  return KMAX;
}

/** a·b + c: relaxed_madd in the relaxed build, multiply then add otherwise (as assembly/vecmath.ts). */
function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

function hsumF(v: v128): f32 {
  return (
    f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3)
  );
}

function hsumI(v: v128): i32 {
  return (
    i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3)
  );
}

/**
 * Clock estimate: n × 8 steps of x = (x ^ y) + z, a chain of 16 dependent 1-cycle integer ops per
 * iteration, so cycles ≈ 16·n. Returns x.
 */
export function clock_chain(n: i32, y: i32, z: i32): i32 {
  let x = 0;
  for (let i = 0; i < n; i++) {
    x = (x ^ y) + z;
    x = (x ^ y) + z;
    x = (x ^ y) + z;
    x = (x ^ y) + z;
    x = (x ^ y) + z;
    x = (x ^ y) + z;
    x = (x ^ y) + z;
    x = (x ^ y) + z;
  }
  return x;
}

/**
 * Register-only f32: n steps of c_j = madd(c_j, k, k) on 14 f32x4 chains (c_j starts at splat(j)),
 * 56 multiply-adds per step. 14 chains + the constant = 15 vector registers, all V8 allocates on x64:
 * the multiply and the add are both on each chain (6 cycles), so 12 chains were latency-bound.
 * Returns the sum of all lanes.
 */
export function f32_reg(n: i32, k: f32): f32 {
  vecConsts(f32x4.splat(k), f32x4.splat(0));
  const vk = v128.load(CONSTS);
  let c0 = f32x4.splat(0);
  let c1 = f32x4.splat(1);
  let c2 = f32x4.splat(2);
  let c3 = f32x4.splat(3);
  let c4 = f32x4.splat(4);
  let c5 = f32x4.splat(5);
  let c6 = f32x4.splat(6);
  let c7 = f32x4.splat(7);
  let c8 = f32x4.splat(8);
  let c9 = f32x4.splat(9);
  let c10 = f32x4.splat(10);
  let c11 = f32x4.splat(11);
  let c12 = f32x4.splat(12);
  let c13 = f32x4.splat(13);
  for (let i = 0; i < n; i++) {
    c0 = madd(c0, vk, vk);
    c1 = madd(c1, vk, vk);
    c2 = madd(c2, vk, vk);
    c3 = madd(c3, vk, vk);
    c4 = madd(c4, vk, vk);
    c5 = madd(c5, vk, vk);
    c6 = madd(c6, vk, vk);
    c7 = madd(c7, vk, vk);
    c8 = madd(c8, vk, vk);
    c9 = madd(c9, vk, vk);
    c10 = madd(c10, vk, vk);
    c11 = madd(c11, vk, vk);
    c12 = madd(c12, vk, vk);
    c13 = madd(c13, vk, vk);
  }
  const s0 = f32x4.add(
    f32x4.add(f32x4.add(c0, c1), f32x4.add(c2, c3)),
    f32x4.add(f32x4.add(c4, c5), f32x4.add(c6, c7)),
  );
  const s1 = f32x4.add(f32x4.add(f32x4.add(c8, c9), f32x4.add(c10, c11)), f32x4.add(c12, c13));
  return hsumF(f32x4.add(s0, s1));
}

/**
 * tile4x8's inner loop over L1: A [4,K] f32 (row stride K·4), B [K,8] f32. Per k: 2 v128 loads of B,
 * 4 load32_splat of A, 8 madd (32 multiply-adds). `reps` passes over k = 0..K-1; returns Σ of the
 * 8 accumulators' lanes = reps · Σ_r Σ_k Σ_j A[r,k]·B[k,j].
 */
export function f32_tile4x8(reps: i32, K: i32): f32 {
  let c00 = f32x4.splat(0),
    c01 = f32x4.splat(0),
    c10 = f32x4.splat(0),
    c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0),
    c21 = f32x4.splat(0),
    c30 = f32x4.splat(0),
    c31 = f32x4.splat(0);
  const rowBytes = (<usize>K) << 2;
  for (let r = 0; r < reps; r++) {
    let xp = A;
    let bp = B;
    const xEnd = xp + rowBytes;
    while (xp < xEnd) {
      const b0 = v128.load(bp);
      const b1 = v128.load(bp, 16);
      let a = v128.load32_splat(xp);
      c00 = madd(a, b0, c00);
      c01 = madd(a, b1, c01);
      a = v128.load32_splat(xp + rowBytes);
      c10 = madd(a, b0, c10);
      c11 = madd(a, b1, c11);
      a = v128.load32_splat(xp + 2 * rowBytes);
      c20 = madd(a, b0, c20);
      c21 = madd(a, b1, c21);
      a = v128.load32_splat(xp + 3 * rowBytes);
      c30 = madd(a, b0, c30);
      c31 = madd(a, b1, c31);
      xp += 4;
      bp += 32;
    }
  }
  const s0 = f32x4.add(f32x4.add(c00, c01), f32x4.add(c10, c11));
  const s1 = f32x4.add(f32x4.add(c20, c21), f32x4.add(c30, c31));
  return hsumF(f32x4.add(s0, s1));
}

/**
 * The same tile with A packed as matmul_f32 now packs X: a 4-row strip [K][4] f32, so the four
 * broadcasts share one pointer (offsets 0, 4, 8, 12). B [K,8]. Same sum as f32_tile4x8.
 */
export function f32_tile4x8s(reps: i32, K: i32): f32 {
  let c00 = f32x4.splat(0),
    c01 = f32x4.splat(0),
    c10 = f32x4.splat(0),
    c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0),
    c21 = f32x4.splat(0),
    c30 = f32x4.splat(0),
    c31 = f32x4.splat(0);
  for (let r = 0; r < reps; r++) {
    let ap = A;
    let bp = B;
    const end = A + ((<usize>K) << 4);
    while (ap < end) {
      const b0 = v128.load(bp);
      const b1 = v128.load(bp, 16);
      let a = v128.load32_splat(ap);
      c00 = madd(a, b0, c00);
      c01 = madd(a, b1, c01);
      a = v128.load32_splat(ap, 4);
      c10 = madd(a, b0, c10);
      c11 = madd(a, b1, c11);
      a = v128.load32_splat(ap, 8);
      c20 = madd(a, b0, c20);
      c21 = madd(a, b1, c21);
      a = v128.load32_splat(ap, 12);
      c30 = madd(a, b0, c30);
      c31 = madd(a, b1, c31);
      ap += 16;
      bp += 32;
    }
  }
  const s0 = f32x4.add(f32x4.add(c00, c01), f32x4.add(c10, c11));
  const s1 = f32x4.add(f32x4.add(c20, c21), f32x4.add(c30, c31));
  return hsumF(f32x4.add(s0, s1));
}

/**
 * A 4×12 tile over L1: A [4,K], B [K,12]. Per k: 3 v128 loads, 4 splats, 12 madd (48 multiply-adds):
 * 12 accumulators + 3 B + 1 A (+ 1 product without FMA) against V8's 15 allocatable registers.
 */
export function f32_tile4x12(reps: i32, K: i32): f32 {
  let c00 = f32x4.splat(0),
    c01 = f32x4.splat(0),
    c02 = f32x4.splat(0);
  let c10 = f32x4.splat(0),
    c11 = f32x4.splat(0),
    c12 = f32x4.splat(0);
  let c20 = f32x4.splat(0),
    c21 = f32x4.splat(0),
    c22 = f32x4.splat(0);
  let c30 = f32x4.splat(0),
    c31 = f32x4.splat(0),
    c32 = f32x4.splat(0);
  const rowBytes = (<usize>K) << 2;
  for (let r = 0; r < reps; r++) {
    let xp = A;
    let bp = B;
    const xEnd = xp + rowBytes;
    while (xp < xEnd) {
      const b0 = v128.load(bp);
      const b1 = v128.load(bp, 16);
      const b2 = v128.load(bp, 32);
      let a = v128.load32_splat(xp);
      c00 = madd(a, b0, c00);
      c01 = madd(a, b1, c01);
      c02 = madd(a, b2, c02);
      a = v128.load32_splat(xp + rowBytes);
      c10 = madd(a, b0, c10);
      c11 = madd(a, b1, c11);
      c12 = madd(a, b2, c12);
      a = v128.load32_splat(xp + 2 * rowBytes);
      c20 = madd(a, b0, c20);
      c21 = madd(a, b1, c21);
      c22 = madd(a, b2, c22);
      a = v128.load32_splat(xp + 3 * rowBytes);
      c30 = madd(a, b0, c30);
      c31 = madd(a, b1, c31);
      c32 = madd(a, b2, c32);
      xp += 4;
      bp += 48;
    }
  }
  const s0 = f32x4.add(f32x4.add(c00, c01), f32x4.add(c02, c10));
  const s1 = f32x4.add(f32x4.add(c11, c12), f32x4.add(c20, c21));
  const s2 = f32x4.add(f32x4.add(c22, c30), f32x4.add(c31, c32));
  return hsumF(f32x4.add(f32x4.add(s0, s1), s2));
}

/**
 * A 5×8 tile over L1: A [5,K], B [K,8]. Per k: 2 v128 loads, 5 splats, 10 madd (40 multiply-adds):
 * 10 accumulators + 2 B + 1 A (+ 1 product) = 14 registers, the largest 8-column tile that fits.
 */
export function f32_tile5x8(reps: i32, K: i32): f32 {
  let c00 = f32x4.splat(0),
    c01 = f32x4.splat(0),
    c10 = f32x4.splat(0),
    c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0),
    c21 = f32x4.splat(0),
    c30 = f32x4.splat(0),
    c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0),
    c41 = f32x4.splat(0);
  const rowBytes = (<usize>K) << 2;
  for (let r = 0; r < reps; r++) {
    let xp = A;
    let bp = B;
    const xEnd = xp + rowBytes;
    while (xp < xEnd) {
      const b0 = v128.load(bp);
      const b1 = v128.load(bp, 16);
      let a = v128.load32_splat(xp);
      c00 = madd(a, b0, c00);
      c01 = madd(a, b1, c01);
      a = v128.load32_splat(xp + rowBytes);
      c10 = madd(a, b0, c10);
      c11 = madd(a, b1, c11);
      a = v128.load32_splat(xp + 2 * rowBytes);
      c20 = madd(a, b0, c20);
      c21 = madd(a, b1, c21);
      a = v128.load32_splat(xp + 3 * rowBytes);
      c30 = madd(a, b0, c30);
      c31 = madd(a, b1, c31);
      a = v128.load32_splat(xp + 4 * rowBytes);
      c40 = madd(a, b0, c40);
      c41 = madd(a, b1, c41);
      xp += 4;
      bp += 32;
    }
  }
  const s0 = f32x4.add(f32x4.add(c00, c01), f32x4.add(c10, c11));
  const s1 = f32x4.add(f32x4.add(c20, c21), f32x4.add(c30, c31));
  return hsumF(f32x4.add(f32x4.add(s0, s1), f32x4.add(c40, c41)));
}

/**
 * Register-only i16 dot alone: n steps of c_j = i32x4.dot_i16x8_s(c_j, splat(m)) on 12 chains (c_j
 * starts at splat(j)): the instruction's own throughput. 96 i16 multiply-adds per step.
 */
export function i16_dot_reg(n: i32, m: i32): i32 {
  vecConsts(i32x4.splat(m), i32x4.splat(0));
  const vm = v128.load(CONSTS);
  let c0 = i32x4.splat(0),
    c1 = i32x4.splat(1),
    c2 = i32x4.splat(2),
    c3 = i32x4.splat(3);
  let c4 = i32x4.splat(4),
    c5 = i32x4.splat(5),
    c6 = i32x4.splat(6),
    c7 = i32x4.splat(7);
  let c8 = i32x4.splat(8),
    c9 = i32x4.splat(9),
    c10 = i32x4.splat(10),
    c11 = i32x4.splat(11);
  for (let i = 0; i < n; i++) {
    c0 = i32x4.dot_i16x8_s(c0, vm);
    c1 = i32x4.dot_i16x8_s(c1, vm);
    c2 = i32x4.dot_i16x8_s(c2, vm);
    c3 = i32x4.dot_i16x8_s(c3, vm);
    c4 = i32x4.dot_i16x8_s(c4, vm);
    c5 = i32x4.dot_i16x8_s(c5, vm);
    c6 = i32x4.dot_i16x8_s(c6, vm);
    c7 = i32x4.dot_i16x8_s(c7, vm);
    c8 = i32x4.dot_i16x8_s(c8, vm);
    c9 = i32x4.dot_i16x8_s(c9, vm);
    c10 = i32x4.dot_i16x8_s(c10, vm);
    c11 = i32x4.dot_i16x8_s(c11, vm);
  }
  const s0 = i32x4.add(i32x4.add(c0, c1), i32x4.add(c2, c3));
  const s1 = i32x4.add(i32x4.add(c4, c5), i32x4.add(c6, c7));
  const s2 = i32x4.add(i32x4.add(c8, c9), i32x4.add(c10, c11));
  return hsumI(i32x4.add(i32x4.add(s0, s1), s2));
}

/**
 * Register-only i16 dot + add: n steps of c_j = i32x4.add(i32x4.dot_i16x8_s(c_j, splat(m)), splat(d)) on 12
 * chains (c_j starts at splat(j)); m's low / high 16 bits weight each lane's low / high half. 8 i16
 * multiply-adds per dot, 96 per step. Returns the wrapping sum of all lanes.
 */
export function i16_dot_add_reg(n: i32, m: i32, d: i32): i32 {
  vecConsts(i32x4.splat(m), i32x4.splat(d));
  const vm = v128.load(CONSTS),
    vd = v128.load(CONSTS, 16);
  let c0 = i32x4.splat(0),
    c1 = i32x4.splat(1),
    c2 = i32x4.splat(2),
    c3 = i32x4.splat(3);
  let c4 = i32x4.splat(4),
    c5 = i32x4.splat(5),
    c6 = i32x4.splat(6),
    c7 = i32x4.splat(7);
  let c8 = i32x4.splat(8),
    c9 = i32x4.splat(9),
    c10 = i32x4.splat(10),
    c11 = i32x4.splat(11);
  for (let i = 0; i < n; i++) {
    c0 = i32x4.add(i32x4.dot_i16x8_s(c0, vm), vd);
    c1 = i32x4.add(i32x4.dot_i16x8_s(c1, vm), vd);
    c2 = i32x4.add(i32x4.dot_i16x8_s(c2, vm), vd);
    c3 = i32x4.add(i32x4.dot_i16x8_s(c3, vm), vd);
    c4 = i32x4.add(i32x4.dot_i16x8_s(c4, vm), vd);
    c5 = i32x4.add(i32x4.dot_i16x8_s(c5, vm), vd);
    c6 = i32x4.add(i32x4.dot_i16x8_s(c6, vm), vd);
    c7 = i32x4.add(i32x4.dot_i16x8_s(c7, vm), vd);
    c8 = i32x4.add(i32x4.dot_i16x8_s(c8, vm), vd);
    c9 = i32x4.add(i32x4.dot_i16x8_s(c9, vm), vd);
    c10 = i32x4.add(i32x4.dot_i16x8_s(c10, vm), vd);
    c11 = i32x4.add(i32x4.dot_i16x8_s(c11, vm), vd);
  }
  const s0 = i32x4.add(i32x4.add(c0, c1), i32x4.add(c2, c3));
  const s1 = i32x4.add(i32x4.add(c4, c5), i32x4.add(c6, c7));
  const s2 = i32x4.add(i32x4.add(c8, c9), i32x4.add(c10, c11));
  return hsumI(i32x4.add(i32x4.add(s0, s1), s2));
}

/**
 * tile4x8_i8's inner loop over L1: A [4,pairs] (i16,i16) activation pairs (row stride pairs·4), B
 * [pairs,8] i16 split-panel lanes. Per pair: 1 v128 load, 1 i16x8.shr_s, 4 splats, 8 dot + 8 add
 * (64 i16 multiply-adds). Returns the wrapping sum of all lanes of the 8 accumulators.
 */
export function i8_tile4x8(reps: i32, pairs: i32): i32 {
  let d0 = i32x4.splat(0),
    h0 = i32x4.splat(0),
    d1 = i32x4.splat(0),
    h1 = i32x4.splat(0);
  let d2 = i32x4.splat(0),
    h2 = i32x4.splat(0),
    d3 = i32x4.splat(0),
    h3 = i32x4.splat(0);
  const rowBytes = (<usize>pairs) << 2;
  for (let r = 0; r < reps; r++) {
    let xp = A;
    let bp = B;
    const xEnd = xp + rowBytes;
    while (xp < xEnd) {
      const w = v128.load(bp);
      const wh = i16x8.shr_s(w, 8);
      let a = v128.load32_splat(xp);
      d0 = i32x4.add(d0, i32x4.dot_i16x8_s(a, w));
      h0 = i32x4.add(h0, i32x4.dot_i16x8_s(a, wh));
      a = v128.load32_splat(xp + rowBytes);
      d1 = i32x4.add(d1, i32x4.dot_i16x8_s(a, w));
      h1 = i32x4.add(h1, i32x4.dot_i16x8_s(a, wh));
      a = v128.load32_splat(xp + 2 * rowBytes);
      d2 = i32x4.add(d2, i32x4.dot_i16x8_s(a, w));
      h2 = i32x4.add(h2, i32x4.dot_i16x8_s(a, wh));
      a = v128.load32_splat(xp + 3 * rowBytes);
      d3 = i32x4.add(d3, i32x4.dot_i16x8_s(a, w));
      h3 = i32x4.add(h3, i32x4.dot_i16x8_s(a, wh));
      xp += 4;
      bp += 16;
    }
  }
  const s0 = i32x4.add(i32x4.add(d0, h0), i32x4.add(d1, h1));
  const s1 = i32x4.add(i32x4.add(d2, h2), i32x4.add(d3, h3));
  return hsumI(i32x4.add(s0, s1));
}

/**
 * The int8 tile with activations packed as matmul_i8 now packs them: a 4-row strip [pairs][4] of
 * (i16,i16) pairs, one pointer (offsets 0, 4, 8, 12). B [pairs,8]. Same sum as i8_tile4x8.
 */
export function i8_tile4x8s(reps: i32, pairs: i32): i32 {
  let d0 = i32x4.splat(0),
    h0 = i32x4.splat(0),
    d1 = i32x4.splat(0),
    h1 = i32x4.splat(0);
  let d2 = i32x4.splat(0),
    h2 = i32x4.splat(0),
    d3 = i32x4.splat(0),
    h3 = i32x4.splat(0);
  for (let r = 0; r < reps; r++) {
    let xp = A;
    let bp = B;
    const xEnd = A + ((<usize>pairs) << 4);
    while (xp < xEnd) {
      const w = v128.load(bp);
      const wh = i16x8.shr_s(w, 8);
      let a = v128.load32_splat(xp);
      d0 = i32x4.add(d0, i32x4.dot_i16x8_s(a, w));
      h0 = i32x4.add(h0, i32x4.dot_i16x8_s(a, wh));
      a = v128.load32_splat(xp, 4);
      d1 = i32x4.add(d1, i32x4.dot_i16x8_s(a, w));
      h1 = i32x4.add(h1, i32x4.dot_i16x8_s(a, wh));
      a = v128.load32_splat(xp, 8);
      d2 = i32x4.add(d2, i32x4.dot_i16x8_s(a, w));
      h2 = i32x4.add(h2, i32x4.dot_i16x8_s(a, wh));
      a = v128.load32_splat(xp, 12);
      d3 = i32x4.add(d3, i32x4.dot_i16x8_s(a, w));
      h3 = i32x4.add(h3, i32x4.dot_i16x8_s(a, wh));
      xp += 16;
      bp += 16;
    }
  }
  const s0 = i32x4.add(i32x4.add(d0, h0), i32x4.add(d1, h1));
  const s1 = i32x4.add(i32x4.add(d2, h2), i32x4.add(d3, h3));
  return hsumI(i32x4.add(s0, s1));
}

/**
 * Register-only relaxed i8 dot (relaxed build): n steps of
 * c_j = i32x4.relaxed_dot_i8x16_i7x16_add_s(c_j, splat(b), splat(d)) on 12 chains (c_j starts at
 * splat(j)): each i32 lane = Σ of its 4 signed bytes × b (b in 0..127) + d. 16 multiply-adds per dot.
 */
export function i8_relaxed_dot_add_reg(n: i32, b: i32, d: i32): i32 {
  if (!ASC_FEATURE_RELAXED_SIMD) unreachable();
  vecConsts(i8x16.splat(<i8>b), i32x4.splat(d));
  const vb = v128.load(CONSTS),
    vd = v128.load(CONSTS, 16);
  let c0 = i32x4.splat(0),
    c1 = i32x4.splat(1),
    c2 = i32x4.splat(2),
    c3 = i32x4.splat(3);
  let c4 = i32x4.splat(4),
    c5 = i32x4.splat(5),
    c6 = i32x4.splat(6),
    c7 = i32x4.splat(7);
  let c8 = i32x4.splat(8),
    c9 = i32x4.splat(9),
    c10 = i32x4.splat(10),
    c11 = i32x4.splat(11);
  if (ASC_FEATURE_RELAXED_SIMD) {
    for (let i = 0; i < n; i++) {
      c0 = i32x4.relaxed_dot_i8x16_i7x16_add_s(c0, vb, vd);
      c1 = i32x4.relaxed_dot_i8x16_i7x16_add_s(c1, vb, vd);
      c2 = i32x4.relaxed_dot_i8x16_i7x16_add_s(c2, vb, vd);
      c3 = i32x4.relaxed_dot_i8x16_i7x16_add_s(c3, vb, vd);
      c4 = i32x4.relaxed_dot_i8x16_i7x16_add_s(c4, vb, vd);
      c5 = i32x4.relaxed_dot_i8x16_i7x16_add_s(c5, vb, vd);
      c6 = i32x4.relaxed_dot_i8x16_i7x16_add_s(c6, vb, vd);
      c7 = i32x4.relaxed_dot_i8x16_i7x16_add_s(c7, vb, vd);
      c8 = i32x4.relaxed_dot_i8x16_i7x16_add_s(c8, vb, vd);
      c9 = i32x4.relaxed_dot_i8x16_i7x16_add_s(c9, vb, vd);
      c10 = i32x4.relaxed_dot_i8x16_i7x16_add_s(c10, vb, vd);
      c11 = i32x4.relaxed_dot_i8x16_i7x16_add_s(c11, vb, vd);
    }
  }
  const s0 = i32x4.add(i32x4.add(c0, c1), i32x4.add(c2, c3));
  const s1 = i32x4.add(i32x4.add(c4, c5), i32x4.add(c6, c7));
  const s2 = i32x4.add(i32x4.add(c8, c9), i32x4.add(c10, c11));
  return hsumI(i32x4.add(i32x4.add(s0, s1), s2));
}

/**
 * Register-only relaxed i8 dot to i16 then widening (relaxed build; the form DESIGN.md §3 found correct
 * on Node 20): n steps of c_j = i32x4.add(i32x4.extadd_pairwise_i16x8_s(
 * i16x8.relaxed_dot_i8x16_i7x16_s(c_j, splat(b))), splat(d)) on 12 chains. 16 multiply-adds per step
 * and chain, same value as i8_relaxed_dot_add_reg.
 */
export function i8_relaxed_dot16_reg(n: i32, b: i32, d: i32): i32 {
  if (!ASC_FEATURE_RELAXED_SIMD) unreachable();
  vecConsts(i8x16.splat(<i8>b), i32x4.splat(d));
  const vb = v128.load(CONSTS),
    vd = v128.load(CONSTS, 16);
  let c0 = i32x4.splat(0),
    c1 = i32x4.splat(1),
    c2 = i32x4.splat(2),
    c3 = i32x4.splat(3);
  let c4 = i32x4.splat(4),
    c5 = i32x4.splat(5),
    c6 = i32x4.splat(6),
    c7 = i32x4.splat(7);
  let c8 = i32x4.splat(8),
    c9 = i32x4.splat(9),
    c10 = i32x4.splat(10),
    c11 = i32x4.splat(11);
  if (ASC_FEATURE_RELAXED_SIMD) {
    for (let i = 0; i < n; i++) {
      c0 = i32x4.add(i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(c0, vb)), vd);
      c1 = i32x4.add(i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(c1, vb)), vd);
      c2 = i32x4.add(i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(c2, vb)), vd);
      c3 = i32x4.add(i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(c3, vb)), vd);
      c4 = i32x4.add(i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(c4, vb)), vd);
      c5 = i32x4.add(i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(c5, vb)), vd);
      c6 = i32x4.add(i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(c6, vb)), vd);
      c7 = i32x4.add(i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(c7, vb)), vd);
      c8 = i32x4.add(i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(c8, vb)), vd);
      c9 = i32x4.add(i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(c9, vb)), vd);
      c10 = i32x4.add(i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(c10, vb)), vd);
      c11 = i32x4.add(i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(c11, vb)), vd);
    }
  }
  const s0 = i32x4.add(i32x4.add(c0, c1), i32x4.add(c2, c3));
  const s1 = i32x4.add(i32x4.add(c4, c5), i32x4.add(c6, c7));
  const s2 = i32x4.add(i32x4.add(c8, c9), i32x4.add(c10, c11));
  return hsumI(i32x4.add(i32x4.add(s0, s1), s2));
}
