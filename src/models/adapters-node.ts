// Adapters in Node: reading an adapter folder (adapter_config.json, validated, + adapter.safetensors)
// and loading a base model folder with an adapter on top as a ready pipeline (src/tasks/load.ts).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { SafetensorsFile } from "../io/safetensors.ts";
import type { KernelRuntime } from "../runtime/load.ts";
import { type FileReader, type LoadedModel, type LoadOptions, loadModel } from "../tasks/load.ts";
import {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  type AdapterConfig,
  readAdapterConfig,
} from "./adapters.ts";
import { sharedRuntime } from "./load-node.ts";
import { CheckpointError, TensorStore } from "./tensors.ts";

/** A FileReader over a local folder (undefined for files that do not exist). */
export function folderReader(dir: string): FileReader {
  return async (name) => {
    try {
      const b = await readFile(join(dir, name));
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  };
}

/** An adapter folder's validated config and its tensors. */
export async function readAdapterDir(dir: string): Promise<{ config: AdapterConfig; tensors: TensorStore }> {
  const read = folderReader(dir);
  const cfgBytes = await read(ADAPTER_CONFIG_FILE);
  if (!cfgBytes)
    throw new CheckpointError(`${join(dir, ADAPTER_CONFIG_FILE)}: file not found (not an adapter folder?)`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(cfgBytes));
  } catch (e) {
    throw new CheckpointError(`${join(dir, ADAPTER_CONFIG_FILE)} is not valid JSON: ${(e as Error).message}`);
  }
  const config = readAdapterConfig(json);
  const bytes = await read(ADAPTER_WEIGHTS_FILE);
  if (!bytes) throw new CheckpointError(`${join(dir, ADAPTER_WEIGHTS_FILE)}: file not found`);
  return { config, tensors: new TensorStore([SafetensorsFile.parse(bytes, ADAPTER_WEIGHTS_FILE)]) };
}

/** Loads a base model folder, optionally with an adapter folder on top, as a BERT or T5 pipeline. */
export async function loadModelDir(
  dir: string,
  opts: Omit<LoadOptions, "adapter"> & { adapter?: string; runtime?: KernelRuntime } = {},
): Promise<LoadedModel> {
  const rt = opts.runtime ?? (await sharedRuntime());
  const { adapter, runtime: _, ...rest } = opts;
  return loadModel(rt, folderReader(dir), {
    warmUp: false,
    ...rest,
    adapter: adapter === undefined ? undefined : folderReader(adapter),
  });
}
