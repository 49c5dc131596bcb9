// `edgeformer grad --model DIR --inputs FILE.json --out FILE.safetensors`: the loss and the gradient of
// every parameter under its Hugging Face name, for a labeled batch shaped like the reference fixtures.
// BERT: pretraining (`mlm_labels` and/or `next_sentence_label`) or sequence classification (`labels`);
// the output holds `loss` (plus `mlm_loss` and `nsp_loss` when both are given) as [1] tensors beside the
// gradients. T5 (T5ForConditionalGeneration): `input_ids`, optional `attention_mask`, `labels`
// [batch][target length] (−100 = ignored) and optional `decoder_input_ids` (default: labels shifted
// right after the decoder start token); the output holds `loss` beside the gradients. So users can check
// us against PyTorch.
import { readFile } from "node:fs/promises";
import type { TensorInput } from "../../io/safetensors.ts";
import { writeSafetensorsFileAtomic } from "../../io/safetensors-node.ts";
import { bertConfigFromJson } from "../../models/bert-config.ts";
import { readConfig, readTensors } from "../../models/checkpoint-node.ts";
import { sharedRuntime } from "../../models/load-node.ts";
import { t5ConfigFromJson } from "../../models/t5-config.ts";
import { type BertBatch, BertTrainer } from "../../train/bert-train.ts";
import { type T5Batch, T5Trainer } from "../../train/t5-train.ts";
import { dir, type Flags, str, UsageError } from "../args.ts";

const isInt = (x: unknown) => Number.isInteger(x);
const scalar = (x: number): TensorInput => ({ dtype: "F32", shape: [1], data: Float32Array.of(x) });

function matrix(
  json: Record<string, unknown>,
  key: string,
  B?: number,
  T?: number,
  like = "input_ids",
): Int32Array | undefined {
  const v = json[key];
  if (v === undefined) return undefined;
  if (
    !Array.isArray(v) ||
    v.length === 0 ||
    !v.every((r) => Array.isArray(r) && r.length > 0 && r.every(isInt))
  )
    throw new UsageError(`inputs: "${key}" must be a non-empty [batch][seq] array of integers`);
  const rows = v as number[][];
  if (rows.some((r) => r.length !== rows[0].length))
    throw new UsageError(`inputs: rows of "${key}" differ in length`);
  if (B !== undefined && (rows.length !== B || rows[0].length !== T))
    throw new UsageError(`inputs: "${key}" must be ${B}×${T} like ${like}`);
  return Int32Array.from(rows.flat());
}

function vector(json: Record<string, unknown>, key: string, B: number): Int32Array | undefined {
  const v = json[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every(isInt) || v.length !== B)
    throw new UsageError(`inputs: "${key}" must be an array of ${B} integers (one per row of input_ids)`);
  return Int32Array.from(v as number[]);
}

export async function gradCommand(flags: Flags): Promise<string> {
  const modelDir = dir(flags, "model");
  const inputsPath = str(flags, "inputs", true)!;
  const outPath = str(flags, "out", true)!;
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(await readFile(inputsPath, "utf8"));
  } catch (err) {
    throw new UsageError(`--inputs ${inputsPath}: ${(err as Error).message}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json))
    throw new UsageError(`--inputs ${inputsPath}: not a JSON object`);
  const rawConfig = await readConfig(modelDir);
  if (rawConfig.model_type === "t5" || rawConfig.model_type === "mt5")
    return t5Grad(json, rawConfig, modelDir, outPath);
  if (rawConfig.model_type !== "bert")
    throw new UsageError(
      `grad: model_type ${JSON.stringify(rawConfig.model_type)} is not supported (bert, t5)`,
    );

  const inputIds = matrix(json, "input_ids");
  if (!inputIds) throw new UsageError('inputs: "input_ids" is required');
  const B = (json.input_ids as number[][]).length;
  const T = inputIds.length / B;
  const batch: BertBatch = {
    inputIds,
    attentionMask: matrix(json, "attention_mask", B, T),
    tokenTypeIds: matrix(json, "token_type_ids", B, T),
    mlmLabels: matrix(json, "mlm_labels", B, T),
    nextSentenceLabel: vector(json, "next_sentence_label", B),
    labels: vector(json, "labels", B),
    batch: B,
    seq: T,
  };
  if (!batch.mlmLabels && !batch.nextSentenceLabel && !batch.labels)
    throw new UsageError(
      'inputs: give "mlm_labels" and/or "next_sentence_label" (pretraining) or "labels" (classification)',
    );
  if (batch.labels && (batch.mlmLabels || batch.nextSentenceLabel))
    throw new UsageError('inputs: "labels" (classification) cannot be combined with pretraining labels');

  const config = bertConfigFromJson(rawConfig);
  const trainer = new BertTrainer(await sharedRuntime(), config, {
    weights: await readTensors(modelDir),
    tieWordEmbeddings: rawConfig.tie_word_embeddings !== false,
  });
  const out = trainer.lossAndGrad(batch);
  const tensors: Record<string, TensorInput> = { loss: scalar(out.loss) };
  const both = out.mlmLoss !== undefined && out.nspLoss !== undefined;
  if (both) {
    tensors.mlm_loss = scalar(out.mlmLoss!);
    tensors.nsp_loss = scalar(out.nspLoss!);
  }
  Object.assign(tensors, trainer.exportGradients());
  await writeSafetensorsFileAtomic(outPath, tensors, { producer: "edgeformer", what: "gradients" });
  return JSON.stringify({
    out: outPath,
    architecture: trainer.arch,
    loss: out.loss,
    ...(both ? { mlm_loss: out.mlmLoss, nsp_loss: out.nspLoss } : {}),
    parameters: trainer.params.names().length,
    grad_norm: trainer.params.gradNorm(),
  });
}

/** The T5 path: encoder inputs, labels (−100 ignored), optional decoder_input_ids. */
async function t5Grad(
  json: Record<string, unknown>,
  rawConfig: Record<string, unknown>,
  modelDir: string,
  outPath: string,
): Promise<string> {
  const inputIds = matrix(json, "input_ids");
  if (!inputIds) throw new UsageError('inputs: "input_ids" is required');
  const B = (json.input_ids as number[][]).length;
  const T = inputIds.length / B;
  const labels = matrix(json, "labels");
  if (!labels)
    throw new UsageError('inputs: "labels" ([batch][target length], −100 = ignored) is required for T5');
  if ((json.labels as number[][]).length !== B)
    throw new UsageError(`inputs: "labels" must have ${B} rows, one per row of input_ids`);
  const Td = labels.length / B;
  if (labels.every((y) => y === -100))
    throw new UsageError("inputs: every label is −100 (ignored): there is no loss to differentiate");
  const batch: T5Batch = {
    inputIds,
    attentionMask: matrix(json, "attention_mask", B, T),
    labels,
    decoderInputIds: matrix(json, "decoder_input_ids", B, Td, "labels"),
    batch: B,
    seq: T,
    decoderSeq: Td,
  };
  const trainer = new T5Trainer(await sharedRuntime(), t5ConfigFromJson(rawConfig), {
    weights: await readTensors(modelDir),
  });
  const out = trainer.lossAndGrad(batch);
  const tensors: Record<string, TensorInput> = { loss: scalar(out.loss), ...trainer.exportGradients() };
  await writeSafetensorsFileAtomic(outPath, tensors, { producer: "edgeformer", what: "gradients" });
  return JSON.stringify({
    out: outPath,
    architecture: "T5ForConditionalGeneration",
    loss: out.loss,
    tokens: out.tokens,
    tied_head: trainer.tied,
    parameters: trainer.params.names().length,
    grad_norm: trainer.params.gradNorm(),
  });
}
