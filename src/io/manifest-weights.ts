// Deterministic weights from a perf `weights_manifest.json` (bench/perf/<model>/): every parameter is
// made by a hash generator, so any program can build the same full-size checkpoint without downloads.
// Element i (row-major) of a parameter with (seed, offset, scale):
//   x = fmix32((i + seed·0x9E3779B9) mod 2^32); value = offset + scale·((x >>> 8)/2^23 − 1)
// computed in float64 and stored as float32. Pure TypeScript, no Node imports.

/** One parameter of a manifest: Hugging Face `state_dict` name, shape and generator settings. */
export interface ManifestParam {
  name: string;
  shape: number[];
  seed: number;
  offset: number;
  scale: number;
}

/** A perf `weights_manifest.json`. `check` holds the first values of the unit generator (offset 0, scale 1). */
export interface WeightsManifest {
  params: ManifestParam[];
  generator?: string;
  check?: Record<string, number[]>;
}

export interface GeneratedTensor {
  shape: number[];
  data: Float32Array;
}

const GOLDEN_GAMMA = 0x9e3779b9;
const TWO_POW_23 = 8388608;

/** Number of elements of a shape (1 for a scalar), validating that every dimension is a non-negative integer. */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0)
      throw new RangeError(`bad dimension ${d} in shape [${shape.join(", ")}]`);
    n *= d;
  }
  return n;
}

/**
 * Fills `out` with elements [start, start + out.length) of the parameter stream for (seed, offset, scale).
 * Exposed so callers can generate a large parameter in chunks; `generateParam` uses it for the whole range.
 */
export function fillParam(
  out: Float32Array,
  p: { seed: number; offset: number; scale: number },
  start = 0,
): Float32Array {
  if (!Number.isInteger(p.seed)) throw new RangeError(`seed must be an integer, got ${p.seed}`);
  if (!Number.isInteger(start) || start < 0) throw new RangeError(`start must be a non-negative integer`);
  const offset = +p.offset;
  const scale = +p.scale;
  // seed·0x9E3779B9 mod 2^32 (Math.imul reduces the seed mod 2^32 first, which is the same modulo 2^32),
  // plus the start index; from there the element counter only needs 32-bit wrap-around.
  const base = (Math.imul(p.seed, GOLDEN_GAMMA) + (start % 0x100000000)) | 0;
  const n = out.length;
  for (let i = 0; i < n; i++) {
    let x = (base + i) | 0;
    x ^= x >>> 16;
    x = Math.imul(x, 0x85ebca6b);
    x ^= x >>> 13;
    x = Math.imul(x, 0xc2b2ae35);
    x ^= x >>> 16;
    out[i] = offset + scale * ((x >>> 8) / TWO_POW_23 - 1);
  }
  return out;
}

/** Generates one parameter (all of its elements, row-major) as float32. */
export function generateParam(p: {
  shape: number[];
  seed: number;
  offset: number;
  scale: number;
}): Float32Array {
  return fillParam(new Float32Array(shapeSize(p.shape)), p);
}

/**
 * Generates every parameter of a manifest, in manifest order, keyed by name.
 * Holds the whole checkpoint in memory (BERT-base: 438 MB); to stream, call `generateParam` per parameter.
 */
export function generateWeights(manifest: WeightsManifest): Map<string, GeneratedTensor> {
  const out = new Map<string, GeneratedTensor>();
  for (const p of manifest.params) {
    if (out.has(p.name)) throw new Error(`duplicate parameter ${p.name} in manifest`);
    out.set(p.name, { shape: p.shape.slice(), data: generateParam(p) });
  }
  return out;
}
