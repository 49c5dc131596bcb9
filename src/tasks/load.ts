// Loading a served model from file bytes, wherever they come from (a Workers bundle, an R2 bucket, a
// local folder): config.json → BERT or T5, the safetensors weights (one file, shards listed in
// model.safetensors.index.json, plus extra files such as a classification head), the tokenizer files,
// then a short warm-up so the first real request does not pay for cold kernels. An adapter folder
// (adapter_config.json + adapter.safetensors, src/models/adapters.ts) may be loaded on top: checked
// against the base, its tensors overlaid on the base's and its task settings (labels) on the config
// (after configOverrides: the adapter's head and labels go together).
// Pure: no Node imports.
import { SafetensorsFile } from "../io/safetensors.ts";
import {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  type AdapterConfig,
  adaptedConfig,
  checkAdapterBase,
  overlayTensors,
  readAdapterConfig,
} from "../models/adapters.ts";
import { BertModel } from "../models/bert.ts";
import { bertConfigFromJson } from "../models/bert-config.ts";
import type { WeightDType } from "../models/linear.ts";
import { T5Model } from "../models/t5.ts";
import { t5ConfigFromJson } from "../models/t5-config.ts";
import { CheckpointError, TensorStore } from "../models/tensors.ts";
import type { KernelRuntime } from "../runtime/load.ts";
import { loadTokenizerFromFiles } from "../tokenizers/load.ts";
import type { T5Pipeline } from "./generate.ts";
import type { BertPipeline } from "./pipeline.ts";
import { type BertTaskName, supportedTasks } from "./registry.ts";

/** Reads one file of a model folder; undefined when the file does not exist. */
export type FileReader = (name: string) => Promise<Uint8Array | undefined>;

export type ServedTask = BertTaskName | "generate";

export interface LoadOptions {
  dtype?: WeightDType;
  /** Safetensors files to read besides the checkpoint's own (e.g. "classifier_head.safetensors"). */
  extraWeights?: string[];
  /** Keys merged over config.json (e.g. architectures, id2label for an added head). */
  configOverrides?: Record<string, unknown>;
  /** Longest input in tokens the pipeline accepts (truncation point). */
  maxLength?: number;
  /** Run a few short forward passes after loading (default true). */
  warmUp?: boolean;
  /** An adapter folder to load on top of the base model. */
  adapter?: FileReader;
}

/** The adapter a model was loaded with. */
export interface LoadedAdapter {
  config: AdapterConfig;
  /** Bytes of adapter files read. */
  fileBytes: number;
}

export type LoadedModel =
  | {
      arch: "bert";
      pipeline: BertPipeline;
      tasks: ServedTask[];
      dtype: WeightDType;
      weightBytes: number;
      /** Bytes of checkpoint files read. */
      fileBytes: number;
      adapter?: LoadedAdapter;
    }
  | {
      arch: "t5";
      pipeline: T5Pipeline;
      tasks: ServedTask[];
      dtype: WeightDType;
      weightBytes: number;
      fileBytes: number;
      adapter?: LoadedAdapter;
    };

const utf8 = new TextDecoder();

async function required(read: FileReader, name: string, what: string): Promise<Uint8Array> {
  const bytes = await read(name);
  if (!bytes) throw new CheckpointError(`${what} ${name}: file not found`);
  return bytes;
}

function parseJson(bytes: Uint8Array, name: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(utf8.decode(bytes));
  } catch (err) {
    throw new CheckpointError(`${name} is not valid JSON: ${(err as Error).message}`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v))
    throw new CheckpointError(`${name} must hold a JSON object`);
  return v as Record<string, unknown>;
}

/** The weight files of a checkpoint: model.safetensors, or the shards its index lists. */
async function weightFiles(read: FileReader): Promise<string[]> {
  const index = await read("model.safetensors.index.json");
  if (!index) return ["model.safetensors"];
  const map = parseJson(index, "model.safetensors.index.json").weight_map as
    | Record<string, string>
    | undefined;
  const files = [...new Set(Object.values(map ?? {}))];
  if (files.length === 0) throw new CheckpointError("model.safetensors.index.json lists no weight files");
  return files;
}

/**
 * Loads a model folder through `read` (weights) and `readTokenizer` (tokenizer files; defaults to the
 * same folder) onto a shared kernel runtime. Throws CheckpointError / ConfigError with clear messages.
 */
export async function loadModel(
  rt: KernelRuntime,
  read: FileReader,
  opts: LoadOptions & { readTokenizer?: FileReader } = {},
): Promise<LoadedModel> {
  const readTok = opts.readTokenizer ?? read;
  let config = { ...parseJson(await required(read, "config.json", "model config"), "config.json") };
  Object.assign(config, opts.configOverrides ?? {});
  let adapter: { config: AdapterConfig; file: SafetensorsFile; fileBytes: number } | undefined;
  if (opts.adapter) {
    const cfgBytes = await required(opts.adapter, ADAPTER_CONFIG_FILE, "adapter");
    const cfg = readAdapterConfig(parseJson(cfgBytes, ADAPTER_CONFIG_FILE));
    checkAdapterBase(cfg, config);
    const bytes = await required(opts.adapter, ADAPTER_WEIGHTS_FILE, "adapter");
    const file = SafetensorsFile.parse(bytes, ADAPTER_WEIGHTS_FILE);
    const listed = new Set(cfg.trained);
    const unlisted = file.names().filter((n) => !listed.has(n));
    const absent = cfg.trained.filter((n) => !file.has(n));
    if (unlisted.length || absent.length)
      throw new CheckpointError(
        `adapter: ${ADAPTER_WEIGHTS_FILE} does not hold what ${ADAPTER_CONFIG_FILE} lists (${[...absent.map((n) => `missing ${n}`), ...unlisted.map((n) => `unlisted ${n}`)].slice(0, 4).join(", ")})`,
      );
    adapter = { config: cfg, file, fileBytes: cfgBytes.byteLength + bytes.byteLength };
    config = adaptedConfig(config, cfg);
  }
  const names = [...(await weightFiles(read)), ...(opts.extraWeights ?? [])];
  let fileBytes = 0;
  const files: SafetensorsFile[] = [];
  for (const name of names) {
    const bytes = await required(read, name, "weights");
    fileBytes += bytes.byteLength;
    files.push(SafetensorsFile.parse(bytes, name));
  }
  const baseStore = new TensorStore(files);
  const store = adapter ? overlayTensors(baseStore, new TensorStore([adapter.file])) : baseStore;
  const loadedAdapter = adapter && { config: adapter.config, fileBytes: adapter.fileBytes };
  const [tokenizerJson, tokenizerConfig, vocabTxt, spiece] = await Promise.all(
    ["tokenizer.json", "tokenizer_config.json", "vocab.txt", "spiece.model"].map((n) => readTok(n)),
  );
  const text = (b: Uint8Array | undefined) => (b ? utf8.decode(b) : undefined);
  const tokenizer = loadTokenizerFromFiles({
    tokenizerJson: text(tokenizerJson),
    tokenizerConfig: text(tokenizerConfig),
    vocabTxt: tokenizerJson ? undefined : text(vocabTxt),
    spieceModel: tokenizerJson || vocabTxt ? undefined : spiece,
  });
  const dtype = opts.dtype ?? "f32";
  const type = config.model_type;
  let loaded: LoadedModel;
  if (type === "bert") {
    const model = new BertModel(rt, bertConfigFromJson(config), store, { dtype });
    const pipeline: BertPipeline = { tokenizer, model, maxLength: opts.maxLength };
    loaded = {
      arch: "bert",
      pipeline,
      tasks: supportedTasks(pipeline),
      dtype,
      weightBytes: model.weightBytes,
      fileBytes,
      ...(loadedAdapter ? { adapter: loadedAdapter } : {}),
    };
  } else if (type === "t5" || type === "mt5") {
    const model = new T5Model(rt, t5ConfigFromJson(config), store, { dtype });
    loaded = {
      arch: "t5",
      pipeline: { tokenizer, model, maxLength: opts.maxLength },
      tasks: ["generate"],
      dtype,
      weightBytes: model.weightBytes,
      fileBytes,
      ...(loadedAdapter ? { adapter: loadedAdapter } : {}),
    };
  } else {
    throw new CheckpointError(`config.json: model_type ${JSON.stringify(type)} is not supported (bert, t5)`);
  }
  if (opts.warmUp !== false) warmUp(loaded);
  return loaded;
}

/**
 * A few short passes through every kernel the model uses, so that the engine's optimizing tier has
 * compiled them before the first request (a cold kernel in workerd runs at about half speed).
 */
export function warmUp(m: LoadedModel, rounds = 3): void {
  for (let r = 0; r < rounds; r++) {
    if (m.arch === "bert") {
      const { model } = m.pipeline;
      const T = Math.min(16, model.config.maxPositions);
      const B = 2;
      const ids = new Int32Array(B * T).fill(model.config.padTokenId === 1 ? 2 : 1);
      const mask = new Int32Array(B * T).fill(1);
      const heads = model.heads;
      model.forward(
        { inputIds: ids, attentionMask: mask, batch: B, seq: T },
        {
          mlm: heads.has("mlm") ? [0, T] : undefined,
          nsp: heads.has("nsp"),
          classify: heads.has("classifier") && !model.isTokenClassifier,
        },
      );
    } else {
      const { model } = m.pipeline;
      const T = 8;
      const ids = new Int32Array(T).fill(model.config.eosTokenId);
      const enc = model.encode(ids, undefined, 1, T);
      const state = model.createDecoderState(enc.lastHiddenState, undefined, 1, T, 2);
      try {
        model.step(state, new Int32Array([model.config.decoderStartTokenId]));
        model.step(state, new Int32Array([model.config.eosTokenId]));
      } finally {
        state.dispose();
      }
    }
  }
}
