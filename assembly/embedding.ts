// Embedding gather: y[t] = tok[ids[t]] + pos[posIds[t]] + seg[segIds[t]] (BERT sums three tables;
// T5 uses only the token table). Ids are checked: an out-of-range id writes a zero row and is counted,
// so the host can raise a clear error instead of reading outside a table. The token table may be
// int8 with one scale per row (embed_q8_f32), which quarters the largest tensor of a small model.

@inline function addRow(y: usize, table: usize, id: i32, C: i32): void {
  const src = table + ((<usize>id * C) << 2);
  let c = 0;
  for (; c + 4 <= C; c += 4) {
    const o = <usize>c << 2;
    v128.store(y + o, f32x4.add(v128.load(y + o), v128.load(src + o)));
  }
  for (; c < C; c++) store<f32>(y + (<usize>c << 2), load<f32>(y + (<usize>c << 2)) + load<f32>(src + (<usize>c << 2)));
}

/**
 * y: [T,C] out; ids, posIds, segIds: [T] i32 (posIds/segIds may be 0 to skip that table);
 * tok: [V,C]; pos: [P,C]; seg: [S,C]. Returns the number of ids out of range (their rows are zero).
 */
export function embed_f32(
  y: usize, ids: usize, posIds: usize, segIds: usize, tok: usize, pos: usize, seg: usize,
  T: i32, C: i32, V: i32, P: i32, S: i32,
): i32 {
  let bad = 0;
  for (let t = 0; t < T; t++) {
    const yr = y + ((<usize>t * C) << 2);
    memory.fill(yr, 0, <usize>C << 2);
    const id = load<i32>(ids + (<usize>t << 2));
    const p = posIds ? load<i32>(posIds + (<usize>t << 2)) : 0;
    const s = segIds ? load<i32>(segIds + (<usize>t << 2)) : 0;
    if (<u32>id >= <u32>V || (posIds && <u32>p >= <u32>P) || (segIds && <u32>s >= <u32>S)) {
      bad++;
      continue;
    }
    addRow(yr, tok, id, C);
    if (posIds) addRow(yr, pos, p, C);
    if (segIds) addRow(yr, seg, s, C);
  }
  return bad;
}

/** y[0..C) += q[0..C) · scale (an int8 table row, dequantized on the fly). */
@inline function addRowQ8(y: usize, q: usize, scale: f32, C: i32): void {
  const vs = f32x4.splat(scale);
  let c = 0;
  for (; c + 8 <= C; c += 8) {
    const w = v128.load8x8_s(q + <usize>c); // 8 × i16
    const lo = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(w));
    const hi = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(w));
    const o = <usize>c << 2;
    v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.mul(lo, vs)));
    v128.store(y + o, f32x4.add(v128.load(y + o, 16), f32x4.mul(hi, vs)), 16);
  }
  for (; c < C; c++) {
    const o = <usize>c << 2;
    store<f32>(y + o, load<f32>(y + o) + <f32>load<i8>(q + <usize>c) * scale);
  }
}

/**
 * embed_f32 with an int8 token table: tokQ [V,C] i8 and tokScales [V] f32 (row v ≈ tokQ[v]·tokScales[v]).
 * Returns the number of ids out of range (their rows are zero).
 */
export function embed_q8_f32(
  y: usize, ids: usize, posIds: usize, segIds: usize, tokQ: usize, tokScales: usize, pos: usize, seg: usize,
  T: i32, C: i32, V: i32, P: i32, S: i32,
): i32 {
  let bad = 0;
  for (let t = 0; t < T; t++) {
    const yr = y + ((<usize>t * C) << 2);
    memory.fill(yr, 0, <usize>C << 2);
    const id = load<i32>(ids + (<usize>t << 2));
    const p = posIds ? load<i32>(posIds + (<usize>t << 2)) : 0;
    const s = segIds ? load<i32>(segIds + (<usize>t << 2)) : 0;
    if (<u32>id >= <u32>V || (posIds && <u32>p >= <u32>P) || (segIds && <u32>s >= <u32>S)) {
      bad++;
      continue;
    }
    addRowQ8(yr, tokQ + <usize>id * C, load<f32>(tokScales + (<usize>id << 2)), C);
    if (posIds) addRow(yr, pos, p, C);
    if (segIds) addRow(yr, seg, s, C);
  }
  return bad;
}

/**
 * embed_q8_f32 with a block-multiplier token table (quantize_weights_i8b): tokQ [V,C] i8, tokUnits [V]
 * f32, tokMults [V, ceil(C/8)] i8; element (v, c) ≈ tokQ[v,c] · (tokUnits[v] · tokMults[v, c/8]).
 * Returns the number of ids out of range (their rows are zero).
 */
export function embed_q8b_f32(
  y: usize, ids: usize, posIds: usize, segIds: usize, tokQ: usize, tokUnits: usize, tokMults: usize,
  pos: usize, seg: usize, T: i32, C: i32, V: i32, P: i32, S: i32,
): i32 {
  const nb = (C + 7) >> 3;
  let bad = 0;
  for (let t = 0; t < T; t++) {
    const yr = y + ((<usize>t * C) << 2);
    memory.fill(yr, 0, <usize>C << 2);
    const id = load<i32>(ids + (<usize>t << 2));
    const p = posIds ? load<i32>(posIds + (<usize>t << 2)) : 0;
    const s = segIds ? load<i32>(segIds + (<usize>t << 2)) : 0;
    if (<u32>id >= <u32>V || (posIds && <u32>p >= <u32>P) || (segIds && <u32>s >= <u32>S)) {
      bad++;
      continue;
    }
    const q = tokQ + <usize>id * C;
    const u = load<f32>(tokUnits + (<usize>id << 2));
    const mrow = tokMults + <usize>id * nb;
    let c = 0;
    for (; c + 8 <= C; c += 8) {
      const vs = f32x4.splat(u * <f32>load<i8>(mrow + (c >> 3)));
      const w = v128.load8x8_s(q + <usize>c); // 8 × i16
      const o = <usize>c << 2;
      v128.store(yr + o, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(w)), vs));
      v128.store(yr + o, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(w)), vs), 16);
    }
    for (; c < C; c++) {
      store<f32>(yr + (<usize>c << 2), <f32>load<i8>(q + <usize>c) * (u * <f32>load<i8>(mrow + (c >> 3))));
    }
    if (posIds) addRow(yr, pos, p, C);
    if (segIds) addRow(yr, seg, s, C);
  }
  return bad;
}

/** Scalar reference for embed_q8b_f32 (same arguments and result). */
export function embed_q8b_f32_ref(
  y: usize, ids: usize, posIds: usize, segIds: usize, tokQ: usize, tokUnits: usize, tokMults: usize,
  pos: usize, seg: usize, T: i32, C: i32, V: i32, P: i32, S: i32,
): i32 {
  const nb = (C + 7) >> 3;
  let bad = 0;
  for (let t = 0; t < T; t++) {
    const id = load<i32>(ids + (<usize>t << 2));
    const p = posIds ? load<i32>(posIds + (<usize>t << 2)) : 0;
    const s = segIds ? load<i32>(segIds + (<usize>t << 2)) : 0;
    const ok = !(<u32>id >= <u32>V || (posIds && <u32>p >= <u32>P) || (segIds && <u32>s >= <u32>S));
    if (!ok) bad++;
    for (let c = 0; c < C; c++) {
      let v: f32 = 0;
      if (ok) {
        const scale = load<f32>(tokUnits + (<usize>id << 2)) * <f32>load<i8>(tokMults + <usize>id * nb + (c >> 3));
        v = <f32>load<i8>(tokQ + <usize>id * C + c) * scale;
        if (posIds) v += load<f32>(pos + ((<usize>p * C + c) << 2));
        if (segIds) v += load<f32>(seg + ((<usize>s * C + c) << 2));
      }
      store<f32>(y + ((<usize>t * C + c) << 2), v);
    }
  }
  return bad;
}

// ---- backward ------------------------------------------------------------------------------------

/**
 * Backward of embed_f32: scatter-add of the output gradient into the tables, by id (repeated ids add up).
 * ACCUMULATES: dtok [V,C], dpos [P,C], dseg [S,C] (any may be 0 to skip: a frozen table, or T5's single
 * table); dy: [T,C]; ids, posIds, segIds: [T] i32 as in the forward (posIds / segIds 0 when unused).
 * A row whose ids the forward rejected (out of range) got zeros and passes no gradient; returns their
 * count, like the forward. Tied weights (an LM head sharing the token table) just accumulate into the
 * same dtok buffer.
 */
export function embed_backward_f32(
  dtok: usize, dpos: usize, dseg: usize, dy: usize, ids: usize, posIds: usize, segIds: usize,
  T: i32, C: i32, V: i32, P: i32, S: i32,
): i32 {
  let bad = 0;
  for (let t = 0; t < T; t++) {
    const id = load<i32>(ids + (<usize>t << 2));
    const p = posIds ? load<i32>(posIds + (<usize>t << 2)) : 0;
    const s = segIds ? load<i32>(segIds + (<usize>t << 2)) : 0;
    if (<u32>id >= <u32>V || (posIds && <u32>p >= <u32>P) || (segIds && <u32>s >= <u32>S)) {
      bad++;
      continue;
    }
    const src = dy + ((<usize>t * C) << 2);
    if (dtok) addRow(dtok + ((<usize>id * C) << 2), src, 0, C);
    if (dpos && posIds) addRow(dpos + ((<usize>p * C) << 2), src, 0, C);
    if (dseg && segIds) addRow(dseg + ((<usize>s * C) << 2), src, 0, C);
  }
  return bad;
}

/** f64 reference for embed_backward_f32 (same arguments; each table row's sum taken in f64). */
export function embed_backward_f32_ref(
  dtok: usize, dpos: usize, dseg: usize, dy: usize, ids: usize, posIds: usize, segIds: usize,
  T: i32, C: i32, V: i32, P: i32, S: i32,
): i32 {
  let bad = 0;
  for (let t = 0; t < T; t++) {
    const id = load<i32>(ids + (<usize>t << 2));
    const p = posIds ? load<i32>(posIds + (<usize>t << 2)) : 0;
    const s = segIds ? load<i32>(segIds + (<usize>t << 2)) : 0;
    if (<u32>id >= <u32>V || (posIds && <u32>p >= <u32>P) || (segIds && <u32>s >= <u32>S)) bad++;
  }
  scatterRef(dtok, dy, ids, posIds, segIds, 0, T, C, V, P, S);
  if (posIds) scatterRef(dpos, dy, ids, posIds, segIds, 1, T, C, V, P, S);
  if (segIds) scatterRef(dseg, dy, ids, posIds, segIds, 2, T, C, V, P, S);
  return bad;
}

/** table[row] += Σ_t dy[t] over the valid tokens t whose id in the chosen id list (0 tok, 1 pos, 2 seg) is row. */
function scatterRef(
  table: usize, dy: usize, ids: usize, posIds: usize, segIds: usize, which: i32,
  T: i32, C: i32, V: i32, P: i32, S: i32,
): void {
  if (!table) return;
  const rows = which == 0 ? V : which == 1 ? P : S;
  const list = which == 0 ? ids : which == 1 ? posIds : segIds;
  for (let row = 0; row < rows; row++) {
    for (let c = 0; c < C; c++) {
      let acc: f64 = 0;
      let any = false;
      for (let t = 0; t < T; t++) {
        const id = load<i32>(ids + (<usize>t << 2));
        const p = posIds ? load<i32>(posIds + (<usize>t << 2)) : 0;
        const s = segIds ? load<i32>(segIds + (<usize>t << 2)) : 0;
        if (<u32>id >= <u32>V || (posIds && <u32>p >= <u32>P) || (segIds && <u32>s >= <u32>S)) continue;
        if (load<i32>(list + (<usize>t << 2)) != row) continue;
        acc += <f64>load<f32>(dy + ((<usize>t * C + c) << 2));
        any = true;
      }
      if (any) {
        const at = table + ((<usize>row * C + c) << 2);
        store<f32>(at, <f32>(<f64>load<f32>(at) + acc));
      }
    }
  }
}
