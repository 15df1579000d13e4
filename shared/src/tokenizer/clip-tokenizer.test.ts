import { beforeAll, describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { ClipTokenizer } from "./clip-tokenizer.ts";

// The real CLIP merges file, read where it lies (test data, never copied into the project).
const CLIP_MERGES = fileURLToPath(new URL("../../../../shared/data/clip/bpe_simple_vocab_16e6.txt.gz", import.meta.url));

let clip: ClipTokenizer;
beforeAll(async () => {
  clip = await ClipTokenizer.fromFile(CLIP_MERGES);
});

// transformers' tests/models/clip/test_tokenization_clip.py integration string and ids (BOS/EOS dropped).
const HF_INPUT =
  "This is a test\nI was born in 92000, and this is falsé.\n生活的真谛是\nHi  Hello\nHi   Hello\n\n \n  \n Hello\n<s>\nhi<s>there\nThe following string should be properly encoded: Hello.\nBut ird and ปี   ird   ด\nHey how are you doing";
const HF_IDS = [
  589, 533, 320, 1628, 328, 739, 2683, 530, 280, 273, 271, 271, 271, 267, 537, 589, 533, 2778, 82, 4166, 269, 33375, 162, 112, 119, 163, 248, 226, 41570,
  164, 108, 249, 42891, 363, 1883, 3306, 1883, 3306, 3306, 283, 338, 285, 1883, 283, 338, 285, 997, 518, 3473, 9696, 1535, 655, 12560, 524, 33703, 281,
  3306, 269, 767, 2770, 537, 1777, 505, 20278, 2770, 38825, 2189, 829, 631, 592, 1960,
];

describe("ClipTokenizer with the real CLIP merges", () => {
  it("has CLIP's vocabulary and special ids", () => {
    expect([clip.vocabSize, clip.bos, clip.eos]).toEqual([49408, 49406, 49407]);
  });

  it.each([
    ["a photo of a cat", [320, 1125, 539, 320, 2368]],
    ["a photo of a dog", [320, 1125, 539, 320, 1929]],
    ["hello world", [3306, 1002]],
    ["  A   PHOTO\tof a\n Cat ", [320, 1125, 539, 320, 2368]],
    ["a man img and a woman img sitting in a park", [320, 786, 24157, 537, 320, 2308, 24157, 4919, 530, 320, 1452]],
    ["this is a test 😊", [589, 533, 320, 1628, 3020]],
    ["92000", [280, 273, 271, 271, 271]],
    ["<|startoftext|>a<|endoftext|>", [49406, 320, 49407]],
    ["", []],
    [HF_INPUT, HF_IDS],
  ])("encodes %j exactly", (text, ids) => {
    expect(clip.encode(text)).toEqual(ids);
  });

  it("splits digits one by one, keeps contractions and symbol runs, unescapes html", () => {
    const words = clip.encodeWords("it's 42 &amp; !!");
    expect(words.map((w) => w.word)).toEqual(["it", "'s", "4", "2", "&", "!!"]);
  });

  it("treats a curly apostrophe like a straight one, as ftfy does", () => {
    expect(clip.encode("a man’s dog")).toEqual(clip.encode("a man's dog"));
    expect(clip.encode("ﬁsh")).toEqual(clip.encode("fish"));
    expect(clip.encode("ＣＡＴ")).toEqual(clip.encode("cat"));
    expect(clip.encode("cafe\u0301")).toEqual(clip.encode("café"));
  });

  it("gives offsets into the original text", () => {
    const text = "  A MAN &amp; his Dog";
    const words = clip.encodeWords(text);
    expect(words.map((w) => [w.word, text.slice(w.start, w.end)])).toEqual([
      ["a", "A"],
      ["man", "MAN"],
      ["&", "&amp;"],
      ["his", "his"],
      ["dog", "Dog"],
    ]);
  });

  it("encodes any unicode without unknown tokens", () => {
    const ids = clip.encode("Café déjà-vu 東京 🙂 \u0000 \ufeff \ud800");
    expect(ids.length).toBeGreaterThan(5);
    expect(ids.every((id) => Number.isInteger(id) && id >= 0 && id < 49406)).toBe(true);
  });

  it("keeps only the merges a smaller vocabulary allows", () => {
    expect(clip.encode("photo")).toEqual([1125]);
    // 515 keeps one merge ("p h" → 512); "o" is byte symbol 78 ("!" is 0), "o</w>" 256 + 78.
    expect(ClipTokenizer.fromMerges("#version: 0.2\np h\no t\nph o\n", { vocabSize: 515 }).encode("photo")).toEqual([512, 78, 83, 334]);
  });
});

describe("ClipTokenizer.fromMerges", () => {
  it("refuses a vocabulary larger than its merges allow", () => {
    expect(() => ClipTokenizer.fromMerges("#version: 0.2\na b\n", { vocabSize: 600 })).toThrow(/merges/);
  });

  it("refuses a line that is not a pair", () => {
    expect(() => ClipTokenizer.fromMerges("#version: 0.2\na b c\n")).toThrow(/line 2/);
  });

  it("puts BOS and EOS right after the merges of a short file", () => {
    const tiny = ClipTokenizer.fromMerges("#version: 0.2\r\nc a\r\nca t</w>\r\n");
    expect([tiny.vocabSize, tiny.bos, tiny.eos]).toEqual([516, 514, 515]);
    expect(tiny.encode("cat")).toEqual([513]);
  });
});
