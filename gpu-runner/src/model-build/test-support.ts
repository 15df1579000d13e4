import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { BYTE_SYMBOLS } from "@troupe/shared/tokenizer/byte-encoder";

/** The parity fixtures (outside the project, never copied into it). */
export const PARITY = fileURLToPath(new URL("../../../../shared/data/parity/", import.meta.url));
export const CLIP_BPE = fileURLToPath(new URL("../../../../shared/data/clip/bpe_simple_vocab_16e6.txt.gz", import.meta.url));

/**
 * A CLIP tokenizer folder (vocab.json + merges.txt, as transformers saves one) for a vocabulary of
 * `vocabSize`: CLIP's construction with the first V − 514 merges of CLIP's BPE file, as the fixtures' are.
 */
export function writeClipTokenizer(dir: string, vocabSize: number): string {
  const lines = gunzipSync(readFileSync(CLIP_BPE)).toString("utf8").split("\n");
  const merges = lines.slice(1, 1 + vocabSize - 514);
  const tokens = [...BYTE_SYMBOLS, ...BYTE_SYMBOLS.map((s) => `${s}</w>`), ...merges.map((m) => m.split(" ").join("")), "<|startoftext|>", "<|endoftext|>"];
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "vocab.json"), JSON.stringify(Object.fromEntries(tokens.map((t, i) => [t, i]))));
  writeFileSync(join(dir, "merges.txt"), `#version: 0.2\n${merges.join("\n")}\n`);
  return dir;
}
