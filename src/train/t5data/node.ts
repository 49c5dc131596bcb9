// Node helpers for T5 multi-task data: read tasks.json and the JSONL files it names (paths relative to
// tasks.json; see mixing.ts for the format).
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { parseJsonlExamples, parseTasksJson, type Task, type TasksFile } from "./mixing.ts";

export interface LoadedTasks extends TasksFile {
  /** The tasks with their examples (cap applied), in the file's order. */
  loaded: Task[];
}

/** Reads tasks.json and every task's JSONL data. */
export async function loadTasksFile(path: string): Promise<LoadedTasks> {
  const text = await readFile(path, "utf8");
  const file = parseTasksJson(text, path);
  const base = dirname(path);
  const loaded = await Promise.all(
    file.tasks.map(async (spec): Promise<Task> => {
      const dataPath = resolve(base, spec.data);
      let data: string;
      try {
        data = await readFile(dataPath, "utf8");
      } catch (err) {
        throw new Error(
          `${path}: task ${JSON.stringify(spec.name)}: cannot read ${dataPath} (${(err as Error).message})`,
        );
      }
      const examples = parseJsonlExamples(data, dataPath, spec.cap);
      if (examples.length === 0)
        throw new Error(`${path}: task ${JSON.stringify(spec.name)}: ${dataPath} has no examples`);
      return { name: spec.name, prefix: spec.prefix, examples };
    }),
  );
  return { ...file, loaded };
}
