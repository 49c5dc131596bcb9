// The edgeformer command line: a table of commands, each parsing its own flags. Output is JSON on
// stdout (readable text for the people-facing task commands); any error is one line on stderr and a
// non-zero exit (2 for usage mistakes, 1 for everything else).
import { parseArgs } from "node:util";
import { UsageError } from "./args.ts";
import { classifyCommand, embedCommand, fillMaskCommand, nspCommand } from "./commands/bert-tasks.ts";
import { EVALUATE_SUMMARY, evaluateCommand } from "./commands/evaluate.ts";
import { FINETUNE_OPTIONS, FINETUNE_SUMMARY, finetuneCommand } from "./commands/finetune.ts";
import { forwardCommand } from "./commands/forward.ts";
import { generateCommand } from "./commands/generate.ts";
import { gradCommand } from "./commands/grad.ts";
import { PRETRAIN_OPTIONS, PRETRAIN_SUMMARY, pretrainCommand } from "./commands/pretrain.ts";
import { quantizeCommand } from "./commands/quantize.ts";
import { tokenizeCommand } from "./commands/tokenize.ts";
import { TRAIN_OPTIONS, TRAIN_SUMMARY, t5RunCommand } from "./commands/train-t5.ts";

type Opt = { type: "string" | "boolean"; multiple?: boolean };
interface Command {
  summary: string;
  options: Record<string, Opt>;
  run: (flags: Record<string, string | boolean | undefined>, positionals: string[]) => Promise<string>;
}

const s: Opt = { type: "string" };
const many: Opt = { type: "string", multiple: true };
const flag: Opt = { type: "boolean" };
const modelOpts = { model: s, tokenizer: s, dtype: s, json: flag };

const COMMANDS: Record<string, Command> = {
  tokenize: {
    summary:
      "--model DIR [--tokenizer DIR] --text T [--pair P] [--max-length N] [--truncation longest_first|only_first|only_second]",
    options: { model: s, tokenizer: s, text: s, pair: s, "max-length": s, truncation: s },
    run: tokenizeCommand,
  },
  forward: {
    summary: "--model DIR --inputs FILE.json --out FILE.safetensors [--dtype f32|int8]",
    options: { model: s, inputs: s, out: s, dtype: s },
    run: forwardCommand,
  },
  grad: {
    summary:
      "--model DIR --inputs FILE.json --out FILE.safetensors (BERT: mlm_labels / next_sentence_label, or labels)",
    options: { model: s, inputs: s, out: s },
    run: gradCommand,
  },
  "fill-mask": {
    summary: "--model DIR --text 'a [MASK] b' [--top-k N] [--json]",
    options: { ...modelOpts, text: many, "top-k": s },
    run: fillMaskCommand,
  },
  embed: {
    summary: "--model DIR --text T [--text T2 …] [--pooling mean|cls] [--normalize] [--json]",
    options: { ...modelOpts, text: many, pooling: s, normalize: flag },
    run: embedCommand,
  },
  nsp: {
    summary: "--model DIR --text A --pair B [--json]",
    options: { ...modelOpts, text: many, pair: many },
    run: nspCommand,
  },
  classify: {
    summary: "--model DIR --text T [--task NAME] [--top-k N] [--json]",
    options: { ...modelOpts, text: many, "top-k": s, task: s },
    run: classifyCommand,
  },
  generate: {
    summary:
      "--model DIR (--text T | --input-ids JSON) [--max-new-tokens N] [--num-beams K] [--do-sample --temperature X --top-k K --top-p P --seed S] [--no-repeat-ngram-size N] [--repetition-penalty X] [--prefix P] [--dtype f32|int8]",
    options: {
      ...modelOpts,
      text: many,
      "input-ids": s,
      "max-new-tokens": s,
      "num-beams": s,
      "do-sample": flag,
      temperature: s,
      "top-k": s,
      "top-p": s,
      seed: s,
      "no-repeat-ngram-size": s,
      "repetition-penalty": s,
      prefix: s,
    },
    run: generateCommand,
  },
  quantize: { summary: "IN_DIR OUT_DIR", options: {}, run: (_f, pos) => quantizeCommand(pos) },
  pretrain: { summary: PRETRAIN_SUMMARY, options: PRETRAIN_OPTIONS, run: pretrainCommand },
  evaluate: {
    summary: EVALUATE_SUMMARY,
    options: {
      model: s,
      tasks: s,
      "train-tasks": s,
      limit: s,
      batch: s,
      "max-new-tokens": s,
      "no-repeat-ngram-size": s,
      "repetition-penalty": s,
      samples: s,
      dtype: s,
    },
    run: evaluateCommand,
  },
  train: { summary: TRAIN_SUMMARY, options: TRAIN_OPTIONS, run: (f) => t5RunCommand("tasks", f) },
  finetune: { summary: FINETUNE_SUMMARY, options: FINETUNE_OPTIONS, run: finetuneCommand },
};

function usage(): string {
  return [
    "usage: edgeformer <command> [options]",
    "",
    ...Object.entries(COMMANDS).map(([n, c]) => `  ${n} ${c.summary}`),
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h") {
    console.log(usage());
    return name ? 0 : 2;
  }
  const cmd = COMMANDS[name];
  try {
    if (!cmd)
      throw new UsageError(
        `unknown command ${JSON.stringify(name)} (try: ${Object.keys(COMMANDS).join(", ")})`,
      );
    let parsed: { values: Record<string, unknown>; positionals: string[] };
    try {
      parsed = parseArgs({
        args: rest,
        options: cmd.options,
        allowPositionals: name === "quantize" || name === "pretrain",
        strict: true,
      });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const out = await cmd.run(
      parsed.values as Record<string, string | boolean | undefined>,
      parsed.positionals,
    );
    process.stdout.write(`${out}\n`);
    return 0;
  } catch (err) {
    const e = err as Error;
    process.stderr.write(`edgeformer ${name ?? ""}: ${e.message.split("\n")[0]}\n`);
    if (e instanceof UsageError && cmd) process.stderr.write(`usage: edgeformer ${name} ${cmd.summary}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}
