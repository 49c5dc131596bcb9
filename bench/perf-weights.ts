// Our side of the perf models' weights: a TensorStore generated from bench/perf/<model>/
// weights_manifest.json (the same numbers onnxruntime's data files are written from, see
// ort-models.ts), and that checkpoint on disk as a model folder (config.json + model.safetensors, f32
// or our int8 format) for the benchmarks that load a model the way a user does, in a child process
// (startup.ts, e2e.ts). Folders live in bench/.cache/ours/<model>/<dtype>/ and are written once.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateParam, type WeightsManifest } from "../src/io/manifest-weights.ts";
import { writeSafetensors } from "../src/io/safetensors.ts";
import { quantizeCheckpoint } from "../src/models/quantize.ts";
import { TensorStore } from "../src/models/tensors.ts";
import { loadRuntime } from "../src/runtime/node.ts";
import { type DType, PERF_CACHE_DIR, PERF_SRC_DIR, type PerfModelName } from "./ort-models.ts";

export function perfFile(model: PerfModelName, file: string): string {
  return join(PERF_SRC_DIR, model, file);
}

/** The f32 safetensors bytes of a perf model's generated weights. */
export function perfSafetensors(model: PerfModelName): Uint8Array {
  const manifest = JSON.parse(
    readFileSync(perfFile(model, "weights_manifest.json"), "utf8"),
  ) as WeightsManifest;
  const tensors: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
  for (const p of manifest.params) tensors[p.name] = { dtype: "F32", shape: p.shape, data: generateParam(p) };
  return writeSafetensors(tensors);
}

export function perfStore(model: PerfModelName): TensorStore {
  return TensorStore.fromBytes([{ bytes: perfSafetensors(model), name: `${model}.safetensors` }]);
}

function writeAtomic(path: string, bytes: Uint8Array | string): void {
  const tmp = `${path}.partial-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

/**
 * bench/.cache/ours/<model>/<dtype>/ with config.json and model.safetensors (int8: our per-row int8
 * checkpoint, quantized by the kernels' own quantizer as `edgeformer quantize` does). Returns the folder.
 */
export async function oursCheckpointDir(model: PerfModelName, dtype: DType): Promise<string> {
  const dir = join(PERF_CACHE_DIR, "ours", model, dtype);
  const weights = join(dir, "model.safetensors");
  if (existsSync(weights) && existsSync(join(dir, "config.json"))) return dir;
  mkdirSync(dir, { recursive: true });
  const f32 = perfSafetensors(model);
  if (dtype === "f32") writeAtomic(weights, f32);
  else {
    const rt = await loadRuntime({ relaxed: false });
    const q = quantizeCheckpoint(rt, TensorStore.fromBytes([{ bytes: f32, name: "model.safetensors" }]));
    writeAtomic(weights, writeSafetensors(q.tensors, q.metadata));
  }
  writeAtomic(join(dir, "config.json"), readFileSync(perfFile(model, "config.json")));
  return dir;
}
