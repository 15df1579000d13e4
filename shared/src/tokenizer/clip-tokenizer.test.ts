import { beforeAll, describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { ClipTokenizer } from "./clip-tokenizer.ts";
import { trainBpeMerges } from "./train-merges.ts";

/** The real CLIP merges file, read from ../shared/data (test data, never copied into the project). */
export const CLIP_MERGES = fileURLToPath(new URL("../../../../shared/data/clip/bpe_simple_vocab_16e6.txt.gz", import.meta.url));

let clip: ClipTokenizer;
beforeAll(async () => {
  clip = await ClipTokenizer.fromFile(CLIP_MERGES);
});

describe("ClipTokenizer with the real CLIP merges", () => {
  it("has CLIP's vocabulary and special ids", () => {
    expect([clip.vocabSize, clip.bos, clip.eos]).toEqual([49408, 49406, 49407]);
  });

  it.each([
    ["a photo of a cat", [320, 1125, 539, 320, 2368]],
    ["hello world", [3306, 1002]],
    ["A   PHOTO of a Cat", [320, 1125, 539, 320, 2368]],
    ["a man img and a woman img sitting in a park", [320, 786, 24157, 537, 320, 2308, 24157, 4919, 530, 320, 1452]],
    ["<|startoftext|>a<|endoftext|>", [49406, 320, 49407]],
  ])("encodes %j exactly", (text, ids) => {
    expect(clip.encode(text)).toEqual(ids);
  });

  it("splits digits one by one, keeps contractions and symbol runs, unescapes html", () => {
    const words = clip.encodeWords("it's 42 &amp; !!");
    expect(words.map((w) => w.word)).toEqual(["it", "'s", "4", "2", "&", "!!"]);
    expect(words.every((w) => w.ids.length >= 1)).toBe(true);
  });

  it("encodes any unicode without unknown tokens", () => {
    const ids = clip.encode("Café déjà-vu 東京 🙂 \u0000");
    expect(ids.length).toBeGreaterThan(5);
    expect(ids.every((id) => Number.isInteger(id) && id >= 0 && id < 49408)).toBe(true);
  });
});

describe("trainBpeMerges", () => {
  it("is deterministic and round-trips through a merges file of its own vocabulary", () => {
    const corpus = "a man and a woman sitting in a park with a dog and a cat";
    const merges = trainBpeMerges(corpus, 40);
    expect(trainBpeMerges(corpus, 40)).toEqual(merges);
    const vocabSize = 512 + merges.length + 2;
    const tiny = ClipTokenizer.fromMerges(`#version: 0.2\n${merges.join("\n")}\n`, { vocabSize });
    expect(tiny.eos).toBe(vocabSize - 1);
    const ids = tiny.encode("a woman sitting in a park, 東京!");
    expect(ids.every((id) => id < vocabSize - 2)).toBe(true);
    expect(tiny.encode("sitting").length).toBeLessThan("sitting".length);
  });

  it("refuses a vocabulary larger than its merges allow", () => {
    expect(() => ClipTokenizer.fromMerges("#version: 0.2\na b\n", { vocabSize: 600 })).toThrow(/merges/);
  });
});
