import { beforeAll, describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { PromptError } from "../errors.ts";
import { ClipTokenizer } from "../tokenizer/clip-tokenizer.ts";
import { parsePrompt } from "./parse-prompt.ts";

const CLIP_MERGES = fileURLToPath(new URL("../../../../shared/data/clip/bpe_simple_vocab_16e6.txt.gz", import.meta.url));

let clip: ClipTokenizer;
beforeAll(async () => {
  clip = await ClipTokenizer.fromFile(CLIP_MERGES);
});

/** Words that stress the img rules: case, glued digits, punctuation, entities, odd spaces, unicode. */
const piece = fc.constantFrom("img", "IMG", "Img", "img2", "2img", "imgur", "man", "a", ",", "!", "(", "'s", "’s", "&amp;", "&#105;mg", "ｉｍｇ", "東京", "42", "é", "e\u0301", "\u00a0", "\ufeff", "\t", "");
const text = fc.oneof(
  fc.string({ unit: "binary", maxLength: 120 }),
  fc.array(piece, { maxLength: 100 }).map((w) => w.join(" ")),
  fc.array(fc.oneof(piece, fc.string({ unit: "grapheme", maxLength: 4 })), { maxLength: 40 }).map((w) => w.join("")),
);

describe("parsePrompt properties", () => {
  it("returns a consistent parse or throws a PromptError, and nothing else", () => {
    fc.assert(
      fc.property(text, (prompt) => {
        let p;
        try {
          p = parsePrompt(prompt, clip);
        } catch (e) {
          if (e instanceof PromptError) return;
          throw e;
        }
        expect(p.inputIds).toHaveLength(77);
        expect(p.inputIds.slice(0, p.tokenCount + 2)).toEqual([clip.bos, ...clip.encode(p.textWithoutImg), clip.eos]);
        p.subjectPositions.forEach((pos, i) => {
          if (i > 0) expect(pos).toBeGreaterThan(p.subjectPositions[i - 1]);
          expect(pos).toBeGreaterThan(0);
          expect(p.inputIds[pos]).toBe(clip.encode(p.subjectWords[i]).at(-1));
        });
        // No img word is left: the text without them parses to the same ids and no subject.
        const again = parsePrompt(p.textWithoutImg, clip);
        expect(again.subjectPositions).toEqual([]);
        expect(again.inputIds).toEqual(p.inputIds);
      }),
      { numRuns: 300 },
    );
  });

  it("always parses well-formed prompts with the right count", () => {
    const word = fc.constantFrom("man", "woman", "dog", "cat", "child", "robot", "astronaut", "Teddy", "R2", "café");
    const filler = fc.array(fc.constantFrom("and", "a", "the", "sitting", "in", "park,", "beach.", "photo", "with"), { maxLength: 5 });
    fc.assert(
      fc.property(fc.array(fc.tuple(filler, word), { minLength: 1, maxLength: 4 }), fc.constantFrom(" ", "  ", "\n"), (parts, gap) => {
        const prompt = parts.map(([f, w]) => [...f, w, "img"].join(gap)).join(gap);
        const p = parsePrompt(prompt, clip);
        expect(p.subjectWords).toEqual(parts.map(([, w]) => w.toLowerCase().replace(/^r2$/, "2")));
        expect(p.subjectPositions).toHaveLength(parts.length);
      }),
      { numRuns: 200 },
    );
  });
});
