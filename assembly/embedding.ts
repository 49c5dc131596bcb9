// Embedding gather: y[t] = tok[ids[t]] + pos[posIds[t]] + seg[segIds[t]] (BERT sums three tables;
// T5 uses only the token table). Ids are checked: an out-of-range id writes a zero row and is counted,
// so the host can raise a clear error instead of reading outside a table.

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
