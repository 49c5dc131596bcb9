// `edgeformer forward --model DIR --inputs FILE.json --out FILE.safetensors [--dtype f32|int8]`:
// runs the model on given ids and writes every output under the Hugging Face goldens' names, so users
// can check us against other frameworks.
import { readFile } from "node:fs/promises";
import type { TensorInput } from "../../io/safetensors.ts";
import { writeSafetensorsFileAtomic } from "../../io/safetensors-node.ts";
import { loadBertDir, loadT5Dir, modelType } from "../../models/load-node.ts";
import { dir, type Flags, oneOf, str, UsageError } from "../args.ts";

function matrix(json: Record<string, unknown>, key: string, required: boolean): number[][] | undefined {
  const v = json[key];
  if (v === undefined && !required) return undefined;
  if (
    !Array.isArray(v) ||
    v.length === 0 ||
    !v.every((r) => Array.isArray(r) && r.every((x) => Number.isInteger(x)))
  ) {
    throw new UsageError(`inputs: "${key}" must be a non-empty [batch][seq] array of integers`);
  }
  const rows = v as number[][];
  if (rows.some((r) => r.length !== rows[0].length))
    throw new UsageError(`inputs: rows of "${key}" differ in length`);
  return rows;
}

export async function forwardCommand(flags: Flags): Promise<string> {
  const modelDir = dir(flags, "model");
  const inputsPath = str(flags, "inputs", true)!;
  const outPath = str(flags, "out", true)!;
  const dtype = oneOf(flags, "dtype", ["f32", "int8"] as const, "f32");
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(await readFile(inputsPath, "utf8"));
  } catch (err) {
    throw new UsageError(`--inputs ${inputsPath}: ${(err as Error).message}`);
  }
  const type = await modelType(modelDir);
  if (type === "t5") return forwardT5(modelDir, json, outPath, dtype);
  if (type !== "bert") throw new UsageError(`forward: model_type ${type} is not supported (bert, t5)`);
  const ids = matrix(json, "input_ids", true)!;
  const B = ids.length;
  const T = ids[0].length;
  const mask = matrix(json, "attention_mask", false);
  const types = matrix(json, "token_type_ids", false);
  for (const [k, m] of [
    ["attention_mask", mask],
    ["token_type_ids", types],
  ] as const) {
    if (m && (m.length !== B || m[0].length !== T))
      throw new UsageError(`inputs: "${k}" must be ${B}×${T} like input_ids`);
  }
  const model = await loadBertDir(modelDir, { dtype });
  const h = model.heads;
  const out = model.forward(
    {
      inputIds: Int32Array.from(ids.flat()),
      attentionMask: mask ? Int32Array.from(mask.flat()) : undefined,
      tokenTypeIds: types ? Int32Array.from(types.flat()) : undefined,
      batch: B,
      seq: T,
    },
    {
      hiddenStates: true,
      attentions: true,
      pooled: h.has("pooler"),
      mlm: h.has("mlm") ? "all" : undefined,
      nsp: h.has("nsp"),
      classify: h.has("classifier") && !model.isTokenClassifier,
      tokenClassify: model.isTokenClassifier,
      qa: h.has("qa"),
    },
  );
  const C = model.config.hiddenSize;
  const H = model.config.numHeads;
  const tensors: Record<string, TensorInput> = {};
  const f32 = (data: Float32Array, shape: number[]) => ({ dtype: "F32" as const, shape, data });
  out.hiddenStates?.forEach((x, i) => {
    tensors[`hidden_states.${i}`] = f32(x, [B, T, C]);
  });
  out.attentions?.forEach((x, i) => {
    tensors[`attentions.${i}`] = f32(x, [B, H, T, T]);
  });
  tensors.last_hidden_state = f32(out.lastHiddenState, [B, T, C]);
  if (out.pooled) tensors.pooler_output = f32(out.pooled, [B, C]);
  if (out.mlmLogits) tensors.prediction_logits = f32(out.mlmLogits, [B, T, model.config.vocabSize]);
  if (out.nspLogits) tensors.seq_relationship_logits = f32(out.nspLogits, [B, 2]);
  if (out.classifyLogits) tensors.logits = f32(out.classifyLogits, [B, model.config.numLabels]);
  if (out.tokenClassifyLogits) tensors.logits = f32(out.tokenClassifyLogits, [B, T, model.config.numLabels]);
  if (out.qaStartLogits) tensors.start_logits = f32(out.qaStartLogits, [B, T]);
  if (out.qaEndLogits) tensors.end_logits = f32(out.qaEndLogits, [B, T]);
  await writeSafetensorsFileAtomic(outPath, tensors, { producer: "edgeformer", dtype });
  return JSON.stringify({ out: outPath, tensors: Object.keys(tensors) });
}

/** T5: input_ids, attention_mask, decoder_input_ids (or labels, shifted right) → logits and hidden states. */
async function forwardT5(
  modelDir: string,
  json: Record<string, unknown>,
  outPath: string,
  dtype: "f32" | "int8",
): Promise<string> {
  const ids = matrix(json, "input_ids", true)!;
  const B = ids.length;
  const T = ids[0].length;
  const mask = matrix(json, "attention_mask", false);
  if (mask && (mask.length !== B || mask[0].length !== T))
    throw new UsageError(`inputs: "attention_mask" must be ${B}×${T}`);
  const dec = matrix(json, "decoder_input_ids", false);
  const labels = matrix(json, "labels", false);
  const target = dec ?? labels;
  if (!target) throw new UsageError('inputs: T5 needs "decoder_input_ids" or "labels"');
  if (target.length !== B) throw new UsageError(`inputs: decoder rows must be ${B} like input_ids`);
  const Td = target[0].length;
  const model = await loadT5Dir(modelDir, { dtype });
  const out = model.forward(
    {
      inputIds: Int32Array.from(ids.flat()),
      attentionMask: mask ? Int32Array.from(mask.flat()) : undefined,
      batch: B,
      seq: T,
      decoderInputIds: dec ? Int32Array.from(dec.flat()) : undefined,
      labels: labels ? Int32Array.from(labels.flat()) : undefined,
      decoderSeq: Td,
    },
    { hiddenStates: true },
  );
  const C = model.config.dModel;
  const tensors: Record<string, TensorInput> = {};
  const f32 = (data: Float32Array, shape: number[]) => ({ dtype: "F32" as const, shape, data });
  tensors.logits = f32(out.logits, [B, Td, model.config.vocabSize]);
  tensors.encoder_last_hidden_state = f32(out.encoderLastHiddenState, [B, T, C]);
  out.encoderHiddenStates?.forEach((x, i) => {
    tensors[`encoder_hidden_states.${i}`] = f32(x, [B, T, C]);
  });
  out.hiddenStates?.forEach((x, i) => {
    tensors[`decoder_hidden_states.${i}`] = f32(x, [B, Td, C]);
  });
  if (out.loss !== undefined) tensors.loss = f32(Float32Array.of(out.loss), [1]);
  await writeSafetensorsFileAtomic(outPath, tensors, { producer: "edgeformer", dtype });
  return JSON.stringify({
    out: outPath,
    tensors: Object.keys(tensors),
    ...(out.loss !== undefined ? { loss: out.loss } : {}),
  });
}
