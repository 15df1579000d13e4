import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ClipTokenizer, clipVocabulary, mergeLines } from "@troupe/shared/tokenizer/clip-tokenizer";
import { readJson } from "../checkpoints/diffusers-folder.ts";

/**
 * Checks a CLIP tokenizer folder (`vocab.json` + `merges.txt`, as transformers saves CLIPTokenizer)
 * against the text encoder's vocabulary of `vocabSize` rows: CLIP's construction is 256 byte symbols,
 * the same with `</w>`, the first V − 514 merges, then BOS and EOS. Returns the merges file to copy.
 */
export function checkTokenizer(dir: string, vocabSize: number): string {
  const vocabPath = join(dir, "vocab.json");
  const mergesPath = join(dir, "merges.txt");
  for (const path of [vocabPath, mergesPath]) if (!existsSync(path)) throw new Error(`tokenizer: ${path} is missing (a CLIP tokenizer folder has vocab.json and merges.txt)`);
  const vocab = readJson(vocabPath) as Record<string, number>;
  const size = Object.keys(vocab).length;
  const fail = (why: string) => new Error(`tokenizer: ${vocabPath} ${why}; the text encoder's token embedding has ${vocabSize} rows. Use the tokenizer that belongs to these weights.`);
  if (size !== vocabSize) throw fail(`has ${size} entries`);
  const text = readFileSync(mergesPath, "utf8");
  try {
    ClipTokenizer.fromMerges(text, { vocabSize }); // exactly as the runner will load it
  } catch (e) {
    throw new Error(`tokenizer: ${mergesPath}: ${(e as Error).message}`);
  }
  // the ids the runner's tokenizer derives from merges.txt (BOS and EOS last) must be the ids vocab.json gives
  const expected = clipVocabulary(mergeLines(text).slice(0, vocabSize - 514));
  const wrong = expected.findIndex((token, id) => vocab[token] !== id);
  if (wrong >= 0) throw fail(`gives "${expected[wrong]}" id ${vocab[expected[wrong]]}, but merges.txt implies ${wrong}`);
  return mergesPath;
}
