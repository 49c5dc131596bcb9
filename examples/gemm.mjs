// Using the edgeformer kernels from any app, without our models: instantiate the .wasm, place
// buffers in its linear memory, pack a weight once, run one GEMM  Y = X · Wᵀ + b.
// Run: node examples/gemm.mjs [path/to/edgeformer.wasm]
import { readFileSync } from "node:fs";

const wasmPath = process.argv[2] ?? "node_modules/edgeformer/build/edgeformer.wasm";
const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), {
  env: {
    abort: () => {
      throw new Error("kernel abort");
    },
  },
});
const k = instance.exports;

// Kernels never allocate: the host owns memory from heap_base() up.
let top = k.heap_base();
const alloc = (bytes) => {
  const ptr = (top + 15) & ~15;
  top = ptr + bytes;
  const missing = top - k.memory.buffer.byteLength;
  if (missing > 0) k.memory.grow(Math.ceil(missing / 65536));
  return ptr;
};
const put = (arr) => {
  const ptr = alloc(arr.byteLength);
  new Float32Array(k.memory.buffer, ptr, arr.length).set(arr); // views are re-made after any growth
  return ptr;
};

const [M, K, N] = [2, 3, 2];
const x = put(new Float32Array([1, 2, 3, 4, 5, 6])); // X [M,K]
const w = put(new Float32Array([1, 0, 0, 0, 1, 1])); // W [N,K], PyTorch Linear layout
const b = put(new Float32Array([0.5, -1])); // b [N]
const packed = alloc(k.packed_size_f32(N, K));
k.pack_weights_f32(packed, w, N, K); // once, at load time
const y = alloc(M * N * 4);
k.matmul_f32(y, 0, x, packed, b, 0, M, K, N, 0); // epilogue 0: bias only (1 GELU-erf, 2 GELU-tanh, 3 ReLU, 4 residual, 5 tanh)
console.log(Array.from(new Float32Array(k.memory.buffer, y, M * N))); // [ 1.5, 4, 4.5, 10 ]
