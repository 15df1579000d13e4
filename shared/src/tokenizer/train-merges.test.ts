import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ClipTokenizer } from "./clip-tokenizer.ts";
import { trainBpeMerges } from "./train-merges.ts";

const CORPUS = "a man and a woman sitting in a park with a dog and a cat; img img img man woman";
const tokenizerFor = (merges: string[]) => ClipTokenizer.fromMerges(`#version: 0.2\n${merges.join("\n")}\n`, { vocabSize: 512 + merges.length + 2 });

describe("trainBpeMerges", () => {
  it("merges the most frequent pair first and is deterministic", () => {
    const merges = trainBpeMerges(CORPUS, 40);
    expect(merges[0]).toBe("a n</w>"); // man ×2 and woman ×2 end in "an"; "and" ×2 starts with it
    expect(trainBpeMerges(CORPUS, 40)).toEqual(merges);
    expect(merges.every((m) => /^\S+ \S+$/.test(m))).toBe(true);
  });

  it("breaks ties by the pair's text", () => {
    expect(trainBpeMerges("ab cd", 2)).toEqual(["a b</w>", "c d</w>"]);
    expect(trainBpeMerges("cd ab", 2)).toEqual(["a b</w>", "c d</w>"]);
  });

  it("stops when the corpus has no pairs left", () => {
    expect(trainBpeMerges("ab ab", 10)).toEqual(["a b</w>"]);
  });

  it("round-trips through a merges file of its own vocabulary", () => {
    const merges = trainBpeMerges(CORPUS, 1000); // runs out of pairs well before
    const tiny = tokenizerFor(merges);
    expect(tiny.eos).toBe(512 + merges.length + 1);
    // Trained to exhaustion, every corpus word is one token, and one the corpus order fixes.
    for (const word of CORPUS.split(/[\s;]+/)) expect(tiny.encode(word)).toHaveLength(1);
    expect(tiny.encode("a woman img")).toEqual([...tiny.encode("a"), ...tiny.encode("woman"), ...tiny.encode("img")]);
    expect(tiny.encode("sitting").length).toBeLessThan("sitting".length);
  });

  it("keeps every id below vocabSize for any text", () => {
    const tiny = tokenizerFor(trainBpeMerges(CORPUS, 60));
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 80 }), (text) => {
        expect(tiny.encode(text).every((id) => Number.isInteger(id) && id >= 0 && id < tiny.vocabSize)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });
});
