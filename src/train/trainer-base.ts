// What every model trainer shares around its own forward/backward (`run`): zero-grad + run for
// lossAndGrad, evaluation, global-norm clipping, the AdamW step over the parameter region, and
// re-packing the forward GEMM's weight panels after the parameters change.
import type { KernelRuntime } from "../runtime/load.ts";
import type { AdamWOptions, ParamStore } from "./params.ts";

/** A Linear whose unpacked weights w [N,K] live in the parameter region and whose panels wp feed matmul_f32. */
export interface PackedLinear {
  N: number;
  K: number;
  w: number;
  wp: number;
}

export interface TrainRunOptions {
  /** Add to the current gradients instead of zeroing them first. */
  accumulate?: boolean;
  /** Return the logits of the heads that ran. */
  logits?: boolean;
}

export abstract class TrainerBase<Batch, Out, Opts extends TrainRunOptions> {
  abstract readonly rt: KernelRuntime;
  abstract readonly params: ParamStore;
  /** Every Linear of the model, re-packed by repack(). */
  protected readonly linears: PackedLinear[] = [];

  /** Forward (saving activations when grad) and losses, then the backward when grad. */
  protected abstract run(batch: Batch, grad: boolean, opts: Opts): Out;

  /** Re-packs every Linear's weights for the forward GEMM (after any change to the parameters). */
  repack(): void {
    const { k } = this.rt;
    for (const l of this.linears) k.pack_weights_f32(l.wp, l.w, l.N, l.K);
  }

  /** Zero-grad (unless accumulating), forward, losses, backward: gradients land in the gradient region. */
  lossAndGrad(batch: Batch, opts: Opts = {} as Opts): Out {
    if (!opts.accumulate) this.params.zeroGrad();
    return this.run(batch, true, opts);
  }

  /** Forward and losses only (no gradients). */
  evaluate(batch: Batch, opts: { logits?: boolean } = {}): Out {
    return this.run(batch, false, opts as Opts);
  }

  /** One AdamW step over all parameters (gradScale: clipping factor, see ParamStore.clipScale), then re-packing. */
  adamwStep(o: AdamWOptions, gradScale = 1): void {
    this.params.adamwStep(o, gradScale);
    this.repack();
  }

  /** lossAndGrad, optional global-norm clipping, AdamW. Returns the losses and the gradient norm before clipping. */
  trainStep(batch: Batch, o: AdamWOptions, opts: { maxGradNorm?: number } = {}): Out & { gradNorm: number } {
    const out = this.lossAndGrad(batch);
    let gradNorm: number;
    let scale = 1;
    if (opts.maxGradNorm !== undefined) ({ norm: gradNorm, scale } = this.params.clipScale(opts.maxGradNorm));
    else gradNorm = this.params.gradNorm();
    this.adamwStep(o, scale);
    return { ...out, gradNorm };
  }
}
