// `edgeformer generate --model DIR (--text T | --input-ids JSON) --max-new-tokens N [--num-beams K]
// [--do-sample --temperature X --top-k K --top-p P --seed S] [--no-repeat-ngram-size N]
// [--repetition-penalty X] [--prefix P] [--dtype f32|int8]`
// → {"sequences": [[...]], "texts": [...]} (sequences start with the decoder start token).
import { loadT5PipelineDir } from "../../models/load-node.ts";
import { generate } from "../../models/t5-generate.ts";
import { generateText } from "../../tasks/text2text.ts";
import { dir, type Flags, int, num, oneOf, str, UsageError } from "../args.ts";

function idsArg(text: string): number[][] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--input-ids is not JSON: ${(err as Error).message}`);
  }
  const rows = Array.isArray(v) && v.every((x) => Number.isInteger(x)) ? [v as number[]] : (v as number[][]);
  if (
    !Array.isArray(rows) ||
    rows.length === 0 ||
    !rows.every((r) => Array.isArray(r) && r.length > 0 && r.every(Number.isInteger))
  ) {
    throw new UsageError("--input-ids must be a JSON array of ids or of id rows");
  }
  return rows;
}

export async function generateCommand(flags: Flags): Promise<string> {
  const model = dir(flags, "model");
  const dtype = oneOf(flags, "dtype", ["f32", "int8"] as const, "f32");
  const texts = ([] as unknown[]).concat(flags.text ?? []) as string[];
  const ids = str(flags, "input-ids");
  if ((texts.length === 0) === (ids === undefined)) throw new UsageError("give either --text or --input-ids");
  const opts = {
    maxNewTokens: int(flags, "max-new-tokens", 20, 1),
    numBeams: int(flags, "num-beams", 1, 1),
    doSample: Boolean(flags["do-sample"]),
    temperature: num(flags, "temperature"),
    topK: int(flags, "top-k", undefined, 0),
    topP: num(flags, "top-p"),
    seed: int(flags, "seed"),
    noRepeatNgramSize: int(flags, "no-repeat-ngram-size", 0, 0),
    repetitionPenalty: num(flags, "repetition-penalty", 1),
  };
  if (opts.temperature !== undefined && !(opts.temperature > 0))
    throw new UsageError("--temperature must be > 0");
  if (opts.topP !== undefined && !(opts.topP > 0 && opts.topP <= 1))
    throw new UsageError("--top-p must be in (0, 1]");
  if (!(opts.repetitionPenalty! > 0)) throw new UsageError("--repetition-penalty must be > 0 (1 = off)");
  const p = await loadT5PipelineDir(model, {
    dtype,
    tokenizerDir: flags.tokenizer ? dir(flags, "tokenizer") : undefined,
  });
  if (texts.length) {
    const res = generateText(p, texts, { ...opts, prefix: str(flags, "prefix") });
    return JSON.stringify({ sequences: res.map((r) => r.sequence), texts: res.map((r) => r.generated_text) });
  }
  const rows = idsArg(ids!);
  const T = Math.max(...rows.map((r) => r.length));
  const pad = p.model.config.padTokenId;
  const flat = Int32Array.from(rows.flatMap((r) => [...r, ...new Array(T - r.length).fill(pad)]));
  // as transformers' generate: padding is where the ids equal pad_token_id (when pad ≠ eos)
  const eos = ([] as number[]).concat(p.model.config.eosTokenId);
  const mask = Int32Array.from(flat, (id) => (id === pad && !eos.includes(pad) ? 0 : 1));
  const out = generate(p.model, flat, mask, rows.length, T, opts);
  return JSON.stringify({
    sequences: out.sequences,
    texts: out.sequences.map((s) => p.tokenizer.decode(s, { skipSpecialTokens: true })),
  });
}
