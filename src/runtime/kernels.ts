// Typed view of the kernel module's exports (assembly/index.ts) and the constants they take.
// Pointers are byte offsets into the module's linear memory; dimensions are element counts.

/** GEMM epilogues and activation codes (assembly/epilogue.ts). */
export const Epilogue = {
  bias: 0,
  geluErf: 1,
  geluTanh: 2,
  relu: 3,
  residual: 4,
  tanh: 5,
} as const;
export type EpilogueCode = (typeof Epilogue)[keyof typeof Epilogue];

/** Attention mask kinds (assembly/attention.ts). */
export const MaskKind = { none: 0, causal: 1, prefix: 2 } as const;
export type MaskKindCode = (typeof MaskKind)[keyof typeof MaskKind];

type Ptr = number;

export interface KernelExports {
  memory: WebAssembly.Memory;
  heap_base(): Ptr;
  is_relaxed(): number;

  packed_size_f32(N: number, K: number): number;
  pack_weights_f32(wp: Ptr, w: Ptr, N: number, K: number): void;
  matmul_f32(
    y: Ptr,
    preact: Ptr,
    x: Ptr,
    wp: Ptr,
    bias: Ptr,
    residual: Ptr,
    M: number,
    K: number,
    N: number,
    epilogue: number,
  ): void;
  matmul_f32_ref(
    y: Ptr,
    preact: Ptr,
    x: Ptr,
    w: Ptr,
    bias: Ptr,
    residual: Ptr,
    M: number,
    K: number,
    N: number,
    epilogue: number,
  ): void;

  quantize_weights_i8(wq: Ptr, scales: Ptr, w: Ptr, N: number, K: number): void;
  packed_size_i8(N: number, K: number): number;
  pack_weights_i8(wp: Ptr, sp: Ptr, wq: Ptr, scales: Ptr, N: number, K: number): void;
  activation_qmax(K: number): number;
  quantize_rows_i16(xq: Ptr, xs: Ptr, x: Ptr, M: number, K: number): void;
  matmul_i8(
    y: Ptr,
    preact: Ptr,
    xq: Ptr,
    xs: Ptr,
    x: Ptr,
    wp: Ptr,
    sp: Ptr,
    bias: Ptr,
    residual: Ptr,
    M: number,
    K: number,
    N: number,
    epilogue: number,
  ): void;
  matmul_i8_ref(
    y: Ptr,
    preact: Ptr,
    xq: Ptr,
    xs: Ptr,
    x: Ptr,
    wq: Ptr,
    scales: Ptr,
    bias: Ptr,
    residual: Ptr,
    M: number,
    K: number,
    N: number,
    epilogue: number,
  ): void;

  attention_f32: AttentionKernel;
  attention_scratch_size(Tq: number, Tk: number, D: number): number;
  attention_f32_ref: AttentionKernel;

  layernorm_f32: LayerNormKernel;
  layernorm_f32_ref: LayerNormKernel;
  rmsnorm_f32: RmsNormKernel;
  rmsnorm_f32_ref: RmsNormKernel;

  activation_f32(y: Ptr, x: Ptr, n: number, act: number): void;
  activation_f32_ref(y: Ptr, x: Ptr, n: number, act: number): void;
  gated_gelu_f32(y: Ptr, gate: Ptr, up: Ptr, R: number, F: number, inStride: number): void;
  gated_gelu_f32_ref(y: Ptr, gate: Ptr, up: Ptr, R: number, F: number, inStride: number): void;
  add_f32(y: Ptr, a: Ptr, b: Ptr, n: number): void;
  softmax_f32(y: Ptr, x: Ptr, R: number, N: number): void;
  softmax_f32_ref(y: Ptr, x: Ptr, R: number, N: number): void;

  embed_q8_f32(
    y: Ptr,
    ids: Ptr,
    posIds: Ptr,
    segIds: Ptr,
    tokQ: Ptr,
    tokScales: Ptr,
    pos: Ptr,
    seg: Ptr,
    T: number,
    C: number,
    V: number,
    P: number,
    S: number,
  ): number;
  embed_f32(
    y: Ptr,
    ids: Ptr,
    posIds: Ptr,
    segIds: Ptr,
    tok: Ptr,
    pos: Ptr,
    seg: Ptr,
    T: number,
    C: number,
    V: number,
    P: number,
    S: number,
  ): number;
}

export type AttentionKernel = (
  out: Ptr,
  probs: Ptr,
  scratch: Ptr,
  q: Ptr,
  k: Ptr,
  v: Ptr,
  bias: Ptr,
  keyMask: Ptr,
  B: number,
  H: number,
  Tq: number,
  Tk: number,
  D: number,
  scale: number,
  maskKind: number,
  prefixLen: number,
  qsB: number,
  qsT: number,
  ksB: number,
  ksT: number,
  vsB: number,
  vsT: number,
  osB: number,
  osT: number,
) => void;

export type LayerNormKernel = (
  y: Ptr,
  mean: Ptr,
  rstd: Ptr,
  x: Ptr,
  w: Ptr,
  b: Ptr,
  R: number,
  C: number,
  eps: number,
) => void;

export type RmsNormKernel = (y: Ptr, rstd: Ptr, x: Ptr, w: Ptr, R: number, C: number, eps: number) => void;
