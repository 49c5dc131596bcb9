// `edgeformer evaluate --model DIR --tasks tasks.json [--train-tasks tasks.json] [--limit N] [--dtype f32|int8]
// [--no-repeat-ngram-size N] [--repetition-penalty X]`: held-out scores of a text-to-text model per task
// (exact match, token F1) next to the majority-target and copy-the-input baselines, with a few sample
// outputs (src/train/t5-eval.ts). JSON on stdout: {model, dtype, settings (the generation settings), tasks}.
import { loadT5PipelineDir } from "../../models/load-node.ts";
import { evaluateTasks } from "../../train/t5-eval.ts";
import { loadTasksFile } from "../../train/t5data/node.ts";
import { dir, type Flags, int, num, oneOf, str, UsageError } from "../args.ts";

export const EVALUATE_SUMMARY =
  "--model DIR --tasks tasks.json [--train-tasks tasks.json] [--limit N] [--batch B] [--max-new-tokens N] [--no-repeat-ngram-size N] [--repetition-penalty X] [--samples N] [--dtype f32|int8]";

export async function evaluateCommand(flags: Flags): Promise<string> {
  const model = dir(flags, "model");
  const tasksPath = str(flags, "tasks", true)!;
  const trainPath = str(flags, "train-tasks");
  const load = async (p: string) => {
    try {
      return (await loadTasksFile(p)).loaded;
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  };
  const tasks = await load(tasksPath);
  const trainTasks = trainPath ? await load(trainPath) : undefined;
  const dtype = oneOf(flags, "dtype", ["f32", "int8"] as const, "f32");
  const settings = {
    limit: int(flags, "limit", 200, 1)!,
    batch: int(flags, "batch", 16, 1)!,
    max_new_tokens: int(flags, "max-new-tokens", 48, 1)!,
    no_repeat_ngram_size: int(flags, "no-repeat-ngram-size", 0, 0)!,
    repetition_penalty: num(flags, "repetition-penalty", 1)!,
  };
  if (!(settings.repetition_penalty > 0)) throw new UsageError("--repetition-penalty must be > 0 (1 = off)");
  const p = await loadT5PipelineDir(model, { dtype });
  const report = evaluateTasks(p, tasks, {
    limit: settings.limit,
    batch: settings.batch,
    maxNewTokens: settings.max_new_tokens,
    noRepeatNgramSize: settings.no_repeat_ngram_size,
    repetitionPenalty: settings.repetition_penalty,
    samples: int(flags, "samples", 5, 0),
    trainTasks,
  });
  return JSON.stringify({ model, dtype, settings, tasks: report }, null, 2);
}
