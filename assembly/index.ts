// The edgeformer kernel module: every exported kernel, in one .wasm. Kernels take byte offsets into
// linear memory plus dimensions (outputs, saved-for-backward buffers, inputs and weights, dimensions)
// and never allocate; the host owns the memory layout from heap_base() up.

export {
  activation_backward_f32, activation_backward_f32_ref, activation_f32, activation_f32_ref, add_f32,
  gated_gelu_backward_f32, gated_gelu_backward_f32_ref, gated_gelu_f32, gated_gelu_f32_ref, softmax_f32, softmax_f32_ref,
} from "./activation";
export { argmax_rows_f32, argmax_rows_f32_ref } from "./argmax";
export {
  attention_backward_f32, attention_backward_f32_ref, attention_backward_scratch_size, attention_decode_f32,
  attention_decode_f32_ref, attention_decode_scratch_size, attention_f32, attention_f32_ref, attention_scratch_size,
} from "./attention";
export { embed_backward_f32, embed_backward_f32_ref, embed_f32, embed_q8_f32, embed_q8b_f32, embed_q8b_f32_ref } from "./embedding";
export {
  layernorm_backward_f32, layernorm_backward_f32_ref, layernorm_f32, layernorm_f32_ref, rmsnorm_backward_f32,
  rmsnorm_backward_f32_ref, rmsnorm_f32, rmsnorm_f32_ref,
} from "./norm";
export { matmul_backward_f32, matmul_backward_f32_ref, matmul_f32, matmul_f32_ref, pack_weights_f32, packed_size_f32 } from "./matmul";
export { cross_entropy_f32, cross_entropy_f32_ref } from "./loss";
export { adamw_f32, adamw_f32_ref, sumsq_f32, zero_f32 } from "./optim";
export { matmul_i8, matmul_i8_ref, matmul_i8b, matmul_i8b_ref, scratch_size_i8b } from "./matmul_int8";
export {
  activation_qmax, block_mult_max, pack_mults_i8b, pack_weights_i8, pack_weights_i8b, packed_size_i8, packed_size_mults, quantize_rows_i16,
  quantize_weights_i8, quantize_weights_i8b,
} from "./quant";

/** First byte of linear memory the host may use. */
export function heap_base(): usize {
  return __heap_base;
}

/** 1 when this build uses relaxed SIMD (f32x4.relaxed_madd), else 0. */
export function is_relaxed(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}
