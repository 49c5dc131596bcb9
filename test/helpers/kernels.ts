// Loads every build of the kernel module the engine can run, so each test runs on all of them:
// "simd" (release), "relaxed" (when the engine validates it) and "debug" (checked build).
import { readFileSync } from "node:fs";
import { createRuntime, instantiateKernels, KernelRuntime } from "../../src/runtime/load.ts";
import { WASM_DEBUG_URL, WASM_RELAXED_URL, WASM_URL } from "../../src/runtime/node.ts";

export interface Build {
  name: string;
  rt: KernelRuntime;
}

export async function loadBuilds(): Promise<Build[]> {
  const simdBytes = readFileSync(WASM_URL);
  const relaxedBytes = readFileSync(WASM_RELAXED_URL);
  const builds: Build[] = [
    { name: "simd", rt: await createRuntime({ simd: simdBytes, relaxed: false }) },
    { name: "debug", rt: new KernelRuntime(await instantiateKernels(readFileSync(WASM_DEBUG_URL)), false) },
  ];
  if (WebAssembly.validate(relaxedBytes)) {
    builds.push({ name: "relaxed", rt: new KernelRuntime(await instantiateKernels(relaxedBytes), true) });
  }
  return builds;
}

export function relaxedSupported(): boolean {
  return WebAssembly.validate(readFileSync(WASM_RELAXED_URL));
}
