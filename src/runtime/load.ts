// Instantiates the kernel module from a compiled WebAssembly.Module (Cloudflare Workers, which refuse
// to compile bytes at run time) or from bytes (Node, browsers, Deno), and picks the relaxed-SIMD build
// only where the engine validates it and a numeric self-check against the plain build passes.
import { Arena } from "./arena.ts";
import type { KernelExports } from "./kernels.ts";

export type WasmSource = WebAssembly.Module | BufferSource;

export interface RuntimeOptions {
  /** The plain SIMD build (always required). */
  simd: WasmSource;
  /** The relaxed-SIMD build, tried first when given and `relaxed` is not false. */
  relaxedSimd?: WasmSource;
  /** "auto" (default): relaxed when it validates and passes the self-check; false: never. */
  relaxed?: "auto" | false;
}

/** One kernel instance with its memory arena. Create once per isolate / thread and reuse. */
export class KernelRuntime {
  readonly arena: Arena;

  constructor(
    readonly k: KernelExports,
    readonly relaxed: boolean,
  ) {
    this.arena = new Arena(k.memory, k.heap_base());
  }

  get memory(): WebAssembly.Memory {
    return this.k.memory;
  }
}

const imports = {
  env: {
    abort(_msg: number, _file: number, line: number, col: number): never {
      throw new Error(`edgeformer kernel abort at ${line}:${col}`);
    },
  },
};

/** Instantiates one build and returns its exports. */
export async function instantiateKernels(source: WasmSource): Promise<KernelExports> {
  if (source instanceof WebAssembly.Module) {
    const instance = await WebAssembly.instantiate(source, imports);
    return instance.exports as unknown as KernelExports;
  }
  const { instance } = await WebAssembly.instantiate(source, imports);
  return instance.exports as unknown as KernelExports;
}

/** Creates a runtime, preferring the relaxed build where it is valid and numerically sound. */
export async function createRuntime(options: RuntimeOptions): Promise<KernelRuntime> {
  const plain = await instantiateKernels(options.simd);
  if (options.relaxedSimd && options.relaxed !== false) {
    const relaxed = await tryRelaxed(options.relaxedSimd, plain);
    if (relaxed) return new KernelRuntime(relaxed, true);
  }
  return new KernelRuntime(plain, false);
}

async function tryRelaxed(source: WasmSource, plain: KernelExports): Promise<KernelExports | undefined> {
  if (!(source instanceof WebAssembly.Module) && !WebAssembly.validate(source)) return undefined;
  let relaxed: KernelExports;
  try {
    relaxed = await instantiateKernels(source);
  } catch {
    return undefined;
  }
  return selfCheck(relaxed, plain) ? relaxed : undefined;
}

/**
 * Runs a GEMM with a GELU epilogue (odd sizes, so every tail runs) in both builds and accepts the
 * relaxed one only if it agrees with the plain one to f32 rounding (fused multiply-add may differ in
 * the last bits, a wrong instruction would not).
 */
export function selfCheck(candidate: KernelExports, reference: KernelExports): boolean {
  const M = 7;
  const K = 37;
  const N = 13;
  const x = new Float32Array(M * K).map((_, i) => Math.sin(i * 0.37) * 2);
  const w = new Float32Array(N * K).map((_, i) => Math.cos(i * 0.11) * 0.3);
  const b = new Float32Array(N).map((_, i) => i * 0.01 - 0.05);
  const run = (k: KernelExports): Float32Array => {
    const arena = new Arena(k.memory, k.heap_base());
    const px = arena.put(x);
    const pw = arena.put(w);
    const pb = arena.put(b);
    const wp = arena.alloc(k.packed_size_f32(N, K));
    k.pack_weights_f32(wp, pw, N, K);
    const y = arena.allocF32(M * N);
    k.matmul_f32(y, 0, px, wp, pb, 0, M, K, N, 1);
    const out = arena.readF32(y, M * N);
    arena.reset(arena.base);
    return out;
  };
  const a = run(candidate);
  const r = run(reference);
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i] - r[i]) <= 1e-4 * (1 + Math.abs(r[i])))) return false;
  }
  return candidate.is_relaxed() === 1;
}
