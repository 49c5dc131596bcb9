// Safetensors reader and writer (https://github.com/huggingface/safetensors), pure TypeScript with no
// Node imports so it runs in Workers and browsers. Also float32 <-> float16/bfloat16 conversions.
// Format: u64 little-endian header length N, N bytes of UTF-8 JSON header, then the data section.
// Assumes a little-endian host (every WebAssembly host is): typed views are read as stored.

export type DType = "F32" | "F16" | "BF16" | "I8" | "U8" | "I32" | "I64";

/** Bytes per element for each supported dtype. */
export const DTYPE_BYTES: Readonly<Record<DType, number>> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  I8: 1,
  U8: 1,
  I32: 4,
  I64: 8,
};

/** Rank in the Python/Rust library's Dtype enum; the writer lays out higher ranks first (as it does). */
const DTYPE_RANK: Readonly<Record<DType, number>> = { U8: 0, I8: 1, F16: 2, BF16: 3, I32: 4, F32: 5, I64: 6 };

export class SafetensorsError extends Error {
  override name = "SafetensorsError";
  /** Formats `file: tensor "name": message` (the tensor part only when given). */
  constructor(
    readonly fileName: string,
    message: string,
    readonly tensor?: string,
    options?: ErrorOptions,
  ) {
    super(
      `${fileName}: ${tensor === undefined ? "" : `tensor ${JSON.stringify(tensor)}: `}${message}`,
      options,
    );
  }
}

export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
  /** Absolute byte offsets within the file bytes: the tensor is bytes[begin, end). */
  begin: number;
  end: number;
}

export interface TensorInput {
  dtype: DType;
  shape: number[];
  data: ArrayBufferView;
}

/**
 * Random-access bytes of a file that is not held in memory (e.g. a file on disk, read where needed:
 * fileSource in src/models/checkpoint-node.ts). SafetensorsFile.open reads the header from it, then
 * each tensor when asked, straight into the caller's buffer (wasm memory, when a model loads).
 */
export interface ByteSource {
  /** Total size in bytes. */
  readonly byteLength: number;
  /** Fills all of `dst` with the bytes at [position, position + dst.length); throws when it cannot. */
  read(dst: Uint8Array, position: number): void;
}

type Json = unknown;

function isDType(x: unknown): x is DType {
  return typeof x === "string" && Object.hasOwn(DTYPE_BYTES, x);
}

function isPlainObject(x: Json): x is Record<string, Json> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function isNonNegInt(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

/** Checks dtype and shape; returns the byte size, or an error message. */
function checkDTypeShape(dtype: unknown, shape: unknown): number | string {
  if (!isDType(dtype)) {
    return `unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPE_BYTES).join(", ")})`;
  }
  if (!Array.isArray(shape) || !shape.every(isNonNegInt)) {
    return `shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`;
  }
  const bytes = shape.reduce((a, b) => a * b, DTYPE_BYTES[dtype]);
  return Number.isSafeInteger(bytes) ? bytes : `shape ${JSON.stringify(shape)} × ${dtype} is too large`;
}

/** Validates one header entry; returns it with offsets relative to the data section, or an error message. */
function checkEntry(entry: Json): Omit<TensorInfo, "name"> | string {
  if (!isPlainObject(entry)) return "entry must be an object with dtype, shape and data_offsets";
  const { dtype, shape, data_offsets: offsets } = entry;
  const size = checkDTypeShape(dtype, shape);
  if (typeof size === "string") return size;
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every(isNonNegInt) ||
    offsets[0] > offsets[1]
  ) {
    return `data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offsets)}`;
  }
  const [begin, end] = offsets;
  if (end - begin !== size) {
    return `shape ${JSON.stringify(shape)} × ${dtype} needs ${size} bytes but data_offsets give ${end - begin}`;
  }
  return { dtype: dtype as DType, shape: shape as number[], begin, end };
}

/** Orders strings by Unicode code point (= UTF-8 byte order, as Rust's String Ord does). */
function compareCodePoints(a: string, b: string): number {
  const ca = Array.from(a, (c) => c.codePointAt(0)!);
  const cb = Array.from(b, (c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    if (ca[i] !== cb[i]) return ca[i] - cb[i];
  }
  return ca.length - cb.length;
}

/**
 * Parses and validates a header: `size` is the file's length, `read(dst, at)` fills dst with the bytes
 * at `at`. Returns the tensors in data layout order (absolute offsets) and the metadata.
 */
function parseHeader(
  size: number,
  read: (dst: Uint8Array, at: number) => void,
  fileName: string,
): { tensors: Map<string, TensorInfo>; metadata: Record<string, string> } {
  const fail: (message: string, tensor?: string, cause?: unknown) => never = (message, tensor, cause) => {
    throw new SafetensorsError(fileName, message, tensor, cause === undefined ? undefined : { cause });
  };
  if (size < 8) fail(`file is ${size} bytes, shorter than the 8-byte header length prefix`);
  const prefix = new Uint8Array(8);
  read(prefix, 0);
  const headerLen = new DataView(prefix.buffer).getBigUint64(0, true);
  if (headerLen > BigInt(size - 8)) {
    fail(
      `header length ${headerLen} runs past the end of the file (${size} bytes): truncated or not safetensors`,
    );
  }
  const dataStart = 8 + Number(headerLen);
  const headerBytes = new Uint8Array(dataStart - 8);
  read(headerBytes, 8);
  let text = "";
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch (e) {
    fail("header is not valid UTF-8", undefined, e);
  }
  let header: Json;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message})`, undefined, e);
  }
  if (!isPlainObject(header)) fail("header must be a JSON object");
  const head = header; // narrowed to an object by fail()

  const metadata: Record<string, string> = Object.create(null);
  const meta = head["__metadata__"];
  if (meta !== undefined) {
    if (!isPlainObject(meta)) fail("__metadata__ must be an object of string values");
    for (const [k, v] of Object.entries(meta)) {
      if (typeof v !== "string")
        fail(`__metadata__ value for key ${JSON.stringify(k)} must be a string, got ${JSON.stringify(v)}`);
      metadata[k] = v;
    }
  }

  const dataLen = size - dataStart;
  const tensors = new Map<string, TensorInfo>();
  for (const [name, entry] of Object.entries(head)) {
    if (name === "__metadata__") continue;
    const t = checkEntry(entry);
    if (typeof t === "string") fail(t, name);
    tensors.set(name, {
      name,
      dtype: t.dtype,
      shape: t.shape,
      begin: dataStart + t.begin,
      end: dataStart + t.end,
    });
  }

  const sorted = [...tensors.values()].sort((x, y) => x.begin - y.begin || x.end - y.end); // layout order
  const last = sorted.reduce<TensorInfo | undefined>((m, t) => (m && m.end >= t.end ? m : t), undefined);
  if (last && last.end > size) {
    fail(
      `file is truncated: data section is ${dataLen} bytes but this tensor ends at ${last.end - dataStart}`,
      last.name,
    );
  }
  const range = (x: TensorInfo) => `[${x.begin - dataStart}, ${x.end - dataStart})`;
  let reach: TensorInfo | undefined; // the tensor reaching furthest so far (zero-size tensors overlap nothing)
  for (const t of sorted) {
    if (t.begin === t.end) continue;
    if (reach && t.begin < reach.end) {
      fail(`data ${range(t)} overlaps tensor ${JSON.stringify(reach.name)} at ${range(reach)}`, t.name);
    }
    if (!reach || t.end > reach.end) reach = t;
  }
  return { tensors: new Map(sorted.map((t) => [t.name, t])), metadata };
}

export class SafetensorsFile {
  private constructor(
    /** The whole file in memory (parse), or undefined when tensors are read from `source` (open). */
    private readonly bytes: Uint8Array | undefined,
    private readonly source: ByteSource | undefined,
    readonly fileName: string,
    private readonly tensors: Map<string, TensorInfo>,
    /** The `__metadata__` map ({} when absent). */
    readonly metadata: Record<string, string>,
  ) {}

  /** Parses and fully validates the header. `bytes` is kept (not copied); `fileName` is only used in errors. */
  static parse(bytes: Uint8Array, fileName = "<memory>"): SafetensorsFile {
    const read = (dst: Uint8Array, at: number) => dst.set(bytes.subarray(at, at + dst.length));
    const { tensors, metadata } = parseHeader(bytes.length, read, fileName);
    return new SafetensorsFile(bytes, undefined, fileName, tensors, metadata);
  }

  /**
   * Reads and fully validates the header from `source` (the same checks as parse); tensor data stays in
   * the source and is read when asked for (readInto: straight into the caller's buffer).
   */
  static open(source: ByteSource, fileName = "<source>"): SafetensorsFile {
    const size = source.byteLength;
    if (!isNonNegInt(size))
      throw new SafetensorsError(fileName, `byte source has an invalid byteLength ${String(size)}`);
    const { tensors, metadata } = parseHeader(size, (dst, at) => source.read(dst, at), fileName);
    return new SafetensorsFile(undefined, source, fileName, tensors, metadata);
  }

  /** Tensor names in data layout order. */
  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new SafetensorsError(this.fileName, "not found in file", name);
    return { ...t, shape: [...t.shape] };
  }

  /** The tensor's bytes: a zero-copy view (parse), or a new array read from the source (open). */
  raw(name: string): Uint8Array {
    const t = this.info(name);
    if (this.bytes) return this.bytes.subarray(t.begin, t.end);
    const out = new Uint8Array(t.end - t.begin);
    this.readRange(out, t);
    return out;
  }

  /**
   * Copies the tensor's stored bytes into `dst` (exactly its byte size), e.g. straight into wasm
   * memory: from the file bytes, or read from the source with no intermediate copy.
   */
  readInto(name: string, dst: Uint8Array): void {
    const t = this.info(name);
    if (dst.length !== t.end - t.begin)
      throw new SafetensorsError(
        this.fileName,
        `readInto: destination has ${dst.length} bytes, the tensor has ${t.end - t.begin}`,
        name,
      );
    if (this.bytes) dst.set(this.bytes.subarray(t.begin, t.end));
    else this.readRange(dst, t);
  }

  /**
   * F32: zero-copy view when the data is 4-byte aligned in memory, else a copy (do not mutate; `.slice()` it
   * if you need your own); a new array from a source. F16/BF16: a new array, converted exactly
   * (subnormals, ±inf and NaN included).
   */
  float32(name: string): Float32Array {
    const t = this.expect(name, ["F32", "F16", "BF16"], "float32");
    if (t.dtype === "F32") return this.typed(t, Float32Array);
    const out = new Float32Array((t.end - t.begin) / 2);
    this.float32Into(name, out);
    return out;
  }

  /** Writes the tensor as f32 into `dst` (its element count): F32 copied, F16/BF16 converted exactly. */
  float32Into(name: string, dst: Float32Array): void {
    const t = this.expect(name, ["F32", "F16", "BF16"], "float32Into");
    const n = (t.end - t.begin) / DTYPE_BYTES[t.dtype];
    if (dst.length !== n)
      throw new SafetensorsError(
        this.fileName,
        `float32Into: destination has ${dst.length} values, the tensor has ${n}`,
        name,
      );
    if (t.dtype === "F32") {
      this.readInto(name, new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength));
      return;
    }
    const b = this.raw(name);
    const bits = new Uint16Array(n);
    for (let i = 0, p = 0; i < n; i++, p += 2) bits[i] = b[p] | (b[p + 1] << 8);
    if (t.dtype === "F16") float16BitsToFloat32(bits, dst);
    else bfloat16BitsToFloat32(bits, dst);
  }

  /** I8 data; zero-copy view (a new array from a source). */
  int8(name: string): Int8Array {
    return this.typed(this.expect(name, ["I8"], "int8"), Int8Array);
  }

  /** U8 data; zero-copy view (a new array from a source). */
  uint8(name: string): Uint8Array {
    return this.raw(this.expect(name, ["U8"], "uint8").name);
  }

  /** I32 data; zero-copy view when aligned, else a copy. */
  int32(name: string): Int32Array {
    return this.typed(this.expect(name, ["I32"], "int32"), Int32Array);
  }

  /** I64 data; zero-copy view when aligned, else a copy. */
  int64(name: string): BigInt64Array {
    return this.typed(this.expect(name, ["I64"], "int64"), BigInt64Array);
  }

  /** I64 data as plain numbers; throws if any value is outside ±Number.MAX_SAFE_INTEGER. */
  int64AsNumbers(name: string): number[] {
    const values = this.int64(name);
    const max = BigInt(Number.MAX_SAFE_INTEGER);
    return Array.from(values, (v, i) => {
      if (v > max || v < -max) {
        throw new SafetensorsError(
          this.fileName,
          `value ${v} at index ${i} is outside the safe integer range`,
          name,
        );
      }
      return Number(v);
    });
  }

  private expect(name: string, dtypes: DType[], method: string): TensorInfo {
    const t = this.info(name);
    if (!dtypes.includes(t.dtype)) {
      throw new SafetensorsError(
        this.fileName,
        `is ${t.dtype}, but ${method}() reads ${dtypes.join(", ")}`,
        name,
      );
    }
    return t;
  }

  private typed<T>(
    t: TensorInfo,
    Ctor: { new (buffer: ArrayBufferLike, byteOffset: number, length: number): T; BYTES_PER_ELEMENT: number },
  ): T {
    const size = Ctor.BYTES_PER_ELEMENT;
    const length = (t.end - t.begin) / size;
    if (!this.bytes) return new Ctor(this.raw(t.name).buffer, 0, length);
    const offset = this.bytes.byteOffset + t.begin;
    if (offset % size === 0) return new Ctor(this.bytes.buffer, offset, length);
    return new Ctor(this.bytes.slice(t.begin, t.end).buffer, 0, length);
  }

  /** Reads the tensor's bytes from the source into dst; a failing source is named in the error. */
  private readRange(dst: Uint8Array, t: TensorInfo): void {
    try {
      this.source!.read(dst, t.begin);
    } catch (e) {
      throw new SafetensorsError(this.fileName, `cannot read its data: ${(e as Error).message}`, t.name, {
        cause: e,
      });
    }
  }
}

/**
 * Serializes tensors like the Python library: compact JSON header (`__metadata__` first, keys sorted; omitted
 * when empty) padded with spaces to a multiple of 8 bytes, then the data laid out by dtype (widest first, in the
 * library's order I64, F32, I32, BF16, F16, I8, U8) and by name, so every tensor is naturally aligned.
 */
export function writeSafetensors(
  tensors: Record<string, TensorInput>,
  metadata?: Record<string, string>,
  fileName = "<memory>",
): Uint8Array {
  const entries = Object.entries(tensors).map(([name, t]) => {
    const size = checkDTypeShape(t.dtype, t.shape);
    if (typeof size === "string") throw new SafetensorsError(fileName, size, name);
    if (name === "__metadata__") throw new SafetensorsError(fileName, "name is reserved", name);
    if (!ArrayBuffer.isView(t.data) || t.data.byteLength !== size) {
      const got = ArrayBuffer.isView(t.data) ? t.data.byteLength : "no ArrayBufferView";
      throw new SafetensorsError(
        fileName,
        `shape ${JSON.stringify(t.shape)} × ${t.dtype} needs ${size} bytes but data has ${got}`,
        name,
      );
    }
    return { name, ...t };
  });
  entries.sort((a, b) => DTYPE_RANK[b.dtype] - DTYPE_RANK[a.dtype] || compareCodePoints(a.name, b.name));

  // Built by hand: a JS object would reorder integer-like keys such as "0".
  const parts: string[] = [];
  const metaKeys = Object.keys(metadata ?? {}).sort(compareCodePoints);
  if (metaKeys.length > 0) {
    const meta = metaKeys.map((k) => {
      const v = metadata![k];
      if (typeof v !== "string")
        throw new SafetensorsError(
          fileName,
          `__metadata__ value for key ${JSON.stringify(k)} must be a string`,
        );
      return `${JSON.stringify(k)}:${JSON.stringify(v)}`;
    });
    parts.push(`"__metadata__":{${meta.join(",")}}`);
  }
  let offset = 0;
  for (const t of entries) {
    const info = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    parts.push(`${JSON.stringify(t.name)}:${JSON.stringify(info)}`);
    offset += t.data.byteLength;
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const headerLen = Math.ceil(json.length / 8) * 8;

  const out = new Uint8Array(8 + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let p = 8 + headerLen;
  for (const t of entries) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), p);
    p += t.data.byteLength;
  }
  return out;
}

/** Decodes IEEE binary16 bit patterns into `out` (exact: every half is representable as a float). */
export function float16BitsToFloat32(
  bits: Uint16Array,
  out: Float32Array = new Float32Array(bits.length),
): Float32Array {
  const u32 = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) {
      out[i] = (h & 0x8000 ? -mant : mant) * 2 ** -24; // zero or subnormal (-0 for 0x8000)
    } else {
      const e32 = exp === 0x1f ? 0xff : exp + 112; // inf/NaN keep their mantissa (NaN payload)
      u32[i] = ((h & 0x8000) << 16) | (e32 << 23) | (mant << 13);
    }
  }
  return out;
}

/** Decodes bfloat16 bit patterns (the top half of a float32) into `out`. */
export function bfloat16BitsToFloat32(
  bits: Uint16Array,
  out: Float32Array = new Float32Array(bits.length),
): Float32Array {
  const u32 = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < bits.length; i++) u32[i] = bits[i] << 16;
  return out;
}

/** Rounds `m >>> shift` to nearest, ties to even. */
function roundShift(m: number, shift: number): number {
  const q = m >>> shift;
  const rem = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rem > half || (rem === half && q & 1) ? q + 1 : q;
}

/** float32 -> IEEE binary16 bits, round to nearest even; overflow gives ±inf, NaN stays (quiet) NaN. */
export function float32ToFloat16(x: Float32Array): Uint16Array {
  const u32 = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const f = u32[i];
    const sign = (f >>> 16) & 0x8000;
    const exp = (f >>> 23) & 0xff;
    const mant = f & 0x7fffff;
    const e = exp - 112; // rebias 127 -> 15
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
    } else if (e <= 0) {
      out[i] = e < -10 ? sign : sign | roundShift(mant | 0x800000, 14 - e); // subnormal; may round up to 0x400
    } else {
      out[i] = sign | Math.min(roundShift((e << 23) | mant, 13), 0x7c00); // carry into exponent is correct
    }
  }
  return out;
}

/** float32 -> bfloat16 bits, round to nearest even; NaN stays (quiet) NaN. */
export function float32ToBFloat16(x: Float32Array): Uint16Array {
  const u32 = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const f = u32[i];
    const nan = (f & 0x7fffffff) > 0x7f800000;
    out[i] = nan ? (f >>> 16) | 0x40 : (f + 0x7fff + ((f >>> 16) & 1)) >>> 16;
  }
  return out;
}
