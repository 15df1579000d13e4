import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { clipVocabulary, mergeLines } from "@troupe/shared/tokenizer/clip-tokenizer";
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
  if (vocab["<|startoftext|>"] !== vocabSize - 2 || vocab["<|endoftext|>"] !== vocabSize - 1) throw fail(`puts <|startoftext|>/<|endoftext|> at ${vocab["<|startoftext|>"]}/${vocab["<|endoftext|>"]}, not ${vocabSize - 2}/${vocabSize - 1}`);
  const merges = mergeLines(readFileSync(mergesPath, "utf8"));
  const needed = vocabSize - 514;
  if (merges.length < needed) throw new Error(`tokenizer: ${mergesPath} has ${merges.length} merges; a vocabulary of ${vocabSize} needs ${needed}`);
  // the ids the runner's tokenizer derives from merges.txt must be the ids vocab.json gives
  const expected = clipVocabulary(merges.slice(0, needed));
  const wrong = expected.findIndex((token, id) => vocab[token] !== id);
  if (wrong >= 0) throw fail(`gives "${expected[wrong]}" id ${vocab[expected[wrong]]}, but merges.txt implies ${wrong}`);
  return mergesPath;
}
