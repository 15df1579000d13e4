/** CLIP's pre-tokenizer: special tokens, English contractions, letter runs, single digits, symbol runs. */
const PATTERN = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu;

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", "#39": "'", nbsp: " " };

/**
 * CLIP's text cleaning: html-unescape (twice, as CLIP does), collapse whitespace, trim, lower-case.
 * CLIP also runs ftfy.fix_text first; ftfy has no JavaScript port, so mojibake is not repaired here.
 */
export function cleanText(text: string): string {
  let s = text;
  for (let i = 0; i < 2; i++) s = s.replace(/&(#\d+|#x[0-9a-f]+|[a-z]+);/gi, (m, e: string) => decodeEntity(e) ?? m);
  return s.replace(/\s+/g, " ").trim().toLowerCase();
}

function decodeEntity(entity: string): string | undefined {
  const lower = entity.toLowerCase();
  if (lower in ENTITIES) return ENTITIES[lower];
  const code = lower.startsWith("#x") ? parseInt(lower.slice(2), 16) : lower.startsWith("#") ? parseInt(lower.slice(1), 10) : NaN;
  return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : undefined;
}

export interface Piece {
  text: string;
  /** Offsets into the cleaned text. */
  start: number;
  end: number;
}

export function preTokenize(cleaned: string): Piece[] {
  return Array.from(cleaned.matchAll(PATTERN), (m) => ({ text: m[0], start: m.index, end: m.index + m[0].length }));
}

/** A piece made only of letters or digits: a word a subject token may follow. */
export const isWordPiece = (text: string) => /^[\p{L}\p{N}]+$/u.test(text);
