// Node entry point for the runtime: reads the built .wasm files shipped in build/ and creates a
// KernelRuntime (relaxed SIMD where the engine supports it, e.g. Node 22; plain SIMD on Node 20). Also
// re-exports the Node way to open a checkpoint: openTensors(dir) / fileSource(path), whose tensors a
// model reads from disk straight into wasm memory.
import { readFile } from "node:fs/promises";
import { createRuntime, type KernelRuntime, type RuntimeOptions } from "./load.ts";

export { fileSource, openTensors } from "../models/checkpoint-node.ts";

export const WASM_URL = new URL("../../build/edgeformer.wasm", import.meta.url);
export const WASM_RELAXED_URL = new URL("../../build/edgeformer-relaxed.wasm", import.meta.url);
export const WASM_DEBUG_URL = new URL("../../build/edgeformer-debug.wasm", import.meta.url);

async function readWasm(url: URL): Promise<Uint8Array> {
  try {
    return await readFile(url);
  } catch (err) {
    throw new Error(
      `cannot read ${url.pathname}: run "npm run build:wasm" first (${(err as Error).message})`,
    );
  }
}

/** Loads the kernels from build/. `build: "debug"` loads the debug build (checked, no relaxed). */
export async function loadRuntime(
  opts: { relaxed?: RuntimeOptions["relaxed"]; build?: "release" | "debug" } = {},
): Promise<KernelRuntime> {
  if (opts.build === "debug") return createRuntime({ simd: await readWasm(WASM_DEBUG_URL), relaxed: false });
  const simd = await readWasm(WASM_URL);
  const relaxedSimd = opts.relaxed === false ? undefined : await readWasm(WASM_RELAXED_URL);
  return createRuntime({ simd, relaxedSimd, relaxed: opts.relaxed });
}
