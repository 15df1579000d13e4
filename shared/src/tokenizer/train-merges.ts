import { mergePair, wordSymbols } from "./bpe.ts";
import { cleanText } from "./clean-text.ts";
import { preTokenize, SPECIAL_TOKENS } from "./pre-tokenize.ts";

/**
 * A tiny deterministic BPE trainer in CLIP's conventions (cleaning, pre-tokenizer, byte symbols,
 * `</w>` word ends): the most frequent adjacent pair is merged first, ties broken by the pair's
 * text (UTF-16 order). Used to give the tiny model bundle its own small merges file, read back
 * with `ClipTokenizer.fromMerges("#version: 0.2\n" + lines, { vocabSize: 512 + lines.length + 2 })`.
 * Returns merge lines "a b" (no header); fewer than `numMerges` when the corpus runs out of pairs.
 */
export function trainBpeMerges(corpus: string, numMerges: number): string[] {
  const words = countWords(corpus);
  const merges: string[] = [];
  while (merges.length < numMerges) {
    const best = mostFrequentPair(words);
    if (best === undefined) break;
    merges.push(best);
    const [a, b] = best.split(" ");
    for (const w of words) w.symbols = mergePair(w.symbols, a, b);
  }
  return merges;
}

interface WordCount {
  symbols: string[];
  count: number;
}

/** Distinct pre-tokenized pieces with their counts, as starting symbols (specials are not words). */
function countWords(corpus: string): WordCount[] {
  const counts = new Map<string, number>();
  for (const { text } of preTokenize(cleanText(corpus))) {
    if (!(SPECIAL_TOKENS as readonly string[]).includes(text)) counts.set(text, (counts.get(text) ?? 0) + 1);
  }
  return [...counts].map(([text, count]) => ({ symbols: wordSymbols(text), count }));
}

function mostFrequentPair(words: readonly WordCount[]): string | undefined {
  const pairs = new Map<string, number>();
  for (const { symbols, count } of words) {
    for (let i = 0; i < symbols.length - 1; i++) {
      const key = `${symbols[i]} ${symbols[i + 1]}`;
      pairs.set(key, (pairs.get(key) ?? 0) + count);
    }
  }
  let best: string | undefined;
  let bestCount = 0;
  for (const [pair, count] of pairs) {
    if (count > bestCount || (count === bestCount && best !== undefined && pair < best)) [best, bestCount] = [pair, count];
  }
  return best;
}
