// An independent float64 T5 loss for finite-difference tests, written from the definitions with plain
// loops, one batch row at a time and without padding: the encoder–decoder (the encoder over the row's
// real tokens), the decoder-only LM (causal over the row's input tokens ⊕ decoder inputs) and the
// prefix LM (fully visible over the row's input tokens, causal after), each sublayer optionally
// followed by an adapter z + up(relu(down z)) when the parameters hold one. Because the rows are not
// padded, agreeing with it also checks that the kernels' padding (right padding in the encoder, left
// padding of the LM rows) changes nothing.
import { relativePositionBucket } from "../../src/models/relative-position.ts";
import { shiftRight } from "../../src/models/t5.ts";
import type { T5Config } from "../../src/models/t5-config.ts";
import type { T5Batch } from "../../src/train/t5-train.ts";

export type Params64 = Map<string, Float64Array>;

/** Which keys query i may see (within one row). */
type Visible = (i: number, j: number) => boolean;

/** Mean cross-entropy over labels ≠ −100, in float64. */
export function referenceLoss(
  cfg: T5Config,
  p: Params64,
  batch: T5Batch,
  tied: boolean,
  stats: { minReluInput: number } = { minReluInput: Number.POSITIVE_INFINITY },
): number {
  const { dModel: C, numHeads: H, dKv: D, dFf: F, vocabSize: V, layerNormEpsilon: eps } = cfg;
  const [NB, MD] = [cfg.relativeAttentionNumBuckets, cfg.relativeAttentionMaxDistance];
  const I = H * D;
  const { batch: B, seq: T, decoderSeq: Td } = batch;
  const w = (n: string) => {
    const t = p.get(n);
    if (!t) throw new Error(`reference: no parameter ${n}`);
    return t;
  };
  const embed = (ids: ArrayLike<number>) => {
    const out = new Float64Array(ids.length * C);
    for (let r = 0; r < ids.length; r++)
      out.set(w("shared.weight").subarray(ids[r] * C, (ids[r] + 1) * C), r * C);
    return out;
  };
  const rms = (x: Float64Array, name: string) => {
    const g = w(name);
    const y = new Float64Array(x.length);
    for (let r = 0; r < x.length / C; r++) {
      let ss = 0;
      for (let c = 0; c < C; c++) ss += x[r * C + c] ** 2;
      const s = 1 / Math.sqrt(ss / C + eps);
      for (let c = 0; c < C; c++) y[r * C + c] = x[r * C + c] * s * g[c];
    }
    return y;
  };
  const linear = (x: Float64Array, name: string, K: number, bias?: string) => {
    const W = w(name);
    const b = bias ? w(bias) : undefined;
    const N = W.length / K;
    const rows = x.length / K;
    const y = new Float64Array(rows * N);
    for (let r = 0; r < rows; r++)
      for (let n = 0; n < N; n++) {
        let acc = b ? b[n] : 0;
        for (let k = 0; k < K; k++) acc += x[r * K + k] * W[n * K + k];
        y[r * N + n] = acc;
      }
    return y;
  };
  const addInto = (x: Float64Array, y: Float64Array) => {
    for (let i = 0; i < x.length; i++) x[i] += y[i];
  };
  /** The sublayer's output projection, then its adapter when it has one. */
  const project = (ctx: Float64Array, name: string, K: number, sublayer: string) => {
    const z = linear(ctx, name, K);
    const a = `${sublayer}.adapter`;
    if (!p.has(`${a}.down.weight`)) return z;
    const h = linear(z, `${a}.down.weight`, C, `${a}.down.bias`).map((v) => {
      stats.minReluInput = Math.min(stats.minReluInput, Math.abs(v));
      return Math.max(v, 0);
    });
    const r = h.length / (z.length / C);
    addInto(z, linear(h, `${a}.up.weight`, r, `${a}.up.bias`));
    return z;
  };
  const posBias = (table: Float64Array, bidirectional: boolean) => (h: number, i: number, j: number) =>
    table[relativePositionBucket(j - i, bidirectional, NB, MD) * H + h];
  /** q [Tq,I], k and v [Tk,I] of one row → [Tq,I] */
  const attention = (
    q: Float64Array,
    k: Float64Array,
    v: Float64Array,
    bias: ((h: number, i: number, j: number) => number) | undefined,
    visible: Visible,
  ) => {
    const Tq = q.length / I;
    const Tk = k.length / I;
    const out = new Float64Array(Tq * I);
    const s = new Float64Array(Tk);
    for (let h = 0; h < H; h++)
      for (let i = 0; i < Tq; i++) {
        let mx = Number.NEGATIVE_INFINITY;
        for (let j = 0; j < Tk; j++) {
          if (!visible(i, j)) {
            s[j] = Number.NEGATIVE_INFINITY;
            continue;
          }
          let acc = bias ? bias(h, i, j) : 0;
          for (let d = 0; d < D; d++) acc += q[i * I + h * D + d] * k[j * I + h * D + d];
          s[j] = acc;
          mx = Math.max(mx, acc);
        }
        let sum = 0;
        for (let j = 0; j < Tk; j++) {
          s[j] = Math.exp(s[j] - mx);
          sum += s[j];
        }
        for (let j = 0; j < Tk; j++)
          for (let d = 0; d < D; d++) out[i * I + h * D + d] += (s[j] / sum) * v[j * I + h * D + d];
      }
    return out;
  };
  const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  const feedForward = (x: Float64Array, sub: string) => {
    const h = rms(x, `${sub}.layer_norm.weight`);
    const f = `${sub}.DenseReluDense`;
    let act: Float64Array;
    if (cfg.isGated) {
      const g = linear(h, `${f}.wi_0.weight`, C);
      const u = linear(h, `${f}.wi_1.weight`, C);
      act = g.map((v, i) => geluTanh(v) * u[i]);
    } else {
      act = linear(h, `${f}.wi.weight`, C).map((v) => {
        stats.minReluInput = Math.min(stats.minReluInput, Math.abs(v));
        return Math.max(v, 0);
      });
    }
    addInto(x, project(act, `${f}.wo.weight`, F, sub));
  };
  const selfAttention = (
    x: Float64Array,
    sub: string,
    bias: (h: number, i: number, j: number) => number,
    visible: Visible,
  ) => {
    const h = rms(x, `${sub}.layer_norm.weight`);
    const a = `${sub}.SelfAttention`;
    const ctx = attention(
      linear(h, `${a}.q.weight`, C),
      linear(h, `${a}.k.weight`, C),
      linear(h, `${a}.v.weight`, C),
      bias,
      visible,
    );
    addInto(x, project(ctx, `${a}.o.weight`, I, sub));
  };
  /** Final norm, head scaling, head: logits [rows,V]. */
  const head = (x: Float64Array) => {
    let y = rms(x, "decoder.final_layer_norm.weight");
    if (cfg.scaleDecoderOutputs) y = y.map((v) => v * C ** -0.5);
    return linear(y, tied ? "shared.weight" : "lm_head.weight", C);
  };

  const decIds =
    batch.decoderInputIds ?? shiftRight(batch.labels, B, Td, cfg.decoderStartTokenId, cfg.padTokenId);
  const decTable = w("decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight");
  let sum = 0;
  let n = 0;
  for (let b = 0; b < B; b++) {
    const input: number[] = [];
    for (let t = 0; t < T; t++)
      if (batch.attentionMask?.[b * T + t] !== 0) input.push(batch.inputIds[b * T + t]);
    const dec = [...decIds.subarray(b * Td, (b + 1) * Td)];
    let logits: Float64Array; // [Td,V] of the decoder positions
    if (cfg.architecture === "encoder-decoder") {
      const encTable = w("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight");
      const x = embed(input);
      for (let l = 0; l < cfg.numLayers; l++) {
        const blk = `encoder.block.${l}.layer`;
        selfAttention(x, `${blk}.0`, posBias(encTable, true), () => true);
        feedForward(x, `${blk}.1`);
      }
      const enc = rms(x, "encoder.final_layer_norm.weight");
      const y = embed(dec);
      for (let l = 0; l < cfg.numDecoderLayers; l++) {
        const blk = `decoder.block.${l}.layer`;
        selfAttention(y, `${blk}.0`, posBias(decTable, false), (i, j) => j <= i);
        const sub = `${blk}.1`;
        const a = `${sub}.EncDecAttention`;
        const ctx = attention(
          linear(rms(y, `${sub}.layer_norm.weight`), `${a}.q.weight`, C),
          linear(enc, `${a}.k.weight`, C),
          linear(enc, `${a}.v.weight`, C),
          undefined,
          () => true,
        );
        addInto(y, project(ctx, `${a}.o.weight`, I, sub));
        feedForward(y, `${blk}.2`);
      }
      logits = head(y);
    } else {
      const P = input.length;
      const prefix = cfg.architecture === "prefix-lm";
      const visible: Visible = prefix ? (i, j) => j < P || j <= i : (i, j) => j <= i;
      const x = embed([...input, ...dec]);
      for (let l = 0; l < cfg.numDecoderLayers; l++) {
        const blk = `decoder.block.${l}.layer`;
        selfAttention(x, `${blk}.0`, posBias(decTable, prefix), visible);
        feedForward(x, `${blk}.1`);
      }
      logits = head(x).subarray(P * V);
    }
    for (let t = 0; t < Td; t++) {
      const y = batch.labels[b * Td + t];
      if (y === -100) continue;
      const row = logits.subarray(t * V, (t + 1) * V);
      const mx = Math.max(...row);
      let se = 0;
      for (const v of row) se += Math.exp(v - mx);
      sum += mx + Math.log(se) - row[y];
      n++;
    }
  }
  return sum / n;
}
