// Node helpers for multi-task data: read tasks.json and the JSONL files it names (paths relative to
// tasks.json; see mixing.ts for the format) — text-to-text tasks for T5 ({"input", "target"} lines) or
// classification tasks for BERT ({"text", "label"} lines, optional "text_pair").
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import {
  type LabeledExample,
  type MixtureTask,
  parseJsonlExamples,
  parseLabeledJsonlExamples,
  parseTasksJson,
  type Task,
  type TasksFile,
} from "./mixing.ts";

export interface LoadedTasks extends TasksFile {
  /** The tasks with their examples (cap applied), in the file's order. */
  loaded: Task[];
}

export interface LoadedClassificationTasks extends TasksFile {
  /** The tasks with their labelled examples (cap applied), in the file's order. */
  loaded: MixtureTask<LabeledExample>[];
}

type Parse<E> = (text: string, where: string, cap?: number) => E[];

async function loadWith<E>(path: string, parse: Parse<E>): Promise<TasksFile & { loaded: MixtureTask<E>[] }> {
  const text = await readFile(path, "utf8");
  const file = parseTasksJson(text, path);
  const base = dirname(path);
  const loaded = await Promise.all(
    file.tasks.map(async (spec): Promise<MixtureTask<E>> => {
      const dataPath = resolve(base, spec.data);
      let data: string;
      try {
        data = await readFile(dataPath, "utf8");
      } catch (err) {
        throw new Error(
          `${path}: task ${JSON.stringify(spec.name)}: cannot read ${dataPath} (${(err as Error).message})`,
        );
      }
      const examples = parse(data, dataPath, spec.cap);
      if (examples.length === 0)
        throw new Error(`${path}: task ${JSON.stringify(spec.name)}: ${dataPath} has no examples`);
      return { name: spec.name, prefix: spec.prefix, examples };
    }),
  );
  return { ...file, loaded };
}

/** Reads tasks.json and every task's JSONL data of {"input", "target"} lines. */
export async function loadTasksFile(path: string): Promise<LoadedTasks> {
  return loadWith(path, parseJsonlExamples);
}

/** Reads tasks.json and every task's JSONL data of {"text", "label", "text_pair"?} lines. */
export async function loadClassificationTasksFile(path: string): Promise<LoadedClassificationTasks> {
  return loadWith(path, parseLabeledJsonlExamples);
}
