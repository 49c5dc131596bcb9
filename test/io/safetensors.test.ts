// Tests for the safetensors reader/writer, f16/bf16 conversions, the Node file helpers and corrupt-file errors.
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import {
  bfloat16BitsToFloat32,
  DTYPE_BYTES,
  type DType,
  float16BitsToFloat32,
  float32ToBFloat16,
  float32ToFloat16,
  SafetensorsError,
  SafetensorsFile,
  type TensorInput,
  writeSafetensors,
} from "../../src/io/safetensors.ts";
import { readSafetensorsFile, writeSafetensorsFileAtomic } from "../../src/io/safetensors-node.ts";

const FIXTURE = fileURLToPath(new URL("../fixtures/kernels/kernels.safetensors", import.meta.url));

/** Builds a file from a header (object or raw JSON text) and `dataLen` bytes of data (0, 1, 2, ...). */
function rawFile(header: unknown, dataLen = 0): Uint8Array {
  const json = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataLen);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  for (let i = 0; i < dataLen; i++) out[8 + json.length + i] = i & 0xff;
  return out;
}

function errorOf(fn: () => unknown): SafetensorsError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SafetensorsError);
    return e as SafetensorsError;
  }
  throw new Error("expected a SafetensorsError");
}

function f16(...bits: number[]): number[] {
  return Array.from(float16BitsToFloat32(Uint16Array.from(bits)));
}

/** Re-serializes every tensor of a parsed file from its raw bytes. */
function rewrite(f: SafetensorsFile): Uint8Array {
  const tensors: Record<string, TensorInput> = {};
  for (const name of f.names()) tensors[name] = { ...f.info(name), data: f.raw(name) };
  return writeSafetensors(tensors, f.metadata);
}

describe("float16 / bfloat16 conversions", () => {
  it("encodes float16 to known bit patterns with round-to-nearest-even", () => {
    const cases: [number, number][] = [
      [1, 0x3c00],
      [-2, 0xc000],
      [0.1, 0x2e66],
      [1 / 3, 0x3555],
      [65504, 0x7bff],
      [65519, 0x7bff],
      [65520, 0x7c00], // tie between max half and "65536" rounds to even = overflow to inf
      [1e6, 0x7c00],
      [Number.POSITIVE_INFINITY, 0x7c00],
      [Number.NEGATIVE_INFINITY, 0xfc00],
      [Number.NaN, 0x7e00],
      [0, 0x0000],
      [-0, 0x8000],
      [2 ** -14, 0x0400], // smallest normal
      [1023 * 2 ** -24, 0x03ff], // largest subnormal
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // tie -> even (zero)
      [3 * 2 ** -25, 0x0002], // tie -> even
      [2 ** -25 * (1 + 2 ** -23), 0x0001], // just above the tie
      [-(2 ** -26), 0x8000],
      [1 + 2 ** -11, 0x3c00], // tie -> even
      [1 + 3 * 2 ** -11, 0x3c02], // tie -> even (up)
      [2 ** -140, 0x0000], // float32 subnormal
    ];
    const got = Array.from(float32ToFloat16(Float32Array.from(cases, (c) => c[0])));
    expect(got.map((b) => b.toString(16))).toEqual(cases.map((c) => c[1].toString(16)));
  });

  it("decodes float16 bit patterns, including subnormals, signed zero, inf and NaN", () => {
    expect(f16(0x3c00, 0xc000, 0x7bff, 0xfbff, 0x3555)).toEqual([1, -2, 65504, -65504, 0.333251953125]);
    expect(f16(0x0001, 0x8001, 0x03ff, 0x0400)).toEqual([2 ** -24, -(2 ** -24), 1023 * 2 ** -24, 2 ** -14]);
    expect(f16(0x7c00, 0xfc00)).toEqual([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    const [nan, snan, zero, negZero] = f16(0x7e00, 0x7c01, 0x0000, 0x8000);
    expect([Number.isNaN(nan), Number.isNaN(snan), Object.is(zero, 0), Object.is(negZero, -0)]).toEqual([
      true,
      true,
      true,
      true,
    ]);
  });

  it("decodes all 65536 float16 patterns to the exact value and re-encodes them unchanged", () => {
    const bits = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const decoded = float16BitsToFloat32(bits);
    const again = float32ToFloat16(decoded);
    let checked = 0;
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const exp = (h >> 10) & 0x1f;
      const mant = h & 0x3ff;
      if (exp === 0x1f && mant !== 0) {
        if (!Number.isNaN(decoded[h]) || (again[h] & 0x7c00) !== 0x7c00 || (again[h] & 0x3ff) === 0) {
          throw new Error(`NaN pattern ${h.toString(16)} not preserved`);
        }
        continue;
      }
      const want =
        exp === 0x1f
          ? sign * Number.POSITIVE_INFINITY
          : sign * (exp === 0 ? mant * 2 ** -24 : (1 + mant / 1024) * 2 ** (exp - 15));
      if (!Object.is(decoded[h], want))
        throw new Error(`0x${h.toString(16)} decoded to ${decoded[h]}, want ${want}`);
      if (again[h] !== h) throw new Error(`0x${h.toString(16)} re-encoded as 0x${again[h].toString(16)}`);
      checked++;
    }
    expect(checked).toBe(65536 - 2 * 1023);
  });

  it("rounds random floats to the nearest float16", () => {
    const x = new Float32Array(20000);
    const u = new Uint32Array(x.buffer);
    let seed = 0x2545f491;
    for (let i = 0; i < u.length; i++) {
      seed ^= seed << 13; // xorshift32: deterministic
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      u[i] = (seed >>> 0) % 0x477fe001; // [0, 65504]
    }
    const h = float32ToFloat16(x);
    const near = (v: number) => float16BitsToFloat32(Uint16Array.of(v))[0];
    for (let i = 0; i < x.length; i++) {
      const d = Math.abs(x[i] - near(h[i]));
      if (h[i] > 0 && d > Math.abs(x[i] - near(h[i] - 1)))
        throw new Error(`${x[i]}: 0x${h[i].toString(16)} - 1 is nearer`);
      if (h[i] < 0x7bff && d > Math.abs(x[i] - near(h[i] + 1)))
        throw new Error(`${x[i]}: 0x${h[i].toString(16)} + 1 is nearer`);
    }
    expect(h.every((v) => v <= 0x7bff)).toBe(true);
  });

  it("encodes bfloat16 to known bit patterns with round-to-nearest-even", () => {
    const cases: [number, number][] = [
      [1, 0x3f80],
      [-2, 0xc000],
      [Math.PI, 0x4049],
      [0.1, 0x3dcd],
      [3.4028234663852886e38, 0x7f80], // float32 max rounds up to inf
      [Number.POSITIVE_INFINITY, 0x7f80],
      [Number.NEGATIVE_INFINITY, 0xff80],
      [Number.NaN, 0x7fc0],
      [-0, 0x8000],
      [1 + 2 ** -8, 0x3f80], // tie -> even
      [1 + 3 * 2 ** -8, 0x3f82], // tie -> even (up)
      [1 + 2 ** -8 + 2 ** -20, 0x3f81],
      [2 ** -133, 0x0001], // float32 subnormal
    ];
    const got = Array.from(float32ToBFloat16(Float32Array.from(cases, (c) => c[0])));
    expect(got.map((b) => b.toString(16))).toEqual(cases.map((c) => c[1].toString(16)));
  });

  it("decodes all 65536 bfloat16 patterns as the top half of a float32 and re-encodes them unchanged", () => {
    const bits = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const decoded = bfloat16BitsToFloat32(bits);
    const again = float32ToBFloat16(decoded);
    const dv = new DataView(new ArrayBuffer(4));
    for (let b = 0; b < 65536; b++) {
      dv.setUint32(0, b << 16);
      const want = dv.getFloat32(0);
      const nan = Number.isNaN(want);
      if (
        !Object.is(decoded[b], want) ||
        (!nan && again[b] !== b) ||
        (nan && !Number.isNaN(bfloat16BitsToFloat32(Uint16Array.of(again[b]))[0]))
      ) {
        throw new Error(
          `bf16 0x${b.toString(16)}: decoded ${decoded[b]}, re-encoded 0x${again[b].toString(16)}`,
        );
      }
    }
    expect(Array.from(bfloat16BitsToFloat32(Uint16Array.of(0x0001, 0x8000)))).toEqual([2 ** -133, -0]);
  });
});

describe("round trip", () => {
  const f16Values = [0, -0, 1.5, -65504, 2 ** -24, Number.POSITIVE_INFINITY, Number.NaN];
  const bf16Values = [1, -2, 0.5, 2 ** -133, 3.3895313892515355e38, Number.NEGATIVE_INFINITY, 0, -0.125, 256];
  const input: Record<string, TensorInput> = {
    "f32.odd": {
      dtype: "F32",
      shape: [3, 1, 5],
      data: Float32Array.from({ length: 15 }, (_, i) => (i - 7) * 0.37),
    },
    "f16.vec": { dtype: "F16", shape: [7], data: float32ToFloat16(Float32Array.from(f16Values)) },
    "bf16.cube": { dtype: "BF16", shape: [1, 3, 3], data: float32ToBFloat16(Float32Array.from(bf16Values)) },
    i8: { dtype: "I8", shape: [5, 1], data: Int8Array.of(-128, -1, 0, 1, 127) },
    u8: { dtype: "U8", shape: [3], data: Uint8Array.of(0, 128, 255) },
    i32: { dtype: "I32", shape: [2, 3], data: Int32Array.of(-(2 ** 31), -1, 0, 1, 2 ** 31 - 1, 123456789) },
    i64: { dtype: "I64", shape: [3], data: BigInt64Array.of(-(2n ** 63n), 2n ** 53n + 1n, -42n) },
    scalar: { dtype: "F32", shape: [], data: Float32Array.of(42.5) },
    empty: { dtype: "I32", shape: [0, 4], data: new Int32Array(0) },
    "0": { dtype: "F32", shape: [1], data: Float32Array.of(-1) }, // integer-like name
  };
  const metadata = { format: "pt", "0": "zero", note: 'quote " and ünïcode' };
  const bytes = writeSafetensors(input, metadata);
  const f = SafetensorsFile.parse(bytes, "rt.safetensors");

  it("keeps dtype, shape and metadata", () => {
    for (const [name, t] of Object.entries(input)) {
      expect({ dtype: f.info(name).dtype, shape: f.info(name).shape }).toEqual({
        dtype: t.dtype,
        shape: t.shape,
      });
    }
    expect({ ...f.metadata }).toEqual(metadata);
  });

  it("reads every dtype back exactly", () => {
    expect(f.float32("f32.odd")).toEqual(input["f32.odd"].data);
    expect(Array.from(f.float32("f16.vec"))).toEqual(f16Values);
    expect(Object.is(f.float32("f16.vec")[1], -0)).toBe(true);
    expect(Array.from(f.float32("bf16.cube"))).toEqual(bf16Values);
    expect(f.int8("i8")).toEqual(input.i8.data);
    expect(f.uint8("u8")).toEqual(input.u8.data);
    expect(f.int32("i32")).toEqual(input.i32.data);
    expect(f.int64("i64")).toEqual(input.i64.data);
    expect(Array.from(f.float32("scalar"))).toEqual([42.5]);
    expect(Array.from(f.float32("0"))).toEqual([-1]);
    expect(f.int32("empty").length).toBe(0);
    expect(f.raw("empty").length).toBe(0);
  });

  it("lays out like the Python library: 8-aligned data section, widest dtype first, then by name", () => {
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLen % 8).toBe(0);
    expect(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen))).toMatch(
      /^\{"__metadata__":\{"0":"zero","format":"pt","note":"quote \\" and ünïcode"\},"i64":\{"dtype":"I64","shape":\[3\],"data_offsets":\[0,24\]\},"0":/,
    );
    expect(f.names()).toEqual([
      "i64",
      "0",
      "f32.odd",
      "scalar",
      "empty",
      "i32",
      "bf16.cube",
      "f16.vec",
      "i8",
      "u8",
    ]);
    for (const name of f.names()) {
      const t = f.info(name);
      expect(t.begin % DTYPE_BYTES[t.dtype], name).toBe(0);
    }
    expect(bytes.length).toBe(8 + headerLen + 24 + 4 + 60 + 4 + 0 + 24 + 18 + 14 + 5 + 3);
  });

  it("re-writes byte-identically and omits empty metadata", () => {
    expect(rewrite(f)).toEqual(bytes);
    const bare = writeSafetensors({ x: input.scalar }, {});
    const headerLen = Number(new DataView(bare.buffer).getBigUint64(0, true));
    expect(new TextDecoder().decode(bare.subarray(8, 8 + headerLen))).toBe(
      '{"x":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}   ',
    );
    expect(Array.from(bare.subarray(8 + headerLen))).toEqual([0, 0, 0x2a, 0x42]); // 42.5 = 0x422a0000
  });

  it("returns zero-copy views when aligned and copies when not", () => {
    expect(f.float32("f32.odd").buffer).toBe(bytes.buffer);
    expect(f.raw("i32").buffer).toBe(bytes.buffer);
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const g = SafetensorsFile.parse(shifted.subarray(1));
    expect(g.float32("f32.odd")).toEqual(input["f32.odd"].data);
    expect(g.float32("f32.odd").buffer).not.toBe(shifted.buffer);
    expect(g.int64("i64")).toEqual(input.i64.data);
    expect(g.int32("i32")).toEqual(input.i32.data);
  });

  it("reads tensors at unaligned offsets inside the data section", () => {
    const header = {
      a: { dtype: "I8", shape: [2], data_offsets: [0, 2] },
      b: { dtype: "F32", shape: [3], data_offsets: [2, 14] },
      c: { dtype: "I64", shape: [1], data_offsets: [14, 22] },
      d: { dtype: "I32", shape: [1], data_offsets: [22, 26] },
      e: { dtype: "F16", shape: [1], data_offsets: [26, 28] },
    };
    const file = rawFile(header, 28);
    const data = new DataView(file.buffer, file.length - 28);
    for (const [i, v] of [1.25, -3, 1e-3].entries()) data.setFloat32(2 + 4 * i, v, true);
    data.setBigInt64(14, -5n, true);
    data.setInt32(22, 77, true);
    data.setUint16(26, 0x3c00, true);
    const g = SafetensorsFile.parse(file);
    expect(Array.from(g.int8("a"))).toEqual([0, 1]);
    expect(g.float32("b")).toEqual(Float32Array.of(1.25, -3, 1e-3));
    expect(g.int64AsNumbers("c")).toEqual([-5]);
    expect(Array.from(g.int32("d"))).toEqual([77]);
    expect(Array.from(g.float32("e"))).toEqual([1]);
  });

  it("int64AsNumbers rejects values outside the safe integer range, naming the tensor", () => {
    const g = SafetensorsFile.parse(
      writeSafetensors({ ids: { dtype: "I64", shape: [2], data: BigInt64Array.of(7n, 2n ** 53n) } }),
      "ids.safetensors",
    );
    expect(errorOf(() => g.int64AsNumbers("ids")).message).toBe(
      'ids.safetensors: tensor "ids": value 9007199254740992 at index 1 is outside the safe integer range',
    );
    expect(g.int64("ids")[0]).toBe(7n);
  });
});

describe("kernels.safetensors fixture (written by the Python library)", async () => {
  const bytes = new Uint8Array(await readFile(FIXTURE));
  const f = SafetensorsFile.parse(bytes, "kernels.safetensors");

  it("has the expected tensors", () => {
    expect(f.names().length).toBe(64);
    expect(f.info("attn.q")).toMatchObject({ name: "attn.q", dtype: "F32", shape: [2, 3, 7, 8] });
    expect(f.info("xent.loss")).toMatchObject({ dtype: "F32", shape: [1] });
    expect(f.float32("attn.q").length).toBe(2 * 3 * 7 * 8);
    expect({ ...f.metadata }).toEqual({});
  });

  it("holds consistent values (relu(x) = max(x, 0), finite positive loss)", () => {
    const x = f.float32("act.x");
    expect(Array.from(f.float32("act.relu.y"))).toEqual(Array.from(x, (v) => Math.max(v, 0)));
    const [loss] = f.float32("xent.loss");
    expect(Number.isFinite(loss) && loss > 0).toBe(true);
  });

  it("re-writes byte-identically", () => {
    expect(rewrite(f)).toEqual(bytes);
  });

  it("reads through readSafetensorsFile, naming the file by basename", async () => {
    const g = await readSafetensorsFile(FIXTURE);
    expect(g.float32("xent.loss")).toEqual(f.float32("xent.loss"));
    expect(errorOf(() => g.info("nope")).message).toBe(
      'kernels.safetensors: tensor "nope": not found in file',
    );
  });
});

describe("corrupt files", () => {
  const F32 = (shape: unknown, data_offsets: unknown) => ({ dtype: "F32", shape, data_offsets });
  const invalidUtf8 = rawFile("{}");
  invalidUtf8[8] = 0xff;
  const hugeLength = rawFile("{}");
  hugeLength.fill(0xff, 0, 8);

  const cases: [string, Uint8Array, string | undefined, RegExp][] = [
    ["shorter than 8 bytes", new Uint8Array(5), undefined, /file is 5 bytes, shorter than the 8-byte/],
    [
      "header length past the end",
      rawFile("{}").subarray(0, 9),
      undefined,
      /header length 2 runs past the end of the file \(9 bytes\)/,
    ],
    ["u64 header length", hugeLength, undefined, /header length 18446744073709551615 runs past the end/],
    ["invalid UTF-8", invalidUtf8, undefined, /header is not valid UTF-8/],
    ["invalid JSON", rawFile("{not json"), undefined, /header is not valid JSON/],
    ["JSON array", rawFile("[1,2]"), undefined, /header must be a JSON object/],
    ["JSON null", rawFile("null"), undefined, /header must be a JSON object/],
    ["entry not an object", rawFile({ w: 5 }), "w", /entry must be an object/],
    [
      "unknown dtype",
      rawFile({ w: { dtype: "F64", shape: [1], data_offsets: [0, 8] } }, 8),
      "w",
      /unsupported dtype "F64"/,
    ],
    [
      "missing dtype",
      rawFile({ w: { shape: [1], data_offsets: [0, 4] } }, 4),
      "w",
      /unsupported dtype undefined/,
    ],
    [
      "negative dim",
      rawFile({ w: F32([2, -1], [0, 8]) }, 8),
      "w",
      /shape must be an array of non-negative integers, got \[2,-1\]/,
    ],
    ["fractional dim", rawFile({ w: F32([2.5], [0, 8]) }, 8), "w", /shape must be .* got \[2.5\]/],
    ["shape not an array", rawFile({ w: F32("2", [0, 8]) }, 8), "w", /shape must be .* got "2"/],
    [
      "missing data_offsets",
      rawFile({ w: F32([1], undefined) }, 4),
      "w",
      /data_offsets must be \[begin, end\].* got undefined/,
    ],
    ["one offset", rawFile({ w: F32([1], [0]) }, 4), "w", /data_offsets must be .* got \[0\]/],
    [
      "string offsets",
      rawFile({ w: F32([1], ["0", "4"]) }, 4),
      "w",
      /data_offsets must be .* got \["0","4"\]/,
    ],
    ["reversed offsets", rawFile({ w: F32([0], [4, 0]) }, 4), "w", /data_offsets must be .* got \[4,0\]/],
    ["negative offset", rawFile({ w: F32([1], [-4, 0]) }, 4), "w", /data_offsets must be/],
    [
      "truncated data",
      rawFile({ a: F32([2], [0, 8]), w: F32([4], [8, 24]) }, 20),
      "w",
      /file is truncated: data section is 20 bytes but this tensor ends at 24/,
    ],
    [
      "overlap",
      rawFile({ a: F32([4], [0, 16]), z: F32([0], [8, 8]), w: F32([4], [8, 24]) }, 24),
      "w",
      /data \[8, 24\) overlaps tensor "a" at \[0, 16\)/,
    ],
    [
      "metadata not an object",
      rawFile({ __metadata__: ["x"] }),
      undefined,
      /__metadata__ must be an object of string values/,
    ],
    [
      "metadata value not a string",
      rawFile({ __metadata__: { epochs: 3 } }),
      undefined,
      /__metadata__ value for key "epochs" must be a string, got 3/,
    ],
  ];

  it.each(cases)("%s", (_label, bytes, tensor, pattern) => {
    const err = errorOf(() => SafetensorsFile.parse(bytes, "bad.safetensors"));
    const prefix = tensor === undefined ? "bad.safetensors: " : `bad.safetensors: tensor "${tensor}": `;
    expect(err.message.startsWith(prefix), err.message).toBe(true);
    expect(err.message).toMatch(pattern);
    expect([err.fileName, err.tensor]).toEqual(["bad.safetensors", tensor]);
  });

  it("reports shape × dtype size mismatches exactly", () => {
    const bytes = rawFile({ "bert.x.weight": F32([2, 3], [0, 20]) }, 20);
    expect(errorOf(() => SafetensorsFile.parse(bytes, "model.safetensors")).message).toBe(
      'model.safetensors: tensor "bert.x.weight": shape [2,3] × F32 needs 24 bytes but data_offsets give 20',
    );
  });

  it('defaults the file name to "<memory>"', () => {
    expect(errorOf(() => SafetensorsFile.parse(new Uint8Array(0))).message).toMatch(
      /^<memory>: file is 0 bytes/,
    );
  });

  it("accepts zero-size tensors anywhere and reading the wrong dtype names the tensor", () => {
    const g = SafetensorsFile.parse(
      rawFile({ a: F32([2], [0, 8]), z: F32([0, 3], [4, 4]) }, 8),
      "ok.safetensors",
    );
    expect(g.float32("z").length).toBe(0);
    expect(errorOf(() => g.int32("a")).message).toBe(
      'ok.safetensors: tensor "a": is F32, but int32() reads I32',
    );
    expect(errorOf(() => g.raw("missing")).message).toBe(
      'ok.safetensors: tensor "missing": not found in file',
    );
    expect([g.has("a"), g.has("missing"), g.has("__metadata__"), g.has("toString")]).toEqual([
      true,
      false,
      false,
      false,
    ]);
  });
});

describe("writer validation", () => {
  const err = (tensors: Record<string, TensorInput>, metadata?: Record<string, string>) =>
    errorOf(() => writeSafetensors(tensors, metadata, "out.safetensors")).message;

  it("rejects data whose byte length does not match shape × dtype", () => {
    expect(err({ w: { dtype: "F32", shape: [2, 3], data: new Float32Array(5) } })).toBe(
      'out.safetensors: tensor "w": shape [2,3] × F32 needs 24 bytes but data has 20',
    );
    expect(err({ w: { dtype: "F16", shape: [4], data: new Float32Array(4) } })).toMatch(
      /needs 8 bytes but data has 16/,
    );
  });

  it("rejects bad dtypes, shapes, reserved names and non-string metadata", () => {
    expect(err({ w: { dtype: "F64" as DType, shape: [1], data: new Float64Array(1) } })).toMatch(
      /tensor "w": unsupported dtype "F64"/,
    );
    expect(err({ w: { dtype: "I8", shape: [-1], data: new Int8Array(0) } })).toMatch(
      /tensor "w": shape must be/,
    );
    expect(err({ __metadata__: { dtype: "I8", shape: [0], data: new Int8Array(0) } })).toMatch(
      /"__metadata__": name is reserved/,
    );
    expect(err({}, { n: 1 as unknown as string })).toMatch(
      /^out\.safetensors: __metadata__ value for key "n" must be a string/,
    );
  });

  it("writes an empty file like the Python library", () => {
    expect(Array.from(writeSafetensors({}))).toEqual([
      8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32,
    ]);
    expect(SafetensorsFile.parse(writeSafetensors({})).names()).toEqual([]);
  });
});

describe("node file helpers", async () => {
  const dir = await mkdtemp(join(tmpdir(), "edgeformer-st-"));
  afterAll(() => rm(dir, { recursive: true, force: true }));
  const w = (v: number): Record<string, TensorInput> => ({
    w: { dtype: "F32", shape: [2], data: Float32Array.of(v, -v) },
  });

  it("writes atomically, overwrites, leaves no temp files and reads back", async () => {
    const path = join(dir, "model.safetensors");
    await writeSafetensorsFileAtomic(path, w(1), { step: "1" });
    await writeSafetensorsFileAtomic(path, w(2), { step: "2" });
    const f = await readSafetensorsFile(path);
    expect(Array.from(f.float32("w"))).toEqual([2, -2]);
    expect(f.metadata.step).toBe("2");
    expect(await readdir(dir)).toEqual(["model.safetensors"]);
  });

  it("keeps the old file and cleans up when the tensors are invalid", async () => {
    const path = join(dir, "keep.safetensors");
    await writeSafetensorsFileAtomic(path, w(3));
    const bad = { w: { dtype: "F32" as const, shape: [3], data: new Float32Array(2) } };
    await expect(writeSafetensorsFileAtomic(path, bad)).rejects.toThrow(
      /^keep\.safetensors: tensor "w": shape \[3\]/,
    );
    expect(Array.from((await readSafetensorsFile(path)).float32("w"))).toEqual([3, -3]);
    expect((await readdir(dir)).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });

  it("reports missing and corrupt files by basename", async () => {
    const missing = readSafetensorsFile(join(dir, "nope.safetensors"));
    await expect(missing).rejects.toBeInstanceOf(SafetensorsError);
    await expect(missing).rejects.toThrow(/^nope\.safetensors: file not found: .*nope\.safetensors$/);
    await writeFile(join(dir, "short.safetensors"), Uint8Array.of(1, 2, 3));
    await expect(readSafetensorsFile(join(dir, "short.safetensors"))).rejects.toThrow(
      /^short\.safetensors: file is 3 bytes, shorter than/,
    );
  });
});
