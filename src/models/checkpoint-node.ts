// Reads a Hugging Face model folder in Node: config.json and the safetensors weights (a single
// model.safetensors, or shards listed in model.safetensors.index.json), with clear errors naming the
// file that is missing or broken. readTensors holds each file in memory; openTensors reads only the
// headers and leaves the data on disk, where a model copies each tensor from straight into wasm memory
// (the faster load: no whole-file buffer to allocate, fill and copy again).
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type ByteSource, SafetensorsFile } from "../io/safetensors.ts";
import { CheckpointError, TensorStore } from "./tensors.ts";

async function readOrFail(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CheckpointError(
      `${what} ${path}: ${code === "ENOENT" ? "file not found" : (err as Error).message}`,
    );
  }
}

export async function readConfig(dir: string): Promise<Record<string, unknown>> {
  const path = join(dir, "config.json");
  const text = (await readOrFail(path, "model config")).toString("utf8");
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new CheckpointError(`config.json in ${dir} is not valid JSON: ${(err as Error).message}`);
  }
}

/** The weight files of a folder: model.safetensors, or the shards model.safetensors.index.json lists. */
async function weightFiles(dir: string): Promise<string[]> {
  const index = join(dir, "model.safetensors.index.json");
  const indexText = await readFile(index, "utf8").catch(() => undefined);
  if (indexText === undefined) return ["model.safetensors"];
  let parsed: { weight_map?: Record<string, string> };
  try {
    parsed = JSON.parse(indexText);
  } catch (err) {
    throw new CheckpointError(`${index} is not valid JSON: ${(err as Error).message}`);
  }
  const files = [...new Set(Object.values(parsed.weight_map ?? {}))];
  if (files.length === 0) throw new CheckpointError(`${index} lists no weight files`);
  return files;
}

/** Tensors of the folder's checkpoint, plus any extra safetensors files given (e.g. an adapter). */
export async function readTensors(dir: string, extraFiles: string[] = []): Promise<TensorStore> {
  const parsed: SafetensorsFile[] = [];
  for (const f of [...(await weightFiles(dir)).map((f) => join(dir, f)), ...extraFiles]) {
    const bytes = await readOrFail(f, "weights");
    parsed.push(
      SafetensorsFile.parse(
        new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
        f.split("/").pop()!,
      ),
    );
  }
  return new TensorStore(parsed);
}

/**
 * Like readTensors, but only the headers are read (and checked) now: each tensor is read from its
 * file when a model copies it into wasm memory (TensorStore.fromSources). The files must stay in
 * place, unchanged, until the model is built (a changed file is an error, not wrong weights).
 */
export async function openTensors(dir: string, extraFiles: string[] = []): Promise<TensorStore> {
  const files = [...(await weightFiles(dir)).map((f) => join(dir, f)), ...extraFiles];
  return TensorStore.fromSources(files.map((f) => ({ source: fileSource(f), name: f.split("/").pop()! })));
}

/**
 * A file on disk as a ByteSource. A read opens the file (checking that its size and modification time
 * are those seen here) unless it is open already, and reads with pread; the descriptor stays open until
 * a zero-delay timer closes it, so a model's load, which reads every tensor in one synchronous run,
 * opens the file once and sees one version of it, and no descriptor is left open.
 */
export function fileSource(path: string): ByteSource {
  const open = (what: string): number => {
    try {
      return openSync(path, "r");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new CheckpointError(
        `${what} ${path}: ${code === "ENOENT" ? "file not found" : (err as Error).message}`,
      );
    }
  };
  const first = open("weights");
  let size: number;
  let mtimeMs: number;
  try {
    ({ size, mtimeMs } = fstatSync(first));
  } finally {
    closeSync(first);
  }
  let held: number | undefined;
  const fd = (): number => {
    if (held !== undefined) return held;
    const f = open("reading weights from");
    try {
      const st = fstatSync(f);
      if (st.size !== size || st.mtimeMs !== mtimeMs)
        throw new CheckpointError(`${path} changed on disk after it was opened (size ${size} → ${st.size})`);
    } catch (err) {
      closeSync(f);
      throw err;
    }
    held = f;
    setTimeout(() => {
      held = undefined;
      closeSync(f);
    }, 0).unref();
    return f;
  };
  return {
    byteLength: size,
    read(dst: Uint8Array, position: number): void {
      const f = fd();
      for (let done = 0; done < dst.length; ) {
        let n: number;
        try {
          n = readSync(f, dst, done, dst.length - done, position + done);
        } catch (err) {
          // e.g. EISDIR, EIO: Node's message does not name the file
          throw new CheckpointError(`reading weights from ${path}: ${(err as Error).message}`);
        }
        if (n === 0) throw new CheckpointError(`${path}: unexpected end of file at byte ${position + done}`);
        done += n;
      }
    },
  };
}
