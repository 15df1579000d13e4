import { replaceTracked, type TrackedText } from "./tracked-text.ts";

/**
 * The part of `ftfy.fix_text` (CLIP's first cleaning step) that is a plain character mapping.
 * ftfy has no JavaScript port; its mojibake repair (fix_encoding and friends), terminal-escape and
 * control-character removal are NOT done here, so badly decoded text can tokenize differently
 * from CLIP. What is done is what everyday prompts hit: curly quotes from phone keyboards,
 * ligatures, fullwidth forms and NFC composition, in ftfy's order.
 */
export function fixText(source: TrackedText): TrackedText {
  let t = replaceTracked(source, LIGATURE_RE, (c) => LIGATURES[c] ?? c);
  t = replaceTracked(t, WIDTH_RE, (c) => (c === "\u3000" ? " " : c.normalize("NFKC")));
  t = replaceTracked(t, SINGLE_QUOTE_RE, () => "'");
  t = replaceTracked(t, DOUBLE_QUOTE_RE, () => '"');
  return toNfc(t);
}

/** ftfy's fix_latin_ligatures table (not NFKC: ftfy keeps the long s of U+FB05). */
const LIGATURES: Record<string, string> = {
  "\u0132": "IJ",
  "\u0133": "ij",
  "\u0149": "\u02bcn",
  "\u01c4": "D\u017d",
  "\u01c5": "D\u017e",
  "\u01c6": "d\u017e",
  "\u01c7": "LJ",
  "\u01c8": "Lj",
  "\u01c9": "lj",
  "\u01ca": "NJ",
  "\u01cb": "Nj",
  "\u01cc": "nj",
  "\u01f1": "DZ",
  "\u01f2": "Dz",
  "\u01f3": "dz",
  "\ufb00": "ff",
  "\ufb01": "fi",
  "\ufb02": "fl",
  "\ufb03": "ffi",
  "\ufb04": "ffl",
  "\ufb05": "\u017ft",
  "\ufb06": "st",
};
const LIGATURE_RE = /[\u0132\u0133\u0149\u01c4-\u01cc\u01f1-\u01f3\ufb00-\ufb06]/g;

/** ftfy's WIDTH_MAP: the ideographic space and the halfwidth/fullwidth forms block, by NFKC. */
const WIDTH_RE = /[\u3000\uff01-\uffef]/g;

/** ftfy's uncurl_quotes (it runs after the width fix, so U+FF07 is already a straight quote). */
const SINGLE_QUOTE_RE = /[\u02bc\u2018-\u201b]/g;
const DOUBLE_QUOTE_RE = /[\u201c-\u201f]/g;

/**
 * NFC, one cluster (a character, its combining marks, Hangul vowel/final jamo) at a time so
 * the offset mapping survives; text already in NFC, the usual case, is returned as is.
 */
function toNfc(t: TrackedText): TrackedText {
  if (t.text.normalize("NFC") === t.text) return t;
  return replaceTracked(t, /[^][\p{M}\u1160-\u11ff]*/gu, (cluster) => cluster.normalize("NFC"));
}
