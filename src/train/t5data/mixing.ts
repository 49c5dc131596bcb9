// Multi-task mixing for T5 (Raffel et al. 2020, section 3.5.2): the tasks.json format, mixing rates and a
// seeded sampler.
// tasks.json:
//   { "tasks": [ { "name": "sst2", "data": "sst2.jsonl", "prefix": "sst2 sentence:", "cap": 50000 }, … ],
//     "mixing": { "strategy": "temperature", "limit": 524288, "temperature": 2 } }
// `data` is a JSONL file (relative to tasks.json) of {"input": "…", "target": "…"} objects, one per
// line (blank lines skipped); `prefix` is put before each input, with a space unless it ends with
// whitespace (the T5 tokenizer collapses whitespace either way); `cap`, when given, keeps the first `cap`
// examples. `mixing` is optional (callers may pass their own).
// The same tasks.json drives multi-task BERT classification: there each task's JSONL lines are
// {"text": "…", "label": "…" (or a number), "text_pair": "…" (optional)} (parseLabeledJsonlExamples),
// and the prefix goes before the text.
// Rates over tasks m with e_m examples and limit K (default: none):
//   proportional: r_m = min(e_m, K) / Σ_n min(e_n, K)
//   temperature:  r_m ∝ min(e_m, K)^(1/T), renormalized (T = 1: proportional; T → ∞: equal)
//   equal:        r_m = 1 / M
// (tasks without examples get rate 0 and count no task for equal mixing).
// MixtureSampler draws the task of each example from the rates, then the task's next example: each task
// is read in a shuffled order, reshuffled every time it has been read through (its own epochs). It works
// on tasks of any example type (draw()); next() / take() give text-to-text examples with the prefix.
// Deterministic for a seed, and resumable: draw i uses a generator seeded from (seed, i), and the state
// is the draw count and each task's read count. Pure, no Node imports (node.ts reads the files).

import { deriveSeed, mulberry32, shuffleInPlace } from "../data/random.ts";

export type MixingStrategy = "proportional" | "temperature" | "equal";

export interface MixingOptions {
  strategy: MixingStrategy;
  /** K: a task counts as at most this many examples (proportional, temperature). Default: no limit. */
  limit?: number;
  /** T for "temperature" (T ≥ 1 in the paper; any T > 0 accepted). Default 1. */
  temperature?: number;
}

export interface TaskSpec {
  name: string;
  /** The JSONL file, relative to tasks.json. */
  data: string;
  /** Put before every input. Default "". */
  prefix: string;
  /** Use only the first `cap` examples. */
  cap?: number;
}

export interface TasksFile {
  tasks: TaskSpec[];
  mixing?: MixingOptions;
}

export interface TextExample {
  input: string;
  target: string;
}

export interface Task {
  name: string;
  prefix: string;
  examples: readonly TextExample[];
}

/** A task of any example type (what the sampler needs: a name, a prefix and the examples). */
export interface MixtureTask<E> {
  name: string;
  prefix: string;
  examples: readonly E[];
}

/** A labelled text of a classification task (BERT). */
export interface LabeledExample {
  text: string;
  /** Second segment of a sentence-pair task. */
  textPair?: string;
  /** The label as written (numbers and booleans as their string). */
  label: string;
}

/** One draw of the sampler: the task, the example's index in it and the example itself. */
export interface DrawnExample<E> {
  task: string;
  taskIndex: number;
  index: number;
  example: E;
}

export interface MixedExample {
  task: string;
  taskIndex: number;
  /** Index of the example in its task. */
  index: number;
  /** prefix + input. */
  input: string;
  target: string;
}

export interface MixtureState {
  /** Examples drawn so far. */
  step: number;
  /** Examples read from each task so far (its epoch is read / size). */
  read: number[];
}

type Json = Record<string, unknown>;

const STRATEGIES: readonly MixingStrategy[] = ["proportional", "temperature", "equal"];

function checkSizes(sizes: readonly number[]): void {
  if (sizes.length === 0) throw new RangeError("mixing: no tasks");
  for (const e of sizes)
    if (!Number.isInteger(e) || e < 0)
      throw new RangeError(`mixing: task sizes must be non-negative integers, got ${e}`);
  if (sizes.every((e) => e === 0)) throw new RangeError("mixing: every task is empty");
}

function checkLimit(limit: number): void {
  if (!(limit > 0)) throw new RangeError(`mixing: the limit K must be positive, got ${limit}`);
}

/** Examples-proportional mixing: r_m = min(e_m, K) / Σ_n min(e_n, K). */
export function proportionalRates(sizes: readonly number[], limit = Number.POSITIVE_INFINITY): number[] {
  checkSizes(sizes);
  checkLimit(limit);
  const w = sizes.map((e) => Math.min(e, limit));
  const sum = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / sum);
}

/** Temperature-scaled mixing: r_m ∝ min(e_m, K)^(1/T), normalized. */
export function temperatureRates(
  sizes: readonly number[],
  temperature: number,
  limit = Number.POSITIVE_INFINITY,
): number[] {
  checkSizes(sizes);
  checkLimit(limit);
  if (!(temperature > 0 && Number.isFinite(temperature)))
    throw new RangeError(`mixing: the temperature must be positive and finite, got ${temperature}`);
  const w = sizes.map((e) => Math.min(e, limit) ** (1 / temperature));
  const sum = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / sum);
}

/** Equal mixing: r_m = 1 / M over the tasks that have examples. */
export function equalRates(sizes: readonly number[]): number[] {
  checkSizes(sizes);
  const m = sizes.filter((e) => e > 0).length;
  return sizes.map((e) => (e > 0 ? 1 / m : 0));
}

/** The mixing rates of tasks with `sizes` examples. */
export function mixingRates(sizes: readonly number[], options: MixingOptions): number[] {
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  switch (options.strategy) {
    case "proportional":
      return proportionalRates(sizes, limit);
    case "temperature":
      return temperatureRates(sizes, options.temperature ?? 1, limit);
    case "equal":
      return equalRates(sizes);
    default:
      throw new RangeError(`mixing: unknown strategy ${JSON.stringify(options.strategy)}`);
  }
}

function parseMixing(m: unknown, where: string): MixingOptions {
  if (!m || typeof m !== "object" || Array.isArray(m))
    throw new Error(`${where}: "mixing" must be an object`);
  const o = m as Json;
  const strategy = o.strategy;
  if (!STRATEGIES.includes(strategy as MixingStrategy))
    throw new Error(`${where}: mixing.strategy must be one of ${STRATEGIES.join(", ")}`);
  const out: MixingOptions = { strategy: strategy as MixingStrategy };
  if (o.limit !== undefined && o.limit !== null) {
    if (typeof o.limit !== "number" || !(o.limit > 0))
      throw new Error(`${where}: mixing.limit must be a positive number`);
    out.limit = o.limit;
  }
  if (o.temperature !== undefined && o.temperature !== null) {
    if (typeof o.temperature !== "number" || !(o.temperature > 0) || !Number.isFinite(o.temperature))
      throw new Error(`${where}: mixing.temperature must be a positive number`);
    out.temperature = o.temperature;
  }
  return out;
}

/** Parses and validates tasks.json (text or parsed). `where` names the file in errors. */
export function parseTasksJson(json: string | object, where = "tasks.json"): TasksFile {
  let obj: unknown = json;
  if (typeof json === "string") {
    try {
      obj = JSON.parse(json);
    } catch (err) {
      throw new Error(`${where}: not valid JSON (${(err as Error).message})`);
    }
  }
  if (!obj || typeof obj !== "object" || Array.isArray(obj))
    throw new Error(`${where}: must be a JSON object`);
  const o = obj as Json;
  if (!Array.isArray(o.tasks) || o.tasks.length === 0)
    throw new Error(`${where}: "tasks" must be a non-empty array`);
  const names = new Set<string>();
  const tasks = o.tasks.map((t: unknown, i: number): TaskSpec => {
    const at = `${where}: tasks[${i}]`;
    if (!t || typeof t !== "object" || Array.isArray(t)) throw new Error(`${at} must be an object`);
    const x = t as Json;
    if (typeof x.name !== "string" || x.name === "") throw new Error(`${at}.name must be a non-empty string`);
    if (names.has(x.name)) throw new Error(`${at}: task name ${JSON.stringify(x.name)} is used twice`);
    names.add(x.name);
    if (typeof x.data !== "string" || x.data === "")
      throw new Error(`${at} (${x.name}).data must be the path of a JSONL file`);
    if (x.prefix !== undefined && typeof x.prefix !== "string")
      throw new Error(`${at} (${x.name}).prefix must be a string`);
    const spec: TaskSpec = { name: x.name, data: x.data, prefix: (x.prefix as string | undefined) ?? "" };
    if (x.cap !== undefined && x.cap !== null) {
      if (typeof x.cap !== "number" || !Number.isInteger(x.cap) || x.cap < 1)
        throw new Error(`${at} (${x.name}).cap must be a positive integer`);
      spec.cap = x.cap;
    }
    return spec;
  });
  const out: TasksFile = { tasks };
  if (o.mixing !== undefined) out.mixing = parseMixing(o.mixing, where);
  return out;
}

/** The examples of a JSONL text (one {"input", "target"} object per non-blank line), the first `cap`. */
export function parseJsonlExamples(text: string, where: string, cap?: number): TextExample[] {
  const out: TextExample[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (cap !== undefined && out.length >= cap) break;
    const line = lines[i].trim();
    if (line === "") continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (err) {
      throw new Error(`${where} line ${i + 1}: not valid JSON (${(err as Error).message})`);
    }
    const x = v as Json;
    if (!x || typeof x !== "object" || typeof x.input !== "string" || typeof x.target !== "string")
      throw new Error(`${where} line ${i + 1}: expected {"input": string, "target": string}`);
    out.push({ input: x.input, target: x.target });
  }
  return out;
}

/**
 * The examples of a classification JSONL text (one {"text", "label"} object per non-blank line, optional
 * "text_pair"), the first `cap`. Labels may be strings, numbers or booleans; empty texts or labels are
 * errors.
 */
export function parseLabeledJsonlExamples(text: string, where: string, cap?: number): LabeledExample[] {
  const out: LabeledExample[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (cap !== undefined && out.length >= cap) break;
    const line = lines[i].trim();
    if (line === "") continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (err) {
      throw new Error(`${where} line ${i + 1}: not valid JSON (${(err as Error).message})`);
    }
    const x = v as Json;
    const label = x && typeof x === "object" ? x.label : undefined;
    if (
      !x ||
      typeof x !== "object" ||
      Array.isArray(x) ||
      typeof x.text !== "string" ||
      !(typeof label === "string" || typeof label === "number" || typeof label === "boolean") ||
      (x.text_pair !== undefined && x.text_pair !== null && typeof x.text_pair !== "string")
    )
      throw new Error(
        `${where} line ${i + 1}: expected {"text": string, "label": string or number, "text_pair"?: string}`,
      );
    if (x.text.trim() === "") throw new Error(`${where} line ${i + 1}: empty text`);
    const l = String(label).trim();
    if (l === "") throw new Error(`${where} line ${i + 1}: empty label`);
    const ex: LabeledExample = { text: x.text, label: l };
    if (typeof x.text_pair === "string" && x.text_pair !== "") ex.textPair = x.text_pair;
    out.push(ex);
  }
  return out;
}

/** prefix + input, with a space between unless the prefix is empty or ends with whitespace. */
export function withPrefix(prefix: string, input: string): string {
  if (prefix === "" || /\s$/u.test(prefix)) return prefix + input;
  return `${prefix} ${input}`;
}

/** Draws examples from several tasks by their mixing rates (see the header). */
export class MixtureSampler<E = TextExample> {
  readonly rates: readonly number[];
  readonly #tasks: readonly MixtureTask<E>[];
  readonly #seed: number;
  readonly #cumulative: number[];
  readonly #last: number;
  readonly #read: number[];
  readonly #orders: (number[] | undefined)[];
  readonly #orderEpoch: number[];
  #step: number;

  constructor(
    tasks: readonly MixtureTask<E>[],
    options: MixingOptions & { seed: number },
    state?: MixtureState,
  ) {
    this.#tasks = tasks;
    this.rates = Object.freeze(
      mixingRates(
        tasks.map((t) => t.examples.length),
        options,
      ),
    );
    this.#seed = options.seed;
    this.#cumulative = [];
    let acc = 0;
    let last = 0;
    this.rates.forEach((r, i) => {
      acc += r;
      this.#cumulative.push(acc);
      if (r > 0) last = i;
    });
    this.#last = last;
    this.#step = state?.step ?? 0;
    this.#read = state ? [...state.read] : tasks.map(() => 0);
    if (this.#read.length !== tasks.length)
      throw new RangeError(`mixing: the state has ${this.#read.length} tasks, the mixture ${tasks.length}`);
    this.#orders = tasks.map(() => undefined);
    this.#orderEpoch = tasks.map(() => -1);
  }

  /** The position to resume from (pass to the constructor with the same tasks and options). */
  get state(): MixtureState {
    return { step: this.#step, read: [...this.#read] };
  }

  /** Which task draw `step` picks. */
  taskAt(step: number): number {
    const u = mulberry32(deriveSeed(this.#seed, 0x6d6978, step))();
    const c = this.#cumulative;
    let lo = 0;
    let hi = this.#last;
    // First task whose cumulative rate exceeds u (binary search; tasks with rate 0 are never picked).
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (c[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    while (this.rates[lo] === 0) lo++;
    return lo;
  }

  #order(t: number, epoch: number): number[] {
    if (this.#orderEpoch[t] !== epoch || !this.#orders[t]) {
      const n = this.#tasks[t].examples.length;
      const order = Array.from({ length: n }, (_, i) => i);
      shuffleInPlace(order, mulberry32(deriveSeed(this.#seed, 1 + t, epoch)));
      this.#orders[t] = order;
      this.#orderEpoch[t] = epoch;
    }
    return this.#orders[t]!;
  }

  /** The next draw: a task by the rates, then that task's next example (any example type). */
  draw(): DrawnExample<E> {
    const t = this.taskAt(this.#step++);
    const task = this.#tasks[t];
    const n = task.examples.length;
    const r = this.#read[t]++;
    const index = this.#order(t, Math.floor(r / n))[r % n];
    return { task: task.name, taskIndex: t, index, example: task.examples[index] };
  }

  /** The next `n` draws. */
  drawMany(n: number): DrawnExample<E>[] {
    const out: DrawnExample<E>[] = [];
    for (let i = 0; i < n; i++) out.push(this.draw());
    return out;
  }

  /** The next text-to-text example, the task's prefix put before its input. */
  next(this: MixtureSampler<TextExample>): MixedExample {
    const { task, taskIndex, index, example } = this.draw();
    return {
      task,
      taskIndex,
      index,
      input: withPrefix(this.#tasks[taskIndex].prefix, example.input),
      target: example.target,
    };
  }

  /** The next `n` examples. */
  take(this: MixtureSampler<TextExample>, n: number): MixedExample[] {
    const out: MixedExample[] = [];
    for (let i = 0; i < n; i++) out.push(this.next());
    return out;
  }
}
