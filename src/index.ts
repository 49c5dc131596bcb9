// Public host API of edgeformer, usable in Workers, browsers, Deno and Node (nothing here imports Node
// modules): the kernel runtime, safetensors I/O, tokenizers, the BERT and T5 models, generation and
// the task functions. Node-only helpers (reading build/ and model folders) live in
// src/runtime/node.ts ("edgeformer/node") and src/models/load-node.ts.

export {
  type ByteSource,
  type DType,
  SafetensorsError,
  SafetensorsFile,
  type TensorInfo,
  writeSafetensors,
} from "./io/safetensors.ts";
export { BertModel } from "./models/bert.ts";
export { bertConfigFromJson } from "./models/bert-config.ts";
export { quantizeCheckpoint } from "./models/quantize.ts";
export { T5Model } from "./models/t5.ts";
export { t5ConfigFromJson } from "./models/t5-config.ts";
export { type GenerateOptions, generate } from "./models/t5-generate.ts";
export { CheckpointError, TensorStore } from "./models/tensors.ts";
export { Arena } from "./runtime/arena.ts";
export { Epilogue, type KernelExports, MaskKind } from "./runtime/kernels.ts";
export {
  createRuntime,
  instantiateKernels,
  KernelRuntime,
  type RuntimeOptions,
  selfCheck,
} from "./runtime/load.ts";
export { classify } from "./tasks/classify.ts";
export { embed } from "./tasks/embeddings.ts";
export { fillMask } from "./tasks/fill-mask.ts";
export { nextSentence } from "./tasks/next-sentence.ts";
export { type BertPipeline, TaskInputError } from "./tasks/pipeline.ts";
export { answerQuestion } from "./tasks/question-answering.ts";
export { fillSpans, generateText, type T5Pipeline } from "./tasks/text2text.ts";
export { classifyTokens } from "./tasks/token-classification.ts";
export { loadTokenizerFromFiles } from "./tokenizers/load.ts";
export type { Encoding, Tokenizer } from "./tokenizers/types.ts";
