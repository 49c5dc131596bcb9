// Numeric comparison helpers that report where and by how much arrays differ.
import { expect } from "vitest";

export interface Diff {
  maxAbs: number;
  maxRel: number;
  at: number;
}

export function diff(actual: ArrayLike<number>, expected: ArrayLike<number>): Diff {
  expect(actual.length).toBe(expected.length);
  let maxAbs = 0;
  let maxRel = 0;
  let at = -1;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= maxAbs)) {
      maxAbs = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
      at = i;
    }
    maxRel = Math.max(maxRel, d / (Math.abs(expected[i]) + 1e-30));
  }
  return { maxAbs, maxRel, at };
}

/** Asserts |a − e| ≤ atol + rtol·|e| elementwise, with a message naming the first worst element. */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  atol: number,
  rtol = 0,
  label = "",
): void {
  expect(actual.length, `${label} length`).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    const e = expected[i];
    const a = actual[i];
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      const d = diff(actual, expected);
      throw new Error(
        `${label}: element ${i} is ${a}, expected ${e} (atol ${atol}, rtol ${rtol}); worst |diff| ${d.maxAbs} at ${d.at}`,
      );
    }
  }
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}
