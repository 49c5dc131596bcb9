// Fine-tuning data files (src/train/finetune-data.ts): the CSV parser (quotes, escaped quotes, newlines
// and delimiters inside quotes, CRLF, BOM, TSV), JSONL and CSV classification / text-pair examples with
// errors that name the file and line, the label list and the majority class.
import { describe, expect, it } from "vitest";
import {
  labelList,
  majority,
  parseCsv,
  readClassificationData,
  readTextPairData,
} from "../../src/train/finetune-data.ts";

describe("CSV parser", () => {
  it("handles quoted fields with delimiters, quotes and newlines; CRLF; a BOM; no final newline", () => {
    const text = '\ufefftext,label\r\n"a, b",x\r\n"say ""hi""",y\n"two\nlines",z\n\nplain,w';
    expect(parseCsv(text)).toEqual([
      { fields: ["text", "label"], line: 1 },
      { fields: ["a, b", "x"], line: 2 },
      { fields: ['say "hi"', "y"], line: 3 },
      { fields: ["two\nlines", "z"], line: 4 },
      { fields: ["plain", "w"], line: 7 },
    ]);
    expect(parseCsv("a\tb\n1\t2\n", "f.tsv", "\t")).toEqual([
      { fields: ["a", "b"], line: 1 },
      { fields: ["1", "2"], line: 2 },
    ]);
    expect(parseCsv('x,"",y\n')[0].fields).toEqual(["x", "", "y"]);
  });

  it("reports unclosed quotes and junk after a closing quote with the line", () => {
    expect(() => parseCsv('a,b\n"open,1\n', "d.csv")).toThrow(/d\.csv:2: a quoted field is not closed/);
    expect(() => parseCsv('a,b\n"x"y,1\n', "d.csv")).toThrow(
      /d\.csv:2: unexpected "y" after a closing quote/,
    );
  });
});

describe("data files", () => {
  it("reads classification JSONL (numbers as labels, optional text_pair) and CSV with any column order", () => {
    const jsonl = '{"text":"hello","label":1}\n\n{"text":"a","text_pair":"b","label":"x"}\n';
    expect(readClassificationData(jsonl, "d.jsonl")).toEqual([
      { text: "hello", label: "1" },
      { text: "a", textPair: "b", label: "x" },
    ]);
    const csv = 'Label,Text,extra\npos,"good, very",1\nneg,bad,2\n';
    expect(readClassificationData(csv, "d.csv")).toEqual([
      { text: "good, very", label: "pos" },
      { text: "bad", label: "neg" },
    ]);
    expect(readTextPairData('{"input":"q","target":"a"}\n', "t.jsonl")).toEqual([
      { input: "q", target: "a" },
    ]);
  });

  it("says what is wrong, where", () => {
    const bad: [string, string, RegExp][] = [
      ['{"text":"a"}\n', "d.jsonl", /d\.jsonl:1: missing "label" \(fields: text\)/],
      ['{"text":"a","label":"x"}\n{oops\n', "d.jsonl", /d\.jsonl:2: not valid JSON/],
      ["[1,2]\n", "d.jsonl", /d\.jsonl:1: expected a JSON object/],
      ['{"text":"  ","label":"x"}\n', "d.jsonl", /d\.jsonl:1: empty text/],
      ['{"text":"a","label":[1]}\n', "d.jsonl", /"label" must be a string or a number/],
      [
        "sentence,label\na,b\n",
        "d.csv",
        /d\.csv: the header row has no "text" column \(header: sentence, label\)/,
      ],
      ["text,label\na,b,c\n", "d.csv", /d\.csv:2: 3 fields, but the header has 2/],
      ["text,label\n", "d.csv", /d\.csv: no examples/],
      ["hello", "d.txt", /d\.txt: unknown format/],
    ];
    for (const [text, name, re] of bad) expect(() => readClassificationData(text, name)).toThrow(re);
    expect(() => readTextPairData('{"input":"q"}\n', "t.jsonl")).toThrow(/t\.jsonl:1: missing "target"/);
  });

  it("orders labels (numerically when numbers), checks a given list, finds the majority", () => {
    const ex = (labels: string[]) => labels.map((label) => ({ text: "t", label }));
    expect(labelList(ex(["b", "a", "b", "c"]))).toEqual(["a", "b", "c"]);
    expect(labelList(ex(["10", "2", "1"]))).toEqual(["1", "2", "10"]);
    expect(labelList(ex(["a", "b"]), ["b", "a", "c"])).toEqual(["b", "a", "c"]);
    expect(() => labelList(ex(["a", "d"]), ["a", "b"])).toThrow(/labels not in the label list \(a, b\): d/);
    expect(() => labelList(ex(["a", "a"]))).toThrow(/the data has 1 label; classification needs at least 2/);
    expect(() => labelList(ex(["a"]), ["a", "a"])).toThrow(/duplicates/);
    expect(majority(["a", "b", "b", "a", "c", "b"])).toEqual({ value: "b", count: 3 });
    expect(majority(["a", "b"], ["b", "a"])).toEqual({ value: "b", count: 1 });
  });
});
