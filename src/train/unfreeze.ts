// Gradual unfreezing (Howard & Ruder 2018, as T5 §3.5.2 uses it): training starts with only the top
// block (and the head) trainable and unfreezes one more block every `every` optimizer steps, top down.
// BERT: stage k (1-based) trains encoder layers L−k … L−1 plus everything outside the encoder and the
// embeddings (pooler, classifier, MLM/NSP heads); the embeddings unfreeze last, at stage L+1. T5: the
// encoder and decoder unfreeze together, stage k training encoder blocks Le−k … and decoder blocks
// Ld−k … (each stack stops at its bottom block); the final layer norms and an untied lm_head always
// train; the shared embedding (and so a tied head) unfreezes last, after the deeper stack's bottom block.
// Pure functions of the step, so a resumed run recomputes the mask.

export type UnfreezeArch =
  | { modelType: "bert"; numLayers: number; prefix?: string }
  | { modelType: "t5"; numLayers: number; numDecoderLayers: number };

/** Number of stages: one per block of the deeper stack, plus one for the embeddings. */
export function unfreezeStages(arch: UnfreezeArch): number {
  return arch.modelType === "bert" ? arch.numLayers + 1 : Math.max(arch.numLayers, arch.numDecoderLayers) + 1;
}

/** The stage (1-based, capped at unfreezeStages) of optimizer step `step` (0-based: steps already taken). */
export function unfreezeStage(arch: UnfreezeArch, step: number, every: number): number {
  if (!(Number.isInteger(every) && every >= 1))
    throw new RangeError(`unfreeze: every must be an integer ≥ 1, got ${every}`);
  if (!(Number.isInteger(step) && step >= 0))
    throw new RangeError(`unfreeze: step must be an integer ≥ 0, got ${step}`);
  return Math.min(unfreezeStages(arch), 1 + Math.floor(step / every));
}

/** The trainable predicate of a stage. */
export function unfreezeAtStage(arch: UnfreezeArch, stage: number): (name: string) => boolean {
  if (arch.modelType === "bert") {
    const p = arch.prefix ?? "bert.";
    const L = arch.numLayers;
    const layer = new RegExp(`^${p.replace(/\./g, "\\.")}encoder\\.layer\\.(\\d+)\\.`);
    const emb = `${p}embeddings.`;
    return (name) => {
      if (name.startsWith(emb)) return stage > L;
      const m = layer.exec(name);
      if (m) return Number(m[1]) >= L - stage;
      return true; // pooler and heads
    };
  }
  const Le = arch.numLayers;
  const Ld = arch.numDecoderLayers;
  const block = /^(encoder|decoder)\.block\.(\d+)\./;
  const embedding = (n: string) =>
    n === "shared.weight" || n === "encoder.embed_tokens.weight" || n === "decoder.embed_tokens.weight";
  return (name) => {
    if (embedding(name)) return stage > Math.max(Le, Ld);
    const m = block.exec(name);
    if (m) return Number(m[2]) >= (m[1] === "encoder" ? Le : Ld) - stage;
    return true; // final layer norms, untied lm_head
  };
}

/** The trainable predicate at optimizer step `step` when one more block unfreezes every `every` steps. */
export function unfreezeTrainable(
  arch: UnfreezeArch,
  step: number,
  every: number,
): (name: string) => boolean {
  return unfreezeAtStage(arch, unfreezeStage(arch, step, every));
}
