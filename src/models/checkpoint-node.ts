// Reads a Hugging Face model folder in Node: config.json and the safetensors weights (a single
// model.safetensors, or shards listed in model.safetensors.index.json), with clear errors naming the
// file that is missing or broken.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { SafetensorsFile } from "../io/safetensors.ts";
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

/** Tensors of the folder's checkpoint, plus any extra safetensors files given (e.g. an adapter). */
export async function readTensors(dir: string, extraFiles: string[] = []): Promise<TensorStore> {
  const index = join(dir, "model.safetensors.index.json");
  let files = ["model.safetensors"];
  const indexText = await readFile(index, "utf8").catch(() => undefined);
  if (indexText !== undefined) {
    let parsed: { weight_map?: Record<string, string> };
    try {
      parsed = JSON.parse(indexText);
    } catch (err) {
      throw new CheckpointError(`${index} is not valid JSON: ${(err as Error).message}`);
    }
    files = [...new Set(Object.values(parsed.weight_map ?? {}))];
    if (files.length === 0) throw new CheckpointError(`${index} lists no weight files`);
  }
  const parsed: SafetensorsFile[] = [];
  for (const f of [...files.map((f) => join(dir, f)), ...extraFiles]) {
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
