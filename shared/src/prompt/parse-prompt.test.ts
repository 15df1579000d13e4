import { beforeAll, describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { PromptError } from "../errors.ts";
import { ClipTokenizer } from "../tokenizer/clip-tokenizer.ts";
import { assertSubjectCount, encodePlain, parsePrompt } from "./parse-prompt.ts";

// The real CLIP merges file, read where it lies (test data, never copied into the project).
const CLIP_MERGES = fileURLToPath(new URL("../../../../shared/data/clip/bpe_simple_vocab_16e6.txt.gz", import.meta.url));
const [BOS, EOS] = [49406, 49407];

let clip: ClipTokenizer;
beforeAll(async () => {
  clip = await ClipTokenizer.fromFile(CLIP_MERGES);
});

/** The PromptError a call throws, as `{ code, details }`, or "ok". */
const outcome = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    if (e instanceof PromptError) return { code: e.code, details: e.details };
    throw e;
  }
  return "ok";
};

describe("parsePrompt", () => {
  it("removes img words and points each subject at the word before it", () => {
    const p = parsePrompt("a man img and a woman img sitting in a park", clip);
    expect(p.inputIds.slice(0, 13)).toEqual([BOS, 320, 786, 537, 320, 2308, 4919, 530, 320, 1452, EOS, EOS, EOS]);
    expect(p.inputIds).toHaveLength(77);
    expect(p.inputIds.slice(11).every((id) => id === EOS)).toBe(true);
    expect(p.subjectPositions).toEqual([2, 5]);
    expect(p.subjectWords).toEqual(["man", "woman"]);
    expect(p.tokenCount).toBe(9);
    expect(p.textWithoutImg).toBe("a man and a woman sitting in a park");
  });

  it("points at the last token of a word of several tokens", () => {
    const p = parsePrompt("an astronautess img", clip);
    const word = clip.encode("astronautess");
    expect(word.length).toBeGreaterThan(1);
    expect(p.subjectPositions).toEqual([1 + clip.encode("an").length + word.length - 1]);
    expect(p.inputIds[p.subjectPositions[0]]).toBe(word.at(-1));
  });

  it("counts only the whole word img, in any case", () => {
    expect(parsePrompt("an imgur logo near a dog img", clip).subjectWords).toEqual(["dog"]);
    expect(parsePrompt("an img2 photo of a cat IMG", clip).subjectWords).toEqual(["cat"]);
    expect(parsePrompt("a 2img photo of a cat Img.", clip).subjectWords).toEqual(["cat"]);
    expect(parsePrompt("A Man img, in the rain", clip).textWithoutImg).toBe("A Man , in the rain");
  });

  it("uses pads and lengths from the options", () => {
    const p = parsePrompt("a cat img", clip, { maxLength: 8, pad: 0 });
    expect(p.inputIds).toEqual([BOS, 320, 2368, EOS, 0, 0, 0, 0]);
  });

  it.each([
    ["img of a man", { index: 0, offset: 0 }],
    ["a man img img", { index: 1, offset: 10 }],
    ["a man, img", { index: 0, offset: 7 }],
    ["  a MAN img,   IMG", { index: 1, offset: 15 }],
    ["a man (img)", { index: 0, offset: 7 }],
  ])("%j → image_token_invalid at %j", (prompt, details) => {
    expect(outcome(() => parsePrompt(prompt, clip))).toEqual({ code: "image_token_invalid", details });
  });

  it("says what to do in the message", () => {
    expect(() => parsePrompt("a man, img", clip)).toThrow(/after the subject's word/);
  });

  it("accepts exactly 75 tokens without img and refuses 76", () => {
    expect(parsePrompt(`${"a ".repeat(74)}man img`, clip).tokenCount).toBe(75);
    expect(outcome(() => parsePrompt(`${"a ".repeat(75)}man img`, clip))).toEqual({ code: "prompt_too_long", details: { tokens: 76, max: 75 } });
  });

  it("checks the subject count against the subjects and the model", () => {
    const two = parsePrompt("a man img and a woman img", clip);
    const mismatch = (imgTokens: number, subjects: number, maxSubjects: number) => ({ code: "image_token_mismatch", details: { imgTokens, subjects, maxSubjects } });
    expect(outcome(() => assertSubjectCount(two, 2, 2))).toBe("ok");
    expect(outcome(() => assertSubjectCount(two, 1, 2))).toEqual(mismatch(2, 1, 2));
    expect(outcome(() => assertSubjectCount(two, 2, 1))).toEqual(mismatch(2, 2, 1));
    expect(outcome(() => assertSubjectCount(parsePrompt("a park", clip), 0, 2))).toEqual(mismatch(0, 0, 2));
  });
});

describe("encodePlain", () => {
  it("pads a short prompt with EOS", () => {
    expect(encodePlain("blurry", clip).slice(0, 4)).toEqual([BOS, ...clip.encode("blurry"), EOS, EOS]);
    expect(encodePlain("", clip)).toEqual([BOS, ...new Array<number>(76).fill(EOS)]);
  });

  it("truncates a long prompt like CLIP, ending with EOS", () => {
    const ids = encodePlain("a ".repeat(100), clip);
    expect(ids).toEqual([BOS, ...new Array<number>(75).fill(320), EOS]);
  });
});
