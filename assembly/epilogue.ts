// GEMM epilogues: what happens to an output value after its dot product (bias, activation, residual).
// Shared by the f32 and int8 GEMMs so both fuse the same operations in the same order.
import {
  geluErf64, geluErfGrad64, geluTanh64, geluTanhGrad64, geluErf1, geluTanh1, tanh1, tanhGrad64,
  vgeluErf, vgeluErfGrad, vgeluTanh, vgeluTanhGrad, vtanh, vtanhGrad,
} from "./vecmath";

/** y = acc + b */
export const EPI_BIAS: i32 = 0;
/** y = gelu_erf(acc + b) */
export const EPI_GELU_ERF: i32 = 1;
/** y = gelu_tanh(acc + b) */
export const EPI_GELU_TANH: i32 = 2;
/** y = relu(acc + b) */
export const EPI_RELU: i32 = 3;
/** y = acc + b + residual */
export const EPI_RESIDUAL: i32 = 4;
/** y = tanh(acc + b) (BERT pooler) */
export const EPI_TANH: i32 = 5;

/** Applies the activation part of an epilogue to a vector of pre-activations. */
@inline export function epiVec(v: v128, epilogue: i32, residualAt: usize): v128 {
  if (epilogue == EPI_GELU_ERF) return vgeluErf(v);
  if (epilogue == EPI_GELU_TANH) return vgeluTanh(v);
  if (epilogue == EPI_RELU) return f32x4.max(v, f32x4.splat(0));
  if (epilogue == EPI_RESIDUAL) return f32x4.add(v, v128.load(residualAt));
  if (epilogue == EPI_TANH) return vtanh(v);
  return v;
}

/** Scalar twin of epiVec (same math, one lane), for tails. */
@inline export function epiOne(v: f32, epilogue: i32, residualAt: usize): f32 {
  if (epilogue == EPI_GELU_ERF) return geluErf1(v);
  if (epilogue == EPI_GELU_TANH) return geluTanh1(v);
  if (epilogue == EPI_RELU) return Mathf.max(v, 0);
  if (epilogue == EPI_RESIDUAL) return v + load<f32>(residualAt);
  if (epilogue == EPI_TANH) return tanh1(v);
  return v;
}

/** f64 reference epilogue for the `_ref` kernels. */
export function epiRef(v: f64, epilogue: i32, residualAt: usize): f64 {
  if (epilogue == EPI_GELU_ERF) return geluErf64(v);
  if (epilogue == EPI_GELU_TANH) return geluTanh64(v);
  if (epilogue == EPI_RELU) return Math.max(v, 0);
  if (epilogue == EPI_RESIDUAL) return v + <f64>load<f32>(residualAt);
  if (epilogue == EPI_TANH) return Math.tanh(v);
  return v;
}

/**
 * d epilogue / d pre-activation per lane, for the backward: GELU (both forms), ReLU (0 at x ≤ 0, as
 * PyTorch), tanh; 1 for EPI_BIAS and EPI_RESIDUAL (the residual's own gradient is dY, added by the host).
 */
@inline export function epiGradVec(x: v128, epilogue: i32): v128 {
  if (epilogue == EPI_GELU_ERF) return vgeluErfGrad(x);
  if (epilogue == EPI_GELU_TANH) return vgeluTanhGrad(x);
  if (epilogue == EPI_RELU) return v128.and(f32x4.gt(x, f32x4.splat(0)), f32x4.splat(1.0));
  if (epilogue == EPI_TANH) return vtanhGrad(x);
  return f32x4.splat(1.0);
}

/** Scalar twin of epiGradVec (one lane through the vector code). */
@inline export function epiGradOne(x: f32, epilogue: i32): f32 {
  return f32x4.extract_lane(epiGradVec(f32x4.splat(x), epilogue), 0);
}

/** f64 reference derivative for the `_ref` kernels. */
export function epiGradRef(x: f64, epilogue: i32): f64 {
  if (epilogue == EPI_GELU_ERF) return geluErfGrad64(x);
  if (epilogue == EPI_GELU_TANH) return geluTanhGrad64(x);
  if (epilogue == EPI_RELU) return x > 0 ? 1.0 : 0.0;
  if (epilogue == EPI_TANH) return tanhGrad64(x);
  return 1.0;
}
