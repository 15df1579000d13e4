import { encodeBytes } from "./byte-encoder.ts";
import { cleanText, preTokenize } from "./pre-tokenize.ts";

/**
 * A tiny deterministic BPE trainer in CLIP's conventions (byte symbols, `</w>` word ends): the
 * most frequent adjacent pair is merged first, ties broken by the pair's text. Used to give the
 * tiny model bundle its own small merges file. Returns merge lines "a b" (no header); fewer than
 * `numMerges` when the corpus runs out of pairs.
 */
export function trainBpeMerges(corpus: string, numMerges: number): string[] {
  const counts = new Map<string, number>();
  for (const p of preTokenize(cleanText(corpus))) counts.set(p.text, (counts.get(p.text) ?? 0) + 1);
  const words = [...counts].map(([text, count]) => {
    const s = Array.from(encodeBytes(text));
    return { symbols: [...s.slice(0, -1), `${s[s.length - 1]}</w>`], count };
  });
  const merges: string[] = [];
  while (merges.length < numMerges) {
    const pairs = new Map<string, number>();
    for (const w of words) for (let i = 0; i < w.symbols.length - 1; i++) {
      const key = `${w.symbols[i]} ${w.symbols[i + 1]}`;
      pairs.set(key, (pairs.get(key) ?? 0) + w.count);
    }
    let best: string | null = null;
    let bestCount = 0;
    for (const [pair, c] of pairs) if (c > bestCount || (c === bestCount && best !== null && pair < best)) [best, bestCount] = [pair, c];
    if (best === null) break;
    merges.push(best);
    const [a, b] = best.split(" ");
    for (const w of words) {
      const next: string[] = [];
      for (let i = 0; i < w.symbols.length; i++) {
        if (i < w.symbols.length - 1 && w.symbols[i] === a && w.symbols[i + 1] === b) {
          next.push(a + b);
          i++;
        } else next.push(w.symbols[i]);
      }
      w.symbols = next;
    }
  }
  return merges;
}
