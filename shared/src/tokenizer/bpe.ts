import { encodeBytes } from "./byte-encoder.ts";

/** Suffix that marks the last symbol of a word, so "a" alone and the "a" in "at" differ. */
export const END_OF_WORD = "</w>";

/** A pre-tokenized piece as BPE's starting symbols: its byte symbols, the last one with `</w>`. */
export function wordSymbols(piece: string): string[] {
  const symbols = Array.from(encodeBytes(piece));
  symbols[symbols.length - 1] += END_OF_WORD;
  return symbols;
}

/** Replaces every adjacent `a`,`b` (left to right, not overlapping) by `a+b`, as CLIP's bpe() does. */
export function mergePair(symbols: readonly string[], a: string, b: string): string[] {
  const merged: string[] = [];
  for (let i = 0; i < symbols.length; i++) {
    if (i < symbols.length - 1 && symbols[i] === a && symbols[i + 1] === b) {
      merged.push(a + b);
      i++;
    } else merged.push(symbols[i]);
  }
  return merged;
}

/** Applies merges by rank (lowest first) until no adjacent pair has one. */
export function applyMerges(piece: string, ranks: ReadonlyMap<string, number>): string[] {
  let word = wordSymbols(piece);
  while (word.length > 1) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i < word.length - 1; i++) {
      const rank = ranks.get(`${word[i]} ${word[i + 1]}`);
      if (rank !== undefined && rank < bestRank) [best, bestRank] = [i, rank];
    }
    if (best < 0) break;
    word = mergePair(word, word[best], word[best + 1]);
  }
  return word;
}
