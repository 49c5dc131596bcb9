// Public host API of edgeformer: the kernel runtime (works in Workers, browsers, Deno and Node) and
// the safetensors reader/writer. Node-only helpers live in "edgeformer/node" (src/runtime/node.ts).

export {
  type DType,
  SafetensorsError,
  SafetensorsFile,
  type TensorInfo,
  writeSafetensors,
} from "./io/safetensors.ts";
export { Arena } from "./runtime/arena.ts";
export { Epilogue, type KernelExports, MaskKind } from "./runtime/kernels.ts";
export {
  createRuntime,
  instantiateKernels,
  KernelRuntime,
  type RuntimeOptions,
  selfCheck,
} from "./runtime/load.ts";
