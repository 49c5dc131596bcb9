// `edgeformer fill-mask | embed | nsp | classify --model DIR --text T [--text T2 …]`: the BERT tasks for
// people — readable lines by default, the task's JSON with --json. classify --task NAME picks the head of
// a multi-task model (required when it has more than one task).
import { loadBertPipelineDir } from "../../models/load-node.ts";
import { classify } from "../../tasks/classify.ts";
import { embed } from "../../tasks/embeddings.ts";
import { fillMask } from "../../tasks/fill-mask.ts";
import { nextSentence } from "../../tasks/next-sentence.ts";
import { dir, type Flags, int, oneOf, UsageError } from "../args.ts";

function texts(flags: Flags, name = "text"): string[] {
  const v = flags[name];
  const list = (Array.isArray(v) ? v : v === undefined ? [] : [v]) as unknown[];
  if (list.length === 0) throw new UsageError(`--${name} is required`);
  if (list.some((t) => typeof t !== "string")) throw new UsageError(`--${name} needs a value`);
  return list as string[];
}

async function pipeline(flags: Flags) {
  const model = dir(flags, "model");
  const dtype = oneOf(flags, "dtype", ["f32", "int8"] as const, "f32");
  return loadBertPipelineDir(model, {
    dtype,
    tokenizerDir: flags.tokenizer ? dir(flags, "tokenizer") : undefined,
  });
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

export async function fillMaskCommand(flags: Flags): Promise<string> {
  const input = texts(flags);
  const topK = int(flags, "top-k", 5, 1);
  const result = fillMask(await pipeline(flags), input, { topK });
  if (flags.json)
    return JSON.stringify(result.length === 1 ? (result[0].length === 1 ? result[0][0] : result[0]) : result);
  return result
    .map((masks, i) =>
      [
        `${input[i]}`,
        ...masks.flatMap((cands, m) => [
          masks.length > 1 ? `  mask ${m + 1}:` : "",
          ...cands.map((c) => `  ${pct(c.score).padStart(7)}  ${c.token_str.padEnd(14)} ${c.sequence}`),
        ]),
      ]
        .filter(Boolean)
        .join("\n"),
    )
    .join("\n\n");
}

export async function embedCommand(flags: Flags): Promise<string> {
  const input = texts(flags);
  const pooling = oneOf(flags, "pooling", ["mean", "cls"] as const, "mean");
  const { embeddings, tokenCounts } = embed(await pipeline(flags), input, {
    pooling,
    normalize: Boolean(flags.normalize),
  });
  if (flags.json) return JSON.stringify(embeddings.map((e) => Array.from(e)));
  return embeddings
    .map(
      (e, i) =>
        `${input[i]}\n  ${e.length} dims, ${tokenCounts[i]} tokens, |v| = ${Math.hypot(...e).toFixed(4)}: [${Array.from(e.slice(0, 6), (x) => x.toFixed(4)).join(", ")}, …]`,
    )
    .join("\n");
}

export async function nspCommand(flags: Flags): Promise<string> {
  const a = texts(flags);
  const b = texts(flags, "pair");
  if (a.length !== b.length) throw new UsageError("give one --pair for each --text");
  const result = nextSentence(
    await pipeline(flags),
    a.map((t, i) => [t, b[i]]),
  );
  if (flags.json) return JSON.stringify(result);
  return result.map((r, i) => `${pct(r.isNextProbability)} that "${b[i]}" follows "${a[i]}"`).join("\n");
}

export async function classifyCommand(flags: Flags): Promise<string> {
  const input = texts(flags);
  const p = await pipeline(flags);
  const task = typeof flags.task === "string" ? flags.task : undefined;
  if (flags.task !== undefined && task === undefined) throw new UsageError("--task needs a value");
  const tasks = p.model.tasks;
  if (task !== undefined && !tasks.includes(task))
    throw new UsageError(
      tasks.length
        ? `--task ${task}: the model has no head for it (tasks: ${tasks.join(", ")})`
        : `--task ${task}: the model has a single classifier head (no tasks to choose from)`,
    );
  if (task === undefined && tasks.length > 1)
    throw new UsageError(`the model has one head per task: choose one with --task (${tasks.join(", ")})`);
  const labels = task === undefined ? p.model.config.id2label : p.model.taskLabels(task);
  const topK = int(flags, "top-k", labels.length, 1);
  const result = classify(p, input, { topK, task });
  if (flags.json) return JSON.stringify(result);
  return result
    .map(
      (labels, i) =>
        `${input[i]}\n${labels.map((l) => `  ${pct(l.score).padStart(7)}  ${l.label}`).join("\n")}`,
    )
    .join("\n");
}
