// Token classification (e.g. named entities) with a BertForTokenClassification head, in the shape of
// transformers' TokenClassificationPipeline. aggregation: "none" (one entry per word piece),
// "simple" (consecutive pieces with the same B-/I- tag grouped), "first" | "average" | "max" (pieces of
// one word agree on the word's label first, then words are grouped). "O" is left out.
// start/end are UTF-16 offsets into the text.
import { type BertPipeline, encodeBatch, softmax, TaskInputError } from "./pipeline.ts";

export type Aggregation = "none" | "simple" | "first" | "average" | "max";

export interface TokenEntity {
  entity: string;
  score: number;
  index: number;
  word: string;
  start: number;
  end: number;
}

export interface EntityGroup {
  entity_group: string;
  score: number;
  word: string;
  start: number;
  end: number;
}

interface Piece {
  index: number;
  id: number;
  token: string;
  start: number;
  end: number;
  scores: Float64Array;
  isSubword: boolean;
}

interface Tagged {
  entity: string;
  score: number;
  ids: number[];
  start: number;
  end: number;
  index: number;
}

function tag(label: string): [string, string] {
  if (label.startsWith("B-")) return ["B", label.slice(2)];
  if (label.startsWith("I-")) return ["I", label.slice(2)];
  return ["I", label];
}

export function classifyTokens(
  p: BertPipeline,
  texts: string[],
  opts: { aggregation?: Aggregation; ignoreLabels?: string[] } = {},
): (TokenEntity[] | EntityGroup[])[] {
  const aggregation = opts.aggregation ?? "simple";
  if (!["none", "simple", "first", "average", "max"].includes(aggregation)) {
    throw new TaskInputError(
      `aggregation must be none, simple, first, average or max; got ${JSON.stringify(aggregation)}`,
    );
  }
  const ignore = new Set(opts.ignoreLabels ?? ["O"]);
  const labels = p.model.config.id2label;
  const L = labels.length;
  const { encodings, input } = encodeBatch(p, texts);
  const logits = p.model.forward(input, { tokenClassify: true }).tokenClassifyLogits!; // [B,T,L]
  const T = input.seq;
  return encodings.map((e, b) => {
    const pieces: Piece[] = [];
    for (let t = 0; t < T; t++) {
      if (!e.attentionMask[t] || e.specialTokensMask[t]) continue;
      pieces.push({
        index: t,
        id: e.ids[t],
        token: e.tokens[t],
        start: e.offsets[t][0],
        end: e.offsets[t][1],
        scores: softmax(logits.subarray((b * T + t) * L, (b * T + t + 1) * L)),
        isSubword: e.tokens[t].startsWith("##"),
      });
    }
    const argmax = (s: Float64Array) => s.indexOf(Math.max(...s));
    if (aggregation === "none") {
      return pieces
        .map((pc) => {
          const i = argmax(pc.scores);
          return {
            entity: labels[i],
            score: pc.scores[i],
            index: pc.index,
            word: pc.token,
            start: pc.start,
            end: pc.end,
          };
        })
        .filter((x) => !ignore.has(x.entity));
    }
    let tagged: Tagged[];
    if (aggregation === "simple") {
      tagged = pieces.map((pc) => {
        const i = argmax(pc.scores);
        return {
          entity: labels[i],
          score: pc.scores[i],
          ids: [pc.id],
          start: pc.start,
          end: pc.end,
          index: pc.index,
        };
      });
    } else {
      const words: Piece[][] = [];
      for (const pc of pieces) {
        if (pc.isSubword && words.length) words[words.length - 1].push(pc);
        else words.push([pc]);
      }
      tagged = words.map((w) => {
        let scores: Float64Array;
        if (aggregation === "first") scores = w[0].scores;
        else if (aggregation === "max")
          scores = w.reduce((a, pc) => (Math.max(...pc.scores) > Math.max(...a.scores) ? pc : a)).scores;
        else
          scores = Float64Array.from(
            { length: L },
            (_, i) => w.reduce((s, pc) => s + pc.scores[i], 0) / w.length,
          );
        const i = argmax(scores);
        return {
          entity: labels[i],
          score: scores[i],
          ids: w.map((pc) => pc.id),
          start: w[0].start,
          end: w[w.length - 1].end,
          index: w[0].index,
        };
      });
    }
    // group consecutive entries with the same tag (a B- starts a new group)
    const groups: Tagged[][] = [];
    for (const t of tagged) {
      const last = groups[groups.length - 1];
      const [bi, tg] = tag(t.entity);
      if (last && tag(last[last.length - 1].entity)[1] === tg && bi !== "B") last.push(t);
      else groups.push([t]);
    }
    return groups
      .map((g) => ({
        entity_group: tag(g[0].entity)[1],
        score: g.reduce((s, t) => s + t.score, 0) / g.length,
        word: p.tokenizer.decode(g.flatMap((t) => t.ids)),
        start: g[0].start,
        end: g[g.length - 1].end,
      }))
      .filter((g) => !ignore.has(g.entity_group));
  });
}
