// Extractive question answering with a BertForQuestionAnswering head: the best context span by
// p(start)·p(end) with start ≤ end < start + maxAnswerLength, in transformers' shape
// {score, start, end, answer} (start/end: UTF-16 offsets into the context).
import { type BertPipeline, checkTopK, encodeBatch, TaskInputError } from "./pipeline.ts";

export interface Answer {
  score: number;
  start: number;
  end: number;
  answer: string;
}

function maskedSoftmax(logits: Float32Array, allowed: boolean[]): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  logits.forEach((v, i) => {
    if (allowed[i]) max = Math.max(max, v);
  });
  const out = new Float64Array(logits.length);
  let sum = 0;
  logits.forEach((v, i) => {
    if (!allowed[i]) return;
    out[i] = Math.exp(v - max);
    sum += out[i];
  });
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

export function answerQuestion(
  p: BertPipeline,
  question: string,
  context: string,
  opts: { maxAnswerLength?: number; topK?: number } = {},
): Answer[] {
  const maxLen = opts.maxAnswerLength ?? 15;
  if (!Number.isInteger(maxLen) || maxLen < 1)
    throw new TaskInputError(`max_answer_len must be a positive integer, got ${maxLen}`);
  const k = checkTopK(opts.topK, 1);
  if (!question.trim() || !context.trim()) throw new TaskInputError("question and context must be non-empty");
  const { encodings, input } = encodeBatch(p, [question], [context], { truncation: "only_second" });
  const e = encodings[0];
  const out = p.model.forward(input, { qa: true });
  const allowed = e.sequenceIds.map((s, t) => s === 1 && e.attentionMask[t] === 1);
  if (!allowed.some(Boolean)) throw new TaskInputError("the context left no tokens after truncation");
  const ps = maskedSoftmax(out.qaStartLogits!, allowed);
  const pe = maskedSoftmax(out.qaEndLogits!, allowed);
  const candidates: Answer[] = [];
  for (let s = 0; s < ps.length; s++) {
    if (!allowed[s]) continue;
    for (let t = s; t < Math.min(ps.length, s + maxLen); t++) {
      if (!allowed[t]) continue;
      const start = e.offsets[s][0];
      const end = e.offsets[t][1];
      candidates.push({ score: ps[s] * pe[t], start, end, answer: context.slice(start, end) });
    }
  }
  candidates.sort((a, b) => b.score - a.score);
  return candidates.slice(0, k);
}
