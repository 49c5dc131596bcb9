// Loading a model folder in Node: config.json + safetensors + tokenizer files → a ready BERT or T5
// pipeline, in f32 or int8, on a shared kernel runtime. Weights are read from disk straight into wasm
// memory (openTensors), the fastest way to load a model in Node.

import type { KernelRuntime } from "../runtime/load.ts";
import { loadRuntime } from "../runtime/node.ts";
import { loadTokenizerDir } from "../tokenizers/node.ts";
import type { Tokenizer } from "../tokenizers/types.ts";
import { BertModel } from "./bert.ts";
import { bertConfigFromJson } from "./bert-config.ts";
import { openTensors, readConfig } from "./checkpoint-node.ts";
import type { WeightDType } from "./linear.ts";
import { T5Model } from "./t5.ts";
import { t5ConfigFromJson } from "./t5-config.ts";
import { CheckpointError } from "./tensors.ts";

let shared: Promise<KernelRuntime> | undefined;

/** One kernel runtime per process (relaxed SIMD where the engine supports it). */
export function sharedRuntime(): Promise<KernelRuntime> {
  shared ??= loadRuntime();
  return shared;
}

export async function modelType(dir: string): Promise<string> {
  const cfg = await readConfig(dir);
  if (typeof cfg.model_type !== "string")
    throw new CheckpointError(`config.json in ${dir} has no model_type`);
  return cfg.model_type;
}

export async function loadBertDir(
  dir: string,
  opts: { dtype?: WeightDType; runtime?: KernelRuntime; extraWeights?: string[] } = {},
): Promise<BertModel> {
  const rt = opts.runtime ?? (await sharedRuntime());
  const config = bertConfigFromJson(await readConfig(dir));
  return new BertModel(rt, config, await openTensors(dir, opts.extraWeights), { dtype: opts.dtype });
}

export async function loadBertPipelineDir(
  dir: string,
  opts: { dtype?: WeightDType; tokenizerDir?: string; runtime?: KernelRuntime } = {},
): Promise<{ model: BertModel; tokenizer: Tokenizer }> {
  const [model, tokenizer] = await Promise.all([
    loadBertDir(dir, opts),
    loadTokenizerDir(opts.tokenizerDir ?? dir),
  ]);
  return { model, tokenizer };
}

export async function loadT5Dir(
  dir: string,
  opts: { dtype?: WeightDType; runtime?: KernelRuntime } = {},
): Promise<T5Model> {
  const rt = opts.runtime ?? (await sharedRuntime());
  const config = t5ConfigFromJson(await readConfig(dir));
  return new T5Model(rt, config, await openTensors(dir), { dtype: opts.dtype });
}

export async function loadT5PipelineDir(
  dir: string,
  opts: { dtype?: WeightDType; tokenizerDir?: string; runtime?: KernelRuntime } = {},
): Promise<{ model: T5Model; tokenizer: Tokenizer }> {
  const [model, tokenizer] = await Promise.all([
    loadT5Dir(dir, opts),
    loadTokenizerDir(opts.tokenizerDir ?? dir),
  ]);
  return { model, tokenizer };
}
