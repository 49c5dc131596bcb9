// Training checkpoints in a run folder, written so a crash at any moment leaves only complete ones:
// every file of checkpoint-STEP is written (and fsynced) into a hidden temp folder, which is then renamed
// to checkpoint-STEP in one step; the `latest` pointer file (text: the folder's name) is replaced by
// rename afterwards, and older checkpoints are pruned last. A checkpoint folder is a Hugging Face model
// folder (config.json, model.safetensors, the tokenizer's files) plus the optimizer
// (optimizer.safetensors: exp_avg.NAME and exp_avg_sq.NAME as PyTorch's AdamW state, and the step) and
// trainer_state.json (step, data position, seeds, schedule, settings).
import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { SafetensorsFile, type TensorInput, writeSafetensors } from "../io/safetensors.ts";
import type { ParamStore } from "./params.ts";

export const LATEST = "latest";
const CHECKPOINT = /^checkpoint-(\d+)$/;
const TEMP = /^\.(?:(?:checkpoint-\d+|latest)\.tmp-[0-9a-f]{12}|.+\.[0-9a-f]{12}\.tmp)$/;

/** Writes and fsyncs a file (no rename: callers write into a temp folder or rename themselves). */
async function writeSynced(path: string, data: string | Uint8Array): Promise<void> {
  const fh = await open(path, "w");
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsyncs a folder so a rename inside it is durable (not supported everywhere: best effort). */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, "r");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // e.g. Windows cannot open folders
  }
}

export function checkpointName(step: number): string {
  return `checkpoint-${step}`;
}

/** The checkpoint folders of a run, by step (ascending). */
export async function listCheckpoints(outDir: string): Promise<{ step: number; dir: string }[]> {
  const names = await readdir(outDir).catch(() => [] as string[]);
  return names
    .map((n) => ({ m: CHECKPOINT.exec(n), n }))
    .filter((x) => x.m)
    .map((x) => ({ step: Number(x.m![1]), dir: join(outDir, x.n) }))
    .sort((a, b) => a.step - b.step);
}

/** The checkpoint the `latest` pointer names, or undefined when there is none yet. */
export async function readLatest(outDir: string): Promise<{ step: number; dir: string } | undefined> {
  const text = await readFile(join(outDir, LATEST), "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  const name = text.trim();
  const m = CHECKPOINT.exec(name);
  if (!m)
    throw new Error(`${join(outDir, LATEST)} does not name a checkpoint folder: ${JSON.stringify(name)}`);
  return { step: Number(m[1]), dir: join(outDir, name) };
}

/**
 * Removes what an interrupted run can leave: temp folders and files, and checkpoints newer than the
 * `latest` one (renamed into place but not yet pointed to; the resumed run writes them again).
 */
export async function cleanRunFolder(outDir: string, latestStep: number | undefined): Promise<void> {
  for (const n of await readdir(outDir).catch(() => [] as string[]))
    if (TEMP.test(n)) await rm(join(outDir, n), { recursive: true, force: true });
  for (const c of await listCheckpoints(outDir))
    if (latestStep === undefined || c.step > latestStep) await rm(c.dir, { recursive: true, force: true });
}

export interface CheckpointFiles {
  /** config.json object. */
  config: Record<string, unknown>;
  /** Tokenizer files by name (BERT: vocab.txt and tokenizer_config.json; T5: spiece.model, …). */
  tokenizer: Record<string, string | Uint8Array>;
  model: Record<string, TensorInput>;
  /** trainer_state.json object. */
  state: Record<string, unknown>;
}

/**
 * AdamW's moments of the trainable tensors under PyTorch's state names (frozen tensors have no optimizer
 * state and are left out), and the step count; a tensor whose own step count differs from it (unfrozen
 * later) also gets `step.NAME` (I64 [1]).
 */
export function optimizerTensors(params: ParamStore): Record<string, TensorInput> {
  const out: Record<string, TensorInput> = {};
  const names = params.trainableNames();
  for (const [region, prefix] of [
    ["m", "exp_avg."],
    ["v", "exp_avg_sq."],
  ] as const) {
    for (const name of names) {
      const e = params.entry(name);
      out[prefix + name] = { dtype: "F32", shape: [...e.shape], data: params.view(name, region).slice() };
    }
  }
  out.step = { dtype: "I64", shape: [1], data: BigInt64Array.of(BigInt(params.step)) };
  for (const name of names) {
    const st = params.tensorStep(name);
    if (st !== params.step)
      out[`step.${name}`] = { dtype: "I64", shape: [1], data: BigInt64Array.of(BigInt(st)) };
  }
  return out;
}

/**
 * Loads optimizer.safetensors into the store's m and v regions and step counters. Set the trainable mask
 * first: the trainable tensors' state must be in the file (a clear error names those missing); frozen
 * tensors keep zero state.
 */
export function loadOptimizer(params: ParamStore, file: SafetensorsFile): void {
  const names = params.trainableNames();
  const missing = names.filter((n) => !file.has(`exp_avg.${n}`) || !file.has(`exp_avg_sq.${n}`));
  if (missing.length)
    throw new Error(
      `${file.fileName}: no optimizer state for ${missing.length} trainable tensors (${missing.slice(0, 4).join(", ")}${missing.length > 4 ? ", …" : ""}); were they frozen when it was saved?`,
    );
  if (!file.has("step")) throw new Error(`${file.fileName}: no step`);
  params.step = file.int64AsNumbers("step")[0];
  for (const name of names) {
    params.set(name, file.float32(`exp_avg.${name}`), "m");
    params.set(name, file.float32(`exp_avg_sq.${name}`), "v");
    params.setTensorStep(
      name,
      file.has(`step.${name}`) ? file.int64AsNumbers(`step.${name}`)[0] : params.step,
    );
  }
}

export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  const b = await readFile(path);
  return SafetensorsFile.parse(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), basename(path));
}

/**
 * Writes checkpoint-STEP atomically (temp folder, then rename), points `latest` at it, then prunes all
 * but the newest `keep` checkpoints. Returns the folder.
 */
export async function writeCheckpoint(
  outDir: string,
  step: number,
  files: CheckpointFiles,
  optimizer: Record<string, TensorInput>,
  keep: number,
): Promise<string> {
  const name = checkpointName(step);
  const final = join(outDir, name);
  const tmp = join(outDir, `.${name}.tmp-${randomBytes(6).toString("hex")}`);
  await mkdir(tmp);
  try {
    await writeSynced(join(tmp, "config.json"), `${JSON.stringify(files.config, null, 2)}\n`);
    for (const [file, data] of Object.entries(files.tokenizer)) await writeSynced(join(tmp, file), data);
    await writeSynced(join(tmp, "model.safetensors"), writeSafetensors(files.model, { format: "pt" }));
    await writeSynced(
      join(tmp, "optimizer.safetensors"),
      writeSafetensors(optimizer, { format: "pt", optimizer: "AdamW" }),
    );
    await writeSynced(join(tmp, "trainer_state.json"), `${JSON.stringify(files.state, null, 2)}\n`);
    await syncDir(tmp);
    await rm(final, { recursive: true, force: true }); // a leftover of an interrupted run at this step
    await rename(tmp, final);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  await syncDir(outDir);
  const ptrTmp = join(outDir, `.${LATEST}.tmp-${randomBytes(6).toString("hex")}`);
  await writeSynced(ptrTmp, `${name}\n`);
  await rename(ptrTmp, join(outDir, LATEST));
  await syncDir(outDir);
  const all = await listCheckpoints(outDir);
  for (const c of all.slice(0, Math.max(0, all.length - Math.max(1, keep))))
    if (c.step !== step) await rm(c.dir, { recursive: true, force: true });
  return final;
}

/** Writes a file atomically: temp file in the same folder, fsync, rename. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await writeSynced(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
