// `edgeformer evaluate --model DIR --tasks tasks.json [--train-tasks tasks.json] [--limit N] [--dtype f32|int8]`:
// held-out scores of a text-to-text model per task (exact match, token F1) next to the majority-target
// and copy-the-input baselines, with a few sample outputs (src/train/t5-eval.ts). JSON on stdout.
import { loadT5PipelineDir } from "../../models/load-node.ts";
import { evaluateTasks } from "../../train/t5-eval.ts";
import { loadTasksFile } from "../../train/t5data/node.ts";
import { dir, type Flags, int, oneOf, str, UsageError } from "../args.ts";

export const EVALUATE_SUMMARY =
  "--model DIR --tasks tasks.json [--train-tasks tasks.json] [--limit N] [--batch B] [--max-new-tokens N] [--samples N] [--dtype f32|int8]";

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
  const p = await loadT5PipelineDir(model, { dtype });
  const report = evaluateTasks(p, tasks, {
    limit: int(flags, "limit", 200, 1),
    batch: int(flags, "batch", 16, 1),
    maxNewTokens: int(flags, "max-new-tokens", 48, 1),
    samples: int(flags, "samples", 5, 0),
    trainTasks,
  });
  return JSON.stringify({ model, dtype, tasks: report }, null, 2);
}
