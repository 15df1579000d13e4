import { PromptError } from "../errors.ts";
import type { ClipTokenizer, EncodedWord } from "../tokenizer/clip-tokenizer.ts";
import { collapseWhitespace } from "../tokenizer/clean-text.ts";
import { isWordPiece } from "../tokenizer/pre-tokenize.ts";

/** The word that marks a subject: "a man img" → the subject is "man". */
export const IMAGE_TOKEN = "img";

export interface PromptOptions {
  /** Ids per sequence, BOS and EOS included (CLIP: 77). */
  maxLength?: number;
  /** Padding id; SD 1.5 pads with EOS. */
  pad?: number;
}

export interface ParsedPrompt {
  /** `maxLength` ids: BOS, the prompt without `img` words, EOS, padding. */
  inputIds: number[];
  /** One per `img`, in prompt order: the index in `inputIds` of the last token of the word before it. */
  subjectPositions: number[];
  /** The word before each `img`, as the tokenizer saw it (lower-case). */
  subjectWords: string[];
  /** Tokens without BOS/EOS. */
  tokenCount: number;
  /** The prompt as typed with its `img` words removed and whitespace collapsed; it encodes to the same ids. */
  textWithoutImg: string;
}

const pad = (ids: number[], length: number, padId: number) => [...ids, ...new Array<number>(length - ids.length).fill(padId)];

/**
 * Finds the subjects of a prompt (DESIGN §2, §4 step 1): every standalone word `img` is removed
 * and the word just before it becomes that subject's position. Throws PromptError only; the
 * `offset` in its details is a character offset into `prompt` as given.
 */
export function parsePrompt(prompt: string, tokenizer: ClipTokenizer, options: PromptOptions = {}): ParsedPrompt {
  const maxLength = options.maxLength ?? 77;
  const words = tokenizer.encodeWords(prompt);
  const ids: number[] = [];
  const removed: { start: number; end: number }[] = [];
  const subjectPositions: number[] = [];
  const subjectWords: string[] = [];
  let previous: (typeof words)[number] | null = null;
  let index = 0;
  for (const [k, w] of words.entries()) {
    if (isImageToken(words, k)) {
      const details = { index, offset: w.start };
      if (previous === null) throw new PromptError("image_token_invalid", `"img" #${index + 1} is at the start of the prompt; put it right after the word for its subject, as in "a man img".`, details);
      if (isImageToken(words, k - 1)) throw new PromptError("image_token_invalid", `"img" #${index + 1} directly follows another "img"; each subject needs its own word, as in "a man img and a woman img".`, details);
      if (!isWordPiece(previous.word)) throw new PromptError("image_token_invalid", `"img" #${index + 1} follows "${previous.word}"; put it right after the subject's word, not after punctuation.`, details);
      // ids has no BOS yet: the last token of the previous word sits at ids.length in inputIds.
      subjectPositions.push(ids.length);
      subjectWords.push(previous.word);
      removed.push(w);
      index++;
    } else {
      ids.push(...w.ids);
    }
    previous = w;
  }
  if (ids.length > maxLength - 2) {
    throw new PromptError("prompt_too_long", `The prompt is ${ids.length} tokens without its "img" words; the model reads at most ${maxLength - 2}, so shorten it.`, { tokens: ids.length, max: maxLength - 2 });
  }
  return {
    inputIds: pad([tokenizer.bos, ...ids, tokenizer.eos], maxLength, options.pad ?? tokenizer.eos),
    subjectPositions,
    subjectWords,
    tokenCount: ids.length,
    textWithoutImg: removeSpans(prompt, removed),
  };
}

/** Cuts the spans out, leaving a space so the words either side stay apart. */
const removeSpans = (text: string, spans: { start: number; end: number }[]) =>
  collapseWhitespace(spans.reduceRight((t, s) => `${t.slice(0, s.start)} ${t.slice(s.end)}`, text));

/**
 * A standalone `img`: a piece that is exactly "img" (the pre-tokenizer takes "imgur" whole) and
 * not glued to a digit either side ("img2" pre-tokenizes as "img", "2" but is an ordinary word).
 */
function isImageToken(words: EncodedWord[], k: number): boolean {
  const w = words[k];
  if (w?.word !== IMAGE_TOKEN) return false;
  const before = words[k - 1];
  const after = words[k + 1];
  const glued = (a: EncodedWord | undefined, touching: boolean) => a !== undefined && touching && isWordPiece(a.word);
  return !glued(before, before?.end === w.start) && !glued(after, after?.start === w.end);
}

/** The count of `img` words must equal the subjects given, within the model's limit. */
export function assertSubjectCount(parsed: ParsedPrompt, subjects: number, maxSubjects: number): void {
  const imgTokens = parsed.subjectPositions.length;
  const details = { imgTokens, subjects, maxSubjects };
  if (imgTokens === 0) throw new PromptError("image_token_mismatch", `The prompt has no "img" word; mark each subject with one, as in "a man img in a park".`, details);
  if (imgTokens > maxSubjects) throw new PromptError("image_token_mismatch", `The prompt has ${imgTokens} "img" words; this model takes at most ${maxSubjects} subjects.`, details);
  if (imgTokens !== subjects) throw new PromptError("image_token_mismatch", `The prompt has ${imgTokens} "img" word(s) but ${subjects} subject(s) were given; send one subject per "img", in prompt order.`, details);
}

/** A plain prompt (the negative one) as CLIP pads it: truncated to fit, last id EOS. */
export function encodePlain(text: string, tokenizer: ClipTokenizer, options: PromptOptions = {}): number[] {
  const maxLength = options.maxLength ?? 77;
  const ids = tokenizer.encode(text).slice(0, maxLength - 2);
  return pad([tokenizer.bos, ...ids, tokenizer.eos], maxLength, options.pad ?? tokenizer.eos);
}
