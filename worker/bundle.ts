// Model files embedded in the worker bundle, by "<folder>/<file>" (model sources "bundle:<folder>").
// safetensors files are Data modules (ArrayBuffer) by the [[rules]] in wrangler.toml; JSON files are
// bundled as parsed objects. Until the embedded default models exist, these are the tiny test fixtures
// (a 2-layer BERT with MLM + NSP heads and a 3-label classification head, a 2-layer T5 trained to copy)
// — about 2.6 MB in all — and a 40 kB adapter folder for the BERT (bert_tiny_adapter: a 2-label head
// trained with Houlsby adapters). Under Node, "bundle:<folder>" reads MODELS_DIR/<folder> instead.
import bertClassifierHead from "../test/fixtures/bert_tiny/classifier_head.safetensors";
import bertConfig from "../test/fixtures/bert_tiny/config.json" with { type: "json" };
import bertWeights from "../test/fixtures/bert_tiny/model.safetensors";
import bertAdapterWeights from "../test/fixtures/bert_tiny_adapter/adapter.safetensors";
import bertAdapterConfig from "../test/fixtures/bert_tiny_adapter/adapter_config.json" with { type: "json" };
import t5Config from "../test/fixtures/t5_tiny_copy/config.json" with { type: "json" };
import t5Weights from "../test/fixtures/t5_tiny_copy/model.safetensors";
import bertTokenizer from "../test/fixtures/tok/bert/tokenizer.json" with { type: "json" };
import bertTokenizerConfig from "../test/fixtures/tok/bert/tokenizer_config.json" with { type: "json" };
import t5Tokenizer from "../test/fixtures/tok/t5/tokenizer.json" with { type: "json" };
import t5TokenizerConfig from "../test/fixtures/tok/t5/tokenizer_config.json" with { type: "json" };
import type { BundleFiles } from "./sources.ts";

export const BUNDLE: BundleFiles = {
  "bert_tiny/config.json": bertConfig,
  "bert_tiny/model.safetensors": bertWeights,
  "bert_tiny/classifier_head.safetensors": bertClassifierHead,
  "bert_tiny_adapter/adapter_config.json": bertAdapterConfig,
  "bert_tiny_adapter/adapter.safetensors": bertAdapterWeights,
  "tok/bert/tokenizer.json": bertTokenizer,
  "tok/bert/tokenizer_config.json": bertTokenizerConfig,
  "t5_tiny_copy/config.json": t5Config,
  "t5_tiny_copy/model.safetensors": t5Weights,
  "tok/t5/tokenizer.json": t5Tokenizer,
  "tok/t5/tokenizer_config.json": t5TokenizerConfig,
};
