// Output side of the GEMMs: stores one row of an 8-column register tile through the epilogue
// (bias, optional pre-activation save for backward, activation or residual), with the N tail.
import { epiOne, epiVec } from "./epilogue";

const TAIL: usize = memory.data(64, 16); // scratch for a partial 8-column tile

/** Stores one row of an 8-column tile: bias, optional pre-activation save, epilogue, tail handling. */
@inline export function storeTile8(
  y: usize, preact: usize, bias: usize, residual: usize,
  m: i32, n0: i32, N: i32, v0: v128, v1: v128, epilogue: i32,
): void {
  const at = (<usize>m * N + n0) << 2;
  if (n0 + 8 <= N) {
    if (bias) {
      v0 = f32x4.add(v0, v128.load(bias + (<usize>n0 << 2)));
      v1 = f32x4.add(v1, v128.load(bias + (<usize>n0 << 2), 16));
    }
    if (preact) {
      v128.store(preact + at, v0);
      v128.store(preact + at, v1, 16);
    }
    v128.store(y + at, epiVec(v0, epilogue, residual + at));
    v128.store(y + at, epiVec(v1, epilogue, residual + at + 16), 16);
  } else {
    v128.store(TAIL, v0);
    v128.store(TAIL, v1, 16);
    for (let j = 0; j < N - n0; j++) {
      const o = at + (<usize>j << 2);
      let v = load<f32>(TAIL + (<usize>j << 2));
      if (bias) v += load<f32>(bias + (<usize>(n0 + j) << 2));
      if (preact) store<f32>(preact + o, v);
      store<f32>(y + o, epiOne(v, epilogue, residual + o));
    }
  }
}

