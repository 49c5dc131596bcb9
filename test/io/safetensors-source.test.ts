// Tests for reading safetensors from a ByteSource (SafetensorsFile.open, TensorStore.fromSources) and
// from disk (fileSource / openTensors): the same tensors, metadata and errors as parsing the bytes,
// readInto / float32Into / int8Into straight into a caller's buffer, and clear errors for corrupt,
// truncated, changed and missing files and for a failing source.
import { mkdir, mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  type ByteSource,
  float32ToBFloat16,
  float32ToFloat16,
  SafetensorsError,
  SafetensorsFile,
  type TensorInput,
  writeSafetensors,
} from "../../src/io/safetensors.ts";
import { fileSource, openTensors, readTensors } from "../../src/models/checkpoint-node.ts";
import { CheckpointError, TensorStore } from "../../src/models/tensors.ts";

/** An in-memory ByteSource that counts its reads (and can be made to fail). */
function memorySource(bytes: Uint8Array, failAt?: number): ByteSource & { reads: number } {
  return {
    byteLength: bytes.length,
    reads: 0,
    read(dst: Uint8Array, position: number) {
      this.reads++;
      if (failAt !== undefined && position >= failAt) throw new Error("disk on fire");
      if (position + dst.length > bytes.length) throw new Error("read past the end");
      dst.set(bytes.subarray(position, position + dst.length));
    },
  };
}

const input: Record<string, TensorInput> = {
  "f32.odd": {
    dtype: "F32",
    shape: [3, 5],
    data: Float32Array.from({ length: 15 }, (_, i) => (i - 7) * 0.37),
  },
  f16: { dtype: "F16", shape: [4], data: float32ToFloat16(Float32Array.of(0, -0, 1.5, -65504)) },
  bf16: { dtype: "BF16", shape: [3], data: float32ToBFloat16(Float32Array.of(1, -2, 0.5)) },
  i8: { dtype: "I8", shape: [5, 1], data: Int8Array.of(-128, -1, 0, 1, 127) },
  u8: { dtype: "U8", shape: [3], data: Uint8Array.of(0, 128, 255) },
  i32: { dtype: "I32", shape: [2], data: Int32Array.of(-(2 ** 31), 123456789) },
  i64: { dtype: "I64", shape: [2], data: BigInt64Array.of(-42n, 2n ** 53n - 1n) },
  empty: { dtype: "F32", shape: [0, 4], data: new Float32Array(0) },
};
const metadata = { format: "pt", note: "ünïcode" };
const bytes = writeSafetensors(input, metadata);

describe("SafetensorsFile.open (a ByteSource)", () => {
  const parsed = SafetensorsFile.parse(bytes, "m.safetensors");
  const source = memorySource(bytes);
  const opened = SafetensorsFile.open(source, "m.safetensors");

  it("reads only the header when opened, then the same names, infos, metadata and values as parse", () => {
    expect(source.reads).toBe(2); // the length prefix and the header
    expect(opened.names()).toEqual(parsed.names());
    expect(opened.metadata).toEqual(parsed.metadata);
    for (const n of parsed.names()) expect(opened.info(n)).toEqual(parsed.info(n));
    for (const n of ["f32.odd", "f16", "bf16", "empty"])
      expect(Array.from(opened.float32(n))).toEqual(Array.from(parsed.float32(n)));
    expect(Array.from(opened.int8("i8"))).toEqual([-128, -1, 0, 1, 127]);
    expect(Array.from(opened.uint8("u8"))).toEqual([0, 128, 255]);
    expect(Array.from(opened.int32("i32"))).toEqual([-(2 ** 31), 123456789]);
    expect(opened.int64AsNumbers("i64")).toEqual([-42, 2 ** 53 - 1]);
    expect(Array.from(opened.raw("f32.odd"))).toEqual(Array.from(parsed.raw("f32.odd")));
  });

  it("readInto and float32Into fill the caller's buffer (at an offset) exactly as the bytes are stored", () => {
    for (const f of [parsed, opened]) {
      const buf = new Uint8Array(8 + 15 * 4).fill(7);
      f.readInto("f32.odd", buf.subarray(8));
      expect(Array.from(buf.subarray(0, 8))).toEqual(new Array(8).fill(7));
      expect(Array.from(buf.subarray(8))).toEqual(Array.from(parsed.raw("f32.odd")));
      const out = new Float32Array(4 + 4);
      f.float32Into("f16", out.subarray(4));
      expect(Array.from(out)).toEqual([0, 0, 0, 0, 0, -0, 1.5, -65504]);
      const b = new Float32Array(3);
      f.float32Into("bf16", b);
      expect(Array.from(b)).toEqual([1, -2, 0.5]);
      expect(() => f.readInto("f32.odd", new Uint8Array(59))).toThrow(
        /tensor "f32.odd": readInto: destination has 59 bytes, the tensor has 60/,
      );
      expect(() => f.float32Into("f16", new Float32Array(3))).toThrow(
        /destination has 3 values, the tensor has 4/,
      );
      expect(() => f.float32Into("i8", new Float32Array(5))).toThrow(/is I8, but float32Into\(\) reads F32/);
    }
  });

  it("gives the same errors as parse for corrupt and truncated files", () => {
    const header = new TextEncoder().encode('{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}');
    const file = new Uint8Array(8 + header.length + 16);
    new DataView(file.buffer).setBigUint64(0, BigInt(header.length), true);
    file.set(header, 8);
    const badJson = file.slice();
    badJson[9] = 0x7b; // "{{"
    const cases = [new Uint8Array(5), file.subarray(0, 12), file.subarray(0, file.length - 4), badJson];
    for (const c of cases) {
      let want = "";
      try {
        SafetensorsFile.parse(c, "bad.safetensors");
      } catch (e) {
        want = (e as Error).message;
      }
      expect(want).not.toBe("");
      expect(() => SafetensorsFile.open(memorySource(c), "bad.safetensors")).toThrow(want);
    }
    expect(() => SafetensorsFile.open({ byteLength: -1, read() {} }, "x")).toThrow(
      /x: byte source has an invalid byteLength -1/,
    );
  });

  it("names the file and tensor when the source fails to read tensor data", () => {
    const failing = SafetensorsFile.open(memorySource(bytes, 200), "m.safetensors");
    const err = (() => {
      try {
        failing.float32("f32.odd");
      } catch (e) {
        return e as SafetensorsError;
      }
    })();
    expect(err).toBeInstanceOf(SafetensorsError);
    expect(err?.message).toMatch(/^m.safetensors: tensor "f32.odd": cannot read its data: disk on fire/);
  });

  it("TensorStore.fromSources: float32Into / int8Into equal the in-memory store's tensors", () => {
    const a = TensorStore.fromBytes([{ bytes, name: "m" }]);
    const b = TensorStore.fromSources([{ source: memorySource(bytes), name: "m" }]);
    const f = new Float32Array(15);
    b.float32Into("f32.odd", f);
    expect(Array.from(f)).toEqual(Array.from(a.float32("f32.odd")));
    const q = new Int8Array(5);
    b.int8Into("i8", q);
    expect(Array.from(q)).toEqual(Array.from(a.int8("i8")));
    expect(() => b.int8Into("f32.odd", new Int8Array(15))).toThrow(CheckpointError);
    expect(() => b.float32Into("i8", new Float32Array(5))).toThrow(/is I8, expected a float tensor/);
  });
});

describe("files on disk (fileSource, openTensors)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "edgeformer-source-"));
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("openTensors reads the same tensors as readTensors", async () => {
    await writeFile(join(dir, "model.safetensors"), bytes);
    const a = await readTensors(dir);
    const b = await openTensors(dir);
    expect(b.names()).toEqual(a.names());
    for (const n of ["f32.odd", "f16", "bf16"])
      expect(Array.from(b.float32(n))).toEqual(Array.from(a.float32(n)));
    expect(Array.from(b.int8("i8"))).toEqual(Array.from(a.int8("i8")));
  });

  it("reports a missing file, and a file truncated or replaced after it was opened", async () => {
    await expect(openTensors(join(dir, "nowhere"))).rejects.toThrow(
      /weights .*nowhere\/model.safetensors: file not found/,
    );
    const path = join(dir, "changing.safetensors");
    await writeFile(path, bytes);
    const f = SafetensorsFile.open(fileSource(path), "changing.safetensors");
    expect(Array.from(f.int8("i8"))).toEqual([-128, -1, 0, 1, 127]);
    await new Promise((r) => setTimeout(r, 5)); // the descriptor a load holds is closed by a timer
    await truncate(path, bytes.length - 8);
    expect(() => f.float32("f32.odd")).toThrow(
      /changing.safetensors: tensor "f32.odd": cannot read its data: .*changed on disk after it was opened/,
    );
    await rm(path);
    expect(() => f.float32("f32.odd")).toThrow(/cannot read its data: .*file not found/);
  });

  it("names the file when reading it fails (a folder where model.safetensors should be)", async () => {
    const sub = join(dir, "folder");
    await mkdir(join(sub, "model.safetensors"), { recursive: true });
    const err = await openTensors(sub).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err?.message).toMatch(/reading weights from .*folder\/model\.safetensors: EISDIR/);
  });
});
