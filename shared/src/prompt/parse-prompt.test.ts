import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { PromptError } from "../errors.ts";
import { ClipTokenizer } from "../tokenizer/clip-tokenizer.ts";
import { CLIP_MERGES } from "../tokenizer/clip-tokenizer.test.ts";
import { assertSubjectCount, encodePlain, parsePrompt } from "./parse-prompt.ts";

let clip: ClipTokenizer;
beforeAll(async () => {
  clip = await ClipTokenizer.fromFile(CLIP_MERGES);
});

const codeOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e instanceof PromptError ? e.code : `not a PromptError: ${String(e)}`;
  }
  return "ok";
};

describe("parsePrompt", () => {
  it("removes img words and points each subject at the word before it", () => {
    const p = parsePrompt("a man img and a woman img sitting in a park", clip);
    expect(p.inputIds.slice(0, 12)).toEqual([49406, 320, 786, 537, 320, 2308, 4919, 530, 320, 1452, 49407, 49407]);
    expect(p.inputIds).toHaveLength(77);
    expect(p.subjectPositions).toEqual([2, 5]);
    expect(p.subjectWords).toEqual(["man", "woman"]);
    expect(p.textWithoutImg).toBe("a man and a woman sitting in a park");
  });

  it("counts only the whole word img", () => {
    expect(parsePrompt("an imgur logo near a dog img", clip).subjectPositions).toHaveLength(1);
    expect(parsePrompt("an img2 photo of a cat Img", clip).subjectWords).toEqual(["cat"]);
    expect(parsePrompt("a man img.", clip).subjectWords).toEqual(["man"]);
  });

  it.each([
    ["img of a man", "image_token_invalid"],
    ["a man img img", "image_token_invalid"],
    ["a man, img", "image_token_invalid"],
    [`${"very ".repeat(80)}man img`, "prompt_too_long"],
  ])("%j → %s", (prompt, code) => {
    expect(codeOf(() => parsePrompt(prompt, clip))).toBe(code);
  });

  it("names the position of a bad img", () => {
    try {
      parsePrompt("a man img, img", clip);
      expect.unreachable();
    } catch (e) {
      expect((e as PromptError).details).toEqual({ index: 1, offset: 11 });
    }
  });

  it("accepts exactly 75 tokens and refuses 76", () => {
    expect(parsePrompt(`${"a ".repeat(74)}man img`, clip).tokenCount).toBe(75);
    expect(codeOf(() => parsePrompt(`${"a ".repeat(75)}man img`, clip))).toBe("prompt_too_long");
  });

  it("checks the subject count against the subjects and the model", () => {
    const two = parsePrompt("a man img and a woman img", clip);
    expect(codeOf(() => assertSubjectCount(two, 2, 2))).toBe("ok");
    expect(codeOf(() => assertSubjectCount(two, 1, 2))).toBe("image_token_mismatch");
    expect(codeOf(() => assertSubjectCount(two, 2, 1))).toBe("image_token_mismatch");
    expect(codeOf(() => assertSubjectCount(parsePrompt("a park", clip), 0, 2))).toBe("image_token_mismatch");
  });

  it("truncates a long negative prompt like CLIP, ending with EOS", () => {
    const ids = encodePlain("blurry ".repeat(100), clip);
    expect(ids).toHaveLength(77);
    expect(ids[0]).toBe(49406);
    expect(ids[76]).toBe(49407);
  });
});

describe("parsePrompt properties", () => {
  const text = fc.oneof(
    fc.string({ unit: "binary", maxLength: 120 }),
    fc.array(fc.constantFrom("img", "man", "a", ",", "!", " ", "imgur", "Img", "東京", "42", "'s", "&amp;"), { maxLength: 60 }).map((w) => w.join(" ")),
  );

  it("returns or throws a PromptError, and nothing else", () => {
    fc.assert(
      fc.property(text, (prompt) => {
        try {
          const p = parsePrompt(prompt, clip);
          expect(p.inputIds).toHaveLength(77);
          expect(p.subjectPositions).toEqual([...p.subjectPositions].sort((a, b) => a - b));
          expect(new Set(p.subjectPositions).size).toBe(p.subjectPositions.length);
          p.subjectPositions.forEach((pos, i) => {
            const lastId = clip.encode(p.subjectWords[i]).at(-1);
            expect(p.inputIds[pos]).toBe(lastId);
          });
          expect(clip.encode(p.textWithoutImg)).toEqual(p.inputIds.slice(1, 1 + p.tokenCount));
        } catch (e) {
          if (!(e instanceof PromptError)) throw e;
        }
      }),
      { numRuns: 300 },
    );
  });

  it("always parses well-formed prompts with the right count", () => {
    const word = fc.constantFrom("man", "woman", "dog", "cat", "child", "robot", "astronaut");
    const filler = fc.array(fc.constantFrom("and", "a", "the", "sitting", "in", "park", "beach", "photo"), { maxLength: 5 });
    fc.assert(
      fc.property(fc.array(fc.tuple(filler, word), { minLength: 1, maxLength: 4 }), (parts) => {
        const prompt = parts.map(([f, w]) => [...f, w, "img"].join(" ")).join(" ");
        const p = parsePrompt(prompt, clip);
        expect(p.subjectWords).toEqual(parts.map(([, w]) => w));
      }),
      { numRuns: 200 },
    );
  });
});
