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

/** Label value that takes no part in cross_entropy_f32 (assembly/loss.ts; PyTorch's ignore_index). */
export const IGNORE_INDEX = -100;

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

  /**
   * Backward of matmul_f32 (after activation_backward_f32 when an activation was fused). Accumulates:
   * dx [M,K] += dY·W, dw [N,K] += dYᵀ·X, db [N] += Σ_rows dY; 0 skips one. w is UNPACKED [N,K]
   * (Hugging Face layout), not the pack_weights_f32 panels.
   */
  matmul_backward_f32: MatmulBackwardKernel;
  matmul_backward_f32_ref: MatmulBackwardKernel;

  quantize_weights_i8(wq: Ptr, scales: Ptr, w: Ptr, N: number, K: number): void;
  packed_size_i8(N: number, K: number): number;
  pack_weights_i8(wp: Ptr, sp: Ptr, wq: Ptr, scales: Ptr, N: number, K: number): void;
  pack_weights_i8b(wp: Ptr, sp: Ptr, wq: Ptr, units: Ptr, N: number, K: number): void;
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

  /** Block-multiplier int8 (w ≈ q·u[n]·m[n, k/8]): quantize, pack the multipliers, GEMM and its reference. */
  quantize_weights_i8b(wq: Ptr, units: Ptr, mults: Ptr, w: Ptr, N: number, K: number): void;
  block_mult_max(K: number): number;
  packed_size_mults(N: number, K: number): number;
  pack_mults_i8b(mp: Ptr, mults: Ptr, N: number, K: number): void;
  /** Bytes of matmul_i8b's xq scratch (activations, then one widened weight panel); 16-aligned. */
  scratch_size_i8b(M: number, K: number): number;
  matmul_i8b(
    y: Ptr,
    preact: Ptr,
    xq: Ptr,
    xs: Ptr,
    x: Ptr,
    wp: Ptr,
    sp: Ptr,
    mp: Ptr,
    bias: Ptr,
    residual: Ptr,
    M: number,
    K: number,
    N: number,
    epilogue: number,
  ): void;
  matmul_i8b_ref(
    y: Ptr,
    preact: Ptr,
    xq: Ptr,
    xs: Ptr,
    x: Ptr,
    wq: Ptr,
    units: Ptr,
    mults: Ptr,
    bias: Ptr,
    residual: Ptr,
    M: number,
    K: number,
    N: number,
    epilogue: number,
  ): void;

  /** out[r] = first index of the maximum of row r of x [R,N] (NaN never wins), out: [R] i32. */
  argmax_rows_f32(out: Ptr, x: Ptr, R: number, N: number): void;
  argmax_rows_f32_ref(out: Ptr, x: Ptr, R: number, N: number): void;

  attention_f32: AttentionKernel;
  attention_scratch_size(Tq: number, Tk: number, D: number): number;
  attention_f32_ref: AttentionKernel;
  /**
   * One query per row against Tk cached keys (KV-cache decoding), every row and head in one call;
   * relBias [H,≥Tk] by key distance Tk−1−j (row stride bsH) or 0, keyMask [B,≥Tk] i32 (row stride msB) or 0.
   */
  attention_decode_f32: AttentionDecodeKernel;
  attention_decode_f32_ref: AttentionDecodeKernel;
  attention_decode_scratch_size(H: number, Tk: number): number;
  /**
   * Backward of attention_f32 from its saved probs. Accumulates dq, dk, dv (the strides of q, k, v)
   * and dbias [H,Tq,Tk] (summed over the batch); 0 skips one. Masks are in probs (no mask arguments).
   */
  attention_backward_f32: AttentionBackwardKernel;
  /** The `_ref` version uses scratch too (one head's dS in f64). */
  attention_backward_f32_ref: AttentionBackwardKernel;
  attention_backward_scratch_size(Tq: number, Tk: number, D: number): number;

  layernorm_f32: LayerNormKernel;
  layernorm_f32_ref: LayerNormKernel;
  rmsnorm_f32: RmsNormKernel;
  rmsnorm_f32_ref: RmsNormKernel;
  /** Accumulates dx [R,C], dw [C], db [C] (0 skips dw / db) from the saved mean and rstd [R]. */
  layernorm_backward_f32: LayerNormBackwardKernel;
  layernorm_backward_f32_ref: LayerNormBackwardKernel;
  /** Accumulates dx [R,C], dw [C] (0 skips dw) from the saved rstd [R]. */
  rmsnorm_backward_f32: RmsNormBackwardKernel;
  rmsnorm_backward_f32_ref: RmsNormBackwardKernel;

  activation_f32(y: Ptr, x: Ptr, n: number, act: number): void;
  activation_f32_ref(y: Ptr, x: Ptr, n: number, act: number): void;
  gated_gelu_f32(y: Ptr, gate: Ptr, up: Ptr, R: number, F: number, inStride: number): void;
  gated_gelu_f32_ref(y: Ptr, gate: Ptr, up: Ptr, R: number, F: number, inStride: number): void;
  add_f32(y: Ptr, a: Ptr, b: Ptr, n: number): void;
  softmax_f32(y: Ptr, x: Ptr, R: number, N: number): void;
  softmax_f32_ref(y: Ptr, x: Ptr, R: number, N: number): void;
  /**
   * dx [n] += dy · act'(x); x is the activation input (a GEMM's saved preact: the epilogue backward).
   * act: an Epilogue code (bias / residual: dx += dy).
   */
  activation_backward_f32(dx: Ptr, dy: Ptr, x: Ptr, n: number, act: number): void;
  activation_backward_f32_ref(dx: Ptr, dy: Ptr, x: Ptr, n: number, act: number): void;
  /** dgate += dy·up·gelu_tanh'(gate), dup += dy·gelu_tanh(gate); dgate/dup strided like gate/up. */
  gated_gelu_backward_f32: GatedGeluBackwardKernel;
  gated_gelu_backward_f32_ref: GatedGeluBackwardKernel;

  /**
   * Softmax cross-entropy, ignore index −100: writes the mean loss over non-ignored rows to loss [1]
   * (NaN when none), accumulates dloss·(softmax − onehot)/count into dlogits [R,V] (0 skips it).
   * labels: [R] i32. Returns the number of non-ignored rows, or −1 for a label outside [0, V).
   */
  cross_entropy_f32: CrossEntropyKernel;
  cross_entropy_f32_ref: CrossEntropyKernel;

  /** One AdamW step (PyTorch's formula) over one contiguous parameter region, in place. */
  adamw_f32: AdamWKernel;
  adamw_f32_ref: AdamWKernel;
  /** x[0..n) = 0 (zero-grad). */
  zero_f32(x: Ptr, n: number): void;
  /** Σ x² in f64 (global gradient norm for clipping). */
  sumsq_f32(x: Ptr, n: number): number;

  embed_q8b_f32: EmbedQ8bKernel;
  embed_q8b_f32_ref: EmbedQ8bKernel;
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
  /**
   * Scatter-add of dy [T,C] into dtok [V,C], dpos [P,C], dseg [S,C] by id (0 skips a table); rows with
   * an out-of-range id pass nothing. Returns their count.
   */
  embed_backward_f32: EmbedBackwardKernel;
  embed_backward_f32_ref: EmbedBackwardKernel;
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

export type AttentionDecodeKernel = (
  out: Ptr,
  scratch: Ptr,
  q: Ptr,
  k: Ptr,
  v: Ptr,
  relBias: Ptr,
  keyMask: Ptr,
  B: number,
  H: number,
  Tk: number,
  D: number,
  scale: number,
  qsB: number,
  ksB: number,
  ksT: number,
  vsB: number,
  vsT: number,
  osB: number,
  bsH: number,
  msB: number,
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

export type MatmulBackwardKernel = (
  dx: Ptr,
  dw: Ptr,
  db: Ptr,
  dy: Ptr,
  x: Ptr,
  w: Ptr,
  M: number,
  K: number,
  N: number,
) => void;

export type AttentionBackwardKernel = (
  dq: Ptr,
  dk: Ptr,
  dv: Ptr,
  dbias: Ptr,
  probs: Ptr,
  scratch: Ptr,
  q: Ptr,
  k: Ptr,
  v: Ptr,
  dout: Ptr,
  B: number,
  H: number,
  Tq: number,
  Tk: number,
  D: number,
  scale: number,
  qsB: number,
  qsT: number,
  ksB: number,
  ksT: number,
  vsB: number,
  vsT: number,
  osB: number,
  osT: number,
) => void;

export type LayerNormBackwardKernel = (
  dx: Ptr,
  dw: Ptr,
  db: Ptr,
  mean: Ptr,
  rstd: Ptr,
  dy: Ptr,
  x: Ptr,
  w: Ptr,
  R: number,
  C: number,
) => void;

export type RmsNormBackwardKernel = (
  dx: Ptr,
  dw: Ptr,
  rstd: Ptr,
  dy: Ptr,
  x: Ptr,
  w: Ptr,
  R: number,
  C: number,
) => void;

export type GatedGeluBackwardKernel = (
  dgate: Ptr,
  dup: Ptr,
  dy: Ptr,
  gate: Ptr,
  up: Ptr,
  R: number,
  F: number,
  inStride: number,
) => void;

export type EmbedBackwardKernel = (
  dtok: Ptr,
  dpos: Ptr,
  dseg: Ptr,
  dy: Ptr,
  ids: Ptr,
  posIds: Ptr,
  segIds: Ptr,
  T: number,
  C: number,
  V: number,
  P: number,
  S: number,
) => number;

export type CrossEntropyKernel = (
  dlogits: Ptr,
  loss: Ptr,
  logits: Ptr,
  labels: Ptr,
  R: number,
  V: number,
  dloss: number,
) => number;

export type AdamWKernel = (
  param: Ptr,
  m: Ptr,
  v: Ptr,
  grad: Ptr,
  n: number,
  step: number,
  lr: number,
  beta1: number,
  beta2: number,
  eps: number,
  weightDecay: number,
  gradScale: number,
) => void;

/**
 * Token gather from a block-multiplier int8 table: y [T,C] = tokQ[id]·(tokUnits[id]·tokMults[id, c/8])
 * (+ pos[posId] + seg[segId] when given). tokQ [V,C] i8, tokUnits [V] f32, tokMults [V, ceil(C/8)] i8.
 * Returns the number of ids out of range (their rows are zero).
 */
export type EmbedQ8bKernel = (
  y: Ptr,
  ids: Ptr,
  posIds: Ptr,
  segIds: Ptr,
  tokQ: Ptr,
  tokUnits: Ptr,
  tokMults: Ptr,
  pos: Ptr,
  seg: Ptr,
  T: number,
  C: number,
  V: number,
  P: number,
  S: number,
) => number;
