// Model files embedded in the worker bundle, by "<folder>/<file>" (model sources "bundle:<folder>").
// Weights (*.safetensors) and SentencePiece models (*.model) are Data modules (ArrayBuffer) by the
// [[rules]] in wrangler.toml, vocab.txt a Text module (string, wrangler's default rule for *.txt); each is
// its own module, imported on first use, so a vitest-pool-workers test isolate fetches only the files
// of the models it loads. (workerd itself creates every Data module's buffer at startup — an idle
// isolate holds ~20 MiB of them — so in production all embedded files count towards the 128 MB.) JSON
// files are small and bundled as parsed objects. Under Node, "bundle:<folder>" reads the folder from
// disk instead (models/, then test/fixtures/: see worker/node.ts).
// - The embedded default models (models/, ~19 MB, int8; wrangler.toml serves them): bert-wordnet
//   (4-layer BERT with MLM + NSP heads, WordPiece vocab.txt), bert-wordnet-pos (an adapter folder on
//   bert-wordnet: the part of speech of the word a WordNet gloss defines) and t5-wordnet (4+4-layer T5).
// - The tiny test fixtures (test/fixtures/, ~2.6 MB; the workerd tests serve them with their own MODELS
//   list, test/worker/fixture-models.json): a 2-layer BERT with MLM + NSP heads and a 3-label
//   classification head, a 40 kB adapter folder for it (a 2-label head trained with Houlsby adapters),
//   a 2-layer T5 trained to copy, and their tokenizers.
import bertWordnetConfig from "../models/bert-wordnet/config.json" with { type: "json" };
import bertWordnetTokenizerConfig from "../models/bert-wordnet/tokenizer_config.json" with { type: "json" };
import bertWordnetPosConfig from "../models/bert-wordnet-pos/adapter_config.json" with { type: "json" };
import t5WordnetConfig from "../models/t5-wordnet/config.json" with { type: "json" };
import t5WordnetTokenizer from "../models/t5-wordnet/tokenizer.json" with { type: "json" };
import t5WordnetTokenizerConfig from "../models/t5-wordnet/tokenizer_config.json" with { type: "json" };
import bertConfig from "../test/fixtures/bert_tiny/config.json" with { type: "json" };
import bertAdapterConfig from "../test/fixtures/bert_tiny_adapter/adapter_config.json" with { type: "json" };
import t5Config from "../test/fixtures/t5_tiny_copy/config.json" with { type: "json" };
import bertTokenizer from "../test/fixtures/tok/bert/tokenizer.json" with { type: "json" };
import bertTokenizerConfig from "../test/fixtures/tok/bert/tokenizer_config.json" with { type: "json" };
import t5Tokenizer from "../test/fixtures/tok/t5/tokenizer.json" with { type: "json" };
import t5TokenizerConfig from "../test/fixtures/tok/t5/tokenizer_config.json" with { type: "json" };
import type { BundleFiles } from "./sources.ts";

export const BUNDLE: BundleFiles = {
  // embedded default models
  "bert-wordnet/config.json": bertWordnetConfig,
  "bert-wordnet/model.safetensors": () => import("../models/bert-wordnet/model.safetensors"),
  "bert-wordnet/tokenizer_config.json": bertWordnetTokenizerConfig,
  "bert-wordnet/vocab.txt": () => import("../models/bert-wordnet/vocab.txt"),
  "bert-wordnet-pos/adapter_config.json": bertWordnetPosConfig,
  "bert-wordnet-pos/adapter.safetensors": () => import("../models/bert-wordnet-pos/adapter.safetensors"),
  "t5-wordnet/config.json": t5WordnetConfig,
  "t5-wordnet/model.safetensors": () => import("../models/t5-wordnet/model.safetensors"),
  "t5-wordnet/spiece.model": () => import("../models/t5-wordnet/spiece.model"),
  "t5-wordnet/tokenizer.json": t5WordnetTokenizer,
  "t5-wordnet/tokenizer_config.json": t5WordnetTokenizerConfig,
  // test fixtures
  "bert_tiny/config.json": bertConfig,
  "bert_tiny/model.safetensors": () => import("../test/fixtures/bert_tiny/model.safetensors"),
  "bert_tiny/classifier_head.safetensors": () =>
    import("../test/fixtures/bert_tiny/classifier_head.safetensors"),
  "bert_tiny_adapter/adapter_config.json": bertAdapterConfig,
  "bert_tiny_adapter/adapter.safetensors": () =>
    import("../test/fixtures/bert_tiny_adapter/adapter.safetensors"),
  "tok/bert/tokenizer.json": bertTokenizer,
  "tok/bert/tokenizer_config.json": bertTokenizerConfig,
  "t5_tiny_copy/config.json": t5Config,
  "t5_tiny_copy/model.safetensors": () => import("../test/fixtures/t5_tiny_copy/model.safetensors"),
  "tok/t5/tokenizer.json": t5Tokenizer,
  "tok/t5/tokenizer_config.json": t5TokenizerConfig,
};
