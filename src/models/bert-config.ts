// BERT config.json → a validated, normalized config (Hugging Face key names mapped once, here).
import { Epilogue } from "../runtime/kernels.ts";

export interface BertConfig {
  modelType: "bert";
  architectures: string[];
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  maxPositions: number;
  typeVocabSize: number;
  layerNormEps: number;
  hiddenAct: string;
  /** Kernel activation code for hidden_act. */
  act: number;
  padTokenId: number;
  /** Labels of a classification head, by class index. */
  id2label: string[];
  /** Number of classification labels (id2label.length). */
  numLabels: number;
  /**
   * Multi-task classification (config.json "edgeformer_tasks": {task: {"id2label": {…}}}, written by
   * multi-task fine-tuning): each task's labels (and the prefix its texts were trained with, "" for
   * none), in the file's order; its head is classifier.{task}.*.
   */
  tasks?: BertTaskConfig[];
}

/** One task of a multi-task classifier. */
export interface BertTaskConfig {
  name: string;
  id2label: string[];
  /** Put before each text (as in training: a space between unless it ends with whitespace). */
  prefix: string;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

const ACTS: Record<string, number> = {
  gelu: Epilogue.geluErf,
  gelu_new: Epilogue.geluTanh,
  gelu_pytorch_tanh: Epilogue.geluTanh,
  gelu_fast: Epilogue.geluTanh,
  relu: Epilogue.relu,
};

function int(json: Record<string, unknown>, key: string, fallback?: number): number {
  const v = json[key] ?? fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
    throw new ConfigError(
      `config.json: "${key}" must be a non-negative integer, got ${JSON.stringify(json[key])}`,
    );
  }
  return v;
}

export function bertConfigFromJson(json: unknown): BertConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json))
    throw new ConfigError("config.json: not a JSON object");
  const j = json as Record<string, unknown>;
  if (j.model_type !== undefined && j.model_type !== "bert") {
    throw new ConfigError(`config.json: model_type is ${JSON.stringify(j.model_type)}, expected "bert"`);
  }
  const hiddenAct = (j.hidden_act ?? "gelu") as string;
  const act = ACTS[hiddenAct];
  if (act === undefined)
    throw new ConfigError(
      `config.json: hidden_act ${JSON.stringify(hiddenAct)} is not supported (${Object.keys(ACTS).join(", ")})`,
    );
  const hiddenSize = int(j, "hidden_size");
  const numHeads = int(j, "num_attention_heads");
  if (numHeads === 0 || hiddenSize % numHeads !== 0) {
    throw new ConfigError(
      `config.json: hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}`,
    );
  }
  const id2labelRaw = (j.id2label ?? {}) as Record<string, string>;
  const numLabels = typeof j.num_labels === "number" ? j.num_labels : Object.keys(id2labelRaw).length;
  const id2label = Array.from({ length: numLabels }, (_, i) => String(id2labelRaw[i] ?? `LABEL_${i}`));
  const tasks = j.edgeformer_tasks === undefined ? undefined : parseTasks(j.edgeformer_tasks);
  const eps = j.layer_norm_eps ?? 1e-12;
  if (typeof eps !== "number" || !(eps > 0))
    throw new ConfigError(`config.json: layer_norm_eps must be a positive number`);
  return {
    modelType: "bert",
    architectures: Array.isArray(j.architectures) ? (j.architectures as string[]) : ["BertModel"],
    vocabSize: int(j, "vocab_size"),
    hiddenSize,
    numLayers: int(j, "num_hidden_layers"),
    numHeads,
    intermediateSize: int(j, "intermediate_size"),
    maxPositions: int(j, "max_position_embeddings", 512),
    typeVocabSize: int(j, "type_vocab_size", 2),
    layerNormEps: eps,
    hiddenAct,
    act,
    padTokenId: int(j, "pad_token_id", 0),
    id2label,
    numLabels: id2label.length,
    ...(tasks ? { tasks } : {}),
  };
}

/** "edgeformer_tasks": {task: {"id2label": {"0": label, …}, "prefix"?: "…"}} → tasks with their labels. */
function parseTasks(v: unknown): BertTaskConfig[] {
  const bad = (msg: string): never => {
    throw new ConfigError(`config.json: edgeformer_tasks ${msg}`);
  };
  if (typeof v !== "object" || v === null || Array.isArray(v)) bad("must map task names to {id2label}");
  const out: BertTaskConfig[] = [];
  for (const [name, t] of Object.entries(v as Record<string, unknown>)) {
    if (name === "" || /[.\s]/.test(name)) bad(`has task name ${JSON.stringify(name)} (no dots or spaces)`);
    const m = (t as { id2label?: unknown } | null)?.id2label;
    if (typeof m !== "object" || m === null || Array.isArray(m)) bad(`.${name} needs an id2label object`);
    const labels = m as Record<string, unknown>;
    const n = Object.keys(labels).length;
    const id2label = Array.from({ length: n }, (_, i) => labels[i]);
    if (n < 1 || !id2label.every((l) => typeof l === "string"))
      bad(`.${name}.id2label must map 0…n−1 to label strings`);
    const prefix = (t as { prefix?: unknown }).prefix ?? "";
    if (typeof prefix !== "string") bad(`.${name}.prefix must be a string`);
    out.push({ name, id2label: id2label as string[], prefix: prefix as string });
  }
  if (out.length === 0) bad("lists no task");
  return out;
}
