// A checkpoint's tensors by Hugging Face name, possibly spread over several safetensors files, plus the
// check that the names and shapes a model expects are exactly what the checkpoint holds: missing,
// unexpected and mis-shaped tensors are reported together, by name, in one clear error. A store holds
// files in memory (fromBytes) or byte sources read on demand (fromSources: a model then copies each
// tensor straight from the file into wasm memory, with no whole-file buffer).
import { type ByteSource, type DType, SafetensorsFile } from "../io/safetensors.ts";

export class CheckpointError extends Error {
  override name = "CheckpointError";
}

export class TensorStore {
  private readonly owner = new Map<string, SafetensorsFile>();

  constructor(files: SafetensorsFile[]) {
    for (const f of files) {
      for (const n of f.names()) {
        const prev = this.owner.get(n);
        if (prev) throw new CheckpointError(`tensor "${n}" is in both ${prev.fileName} and ${f.fileName}`);
        this.owner.set(n, f);
      }
    }
  }

  static fromBytes(files: { bytes: Uint8Array; name: string }[]): TensorStore {
    return new TensorStore(files.map((f) => SafetensorsFile.parse(f.bytes, f.name)));
  }

  /**
   * Files whose tensors are read from their sources when a model needs them (each header is read and
   * checked now). Loading from a source skips holding the whole file in memory: the fastest way to
   * load a model where a file can be read at an offset (Node: openTensors in checkpoint-node.ts).
   */
  static fromSources(files: { source: ByteSource; name: string }[]): TensorStore {
    return new TensorStore(files.map((f) => SafetensorsFile.open(f.source, f.name)));
  }

  names(): string[] {
    return [...this.owner.keys()];
  }

  has(name: string): boolean {
    return this.owner.has(name);
  }

  private file(name: string): SafetensorsFile {
    const f = this.owner.get(name);
    if (!f) throw new CheckpointError(`checkpoint has no tensor "${name}"`);
    return f;
  }

  shape(name: string): number[] {
    return this.file(name).info(name).shape;
  }

  dtype(name: string): DType {
    return this.file(name).info(name).dtype;
  }

  /** The tensor as f32 (F16/BF16 converted). */
  float32(name: string): Float32Array {
    return this.floatFile(name).float32(name);
  }

  /**
   * Writes the tensor as f32 into `dst` (its element count): F32 copied, F16/BF16 converted; read
   * straight from the file or source. A subclass that overrides float32 (an overlay) is copied from.
   */
  float32Into(name: string, dst: Float32Array): void {
    if (this.float32 === TensorStore.prototype.float32) {
      this.floatFile(name).float32Into(name, dst);
      return;
    }
    const src = this.float32(name);
    if (src.length !== dst.length)
      throw new RangeError(
        `float32Into: tensor "${name}" has ${src.length} values, destination ${dst.length}`,
      );
    dst.set(src);
  }

  private floatFile(name: string): SafetensorsFile {
    const f = this.file(name);
    const dt = f.info(name).dtype;
    if (dt !== "F32" && dt !== "F16" && dt !== "BF16") {
      throw new CheckpointError(`${f.fileName}: tensor "${name}" is ${dt}, expected a float tensor`);
    }
    return f;
  }

  int8(name: string): Int8Array {
    return this.file(name).int8(name);
  }

  /** Copies the I8 tensor into `dst` (its element count), e.g. straight into wasm memory (as float32Into). */
  int8Into(name: string, dst: Int8Array): void {
    if (this.int8 === TensorStore.prototype.int8) {
      const f = this.file(name);
      const dt = f.info(name).dtype;
      if (dt !== "I8") throw new CheckpointError(`${f.fileName}: tensor "${name}" is ${dt}, expected I8`);
      f.readInto(name, new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength));
      return;
    }
    const src = this.int8(name);
    if (src.length !== dst.length)
      throw new RangeError(`int8Into: tensor "${name}" has ${src.length} values, destination ${dst.length}`);
    dst.set(src);
  }

  /** Source file name of a tensor, for error messages. */
  fileOf(name: string): string {
    return this.file(name).fileName;
  }
}

/**
 * Checks the store against the expected names → shapes. `optional` names may be absent; `ignored`
 * names (e.g. heads this architecture does not use) may be present. Throws one error listing every
 * problem.
 */
export function checkTensors(
  store: TensorStore,
  expected: Map<string, number[]>,
  opts: { optional?: Set<string>; ignored?: (name: string) => boolean; what?: string } = {},
): void {
  const missing: string[] = [];
  const misshaped: string[] = [];
  for (const [name, shape] of expected) {
    if (!store.has(name)) {
      if (!opts.optional?.has(name)) missing.push(name);
      continue;
    }
    const got = store.shape(name);
    if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
      misshaped.push(`${name} is [${got.join(",")}], expected [${shape.join(",")}]`);
    }
  }
  const unexpected = store.names().filter((n) => !expected.has(n) && !opts.ignored?.(n));
  const problems: string[] = [];
  const list = (xs: string[]) =>
    xs.length > 8 ? `${xs.slice(0, 8).join(", ")}, … (${xs.length} in all)` : xs.join(", ");
  if (missing.length) problems.push(`missing tensors: ${list(missing)}`);
  if (misshaped.length) problems.push(`mis-shaped tensors: ${list(misshaped)}`);
  if (unexpected.length) problems.push(`unexpected tensors: ${list(unexpected)}`);
  if (problems.length) throw new CheckpointError(`${opts.what ?? "checkpoint"}: ${problems.join("; ")}`);
}
