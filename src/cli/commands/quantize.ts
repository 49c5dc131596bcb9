// `edgeformer quantize IN_DIR OUT_DIR`: writes our int8 checkpoint (I8 weights + F32 row scales in
// model.safetensors) next to copies of the config and tokenizer files; the loader reads both formats.
import { copyFile, mkdir, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { writeSafetensorsFileAtomic } from "../../io/safetensors-node.ts";
import { readConfig, readTensors } from "../../models/checkpoint-node.ts";
import { sharedRuntime } from "../../models/load-node.ts";
import { quantizeCheckpoint } from "../../models/quantize.ts";
import { UsageError } from "../args.ts";

const COPY = [
  "config.json",
  "generation_config.json",
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "vocab.txt",
  "spiece.model",
  "README.md",
];

export async function quantizeCommand(positionals: string[]): Promise<string> {
  const [inDir, outDir] = positionals;
  if (!inDir || !outDir) throw new UsageError("usage: edgeformer quantize IN_DIR OUT_DIR");
  await readConfig(inDir); // a clear error if IN_DIR is not a model folder
  const store = await readTensors(inDir);
  const rt = await sharedRuntime();
  const { tensors, metadata } = quantizeCheckpoint(rt, store);
  await mkdir(outDir, { recursive: true });
  const present = new Set(await readdir(inDir));
  for (const f of COPY) if (present.has(f)) await copyFile(join(inDir, f), join(outDir, f));
  const outFile = join(outDir, "model.safetensors");
  await writeSafetensorsFileAtomic(outFile, tensors, metadata);
  const int8 = Object.values(tensors).filter((t) => t.dtype === "I8").length;
  return JSON.stringify({ out: outFile, int8_tensors: int8, bytes: (await stat(outFile)).size });
}
