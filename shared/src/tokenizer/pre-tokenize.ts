/**
 * CLIP's pre-tokenizer: special tokens, English contractions, letter runs, single digits, symbol
 * runs. CLIP's `\s` (the `regex` module's) is Unicode White_Space, which JS `\s` is not (JS adds
 * U+FEFF), so the class is spelled out.
 */
const WHITE_SPACE = "\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const PATTERN = new RegExp(
  `<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^${WHITE_SPACE}\\p{L}\\p{N}]+`,
  "giu",
);

export const SPECIAL_TOKENS = ["<|startoftext|>", "<|endoftext|>"] as const;

export interface Piece {
  text: string;
  /** Offsets into the text given to preTokenize (the cleaned text). */
  start: number;
  end: number;
}

/** Splits cleaned text into the pieces BPE works on, one regex match each. */
export function preTokenize(cleaned: string): Piece[] {
  return Array.from(cleaned.matchAll(PATTERN), (m) => ({ text: m[0], start: m.index, end: m.index + m[0].length }));
}

/** A piece made only of letters or digits: a word a subject token may follow. */
export const isWordPiece = (text: string): boolean => /^[\p{L}\p{N}]+$/u.test(text);
