import { readFile } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
import { BYTE_SYMBOLS, encodeBytes } from "./byte-encoder.ts";
import { cleanText, preTokenize } from "./pre-tokenize.ts";

export const CLIP_VOCAB_SIZE = 49408;

export interface ClipTokenizerOptions {
  /** 512 byte symbols + merges + 2 specials; CLIP keeps the first 48894 merges of its file. */
  vocabSize?: number;
}

export interface EncodedWord {
  word: string;
  /** Offsets into the cleaned (whitespace-collapsed, lower-cased) text. */
  start: number;
  end: number;
  ids: number[];
}

/** Splits a merges file into merge lines, dropping the `#version` header and blank lines. */
const mergeLines = (text: string) =>
  text
    .split("\n")
    .slice(1)
    .filter((l) => l.length > 0);

/** A port of OpenAI CLIP's SimpleTokenizer (the tokenizer of SD 1.5's text encoder). */
export class ClipTokenizer {
  readonly bos: number;
  readonly eos: number;
  readonly vocabSize: number;
  private readonly encoder = new Map<string, number>();
  private readonly ranks = new Map<string, number>();
  private readonly cache = new Map<string, string[]>();

  private constructor(merges: string[], vocabSize: number) {
    const vocab = [...BYTE_SYMBOLS, ...BYTE_SYMBOLS.map((s) => `${s}</w>`)];
    merges.forEach((m, i) => {
      this.ranks.set(m, i);
      vocab.push(m.replace(" ", ""));
    });
    vocab.push("<|startoftext|>", "<|endoftext|>");
    vocab.forEach((token, id) => this.encoder.set(token, id));
    this.vocabSize = vocabSize;
    this.bos = vocabSize - 2;
    this.eos = vocabSize - 1;
  }

  /** From the text of a merges file (header line first). */
  static fromMerges(mergesText: string, options: ClipTokenizerOptions = {}): ClipTokenizer {
    const all = mergeLines(mergesText);
    const count = options.vocabSize === undefined ? Math.min(all.length, CLIP_VOCAB_SIZE - 514) : options.vocabSize - 514;
    if (count < 0 || count > all.length) {
      throw new Error(`A vocabulary of ${options.vocabSize} needs ${count} merges; the file has ${all.length}.`);
    }
    return new ClipTokenizer(all.slice(0, count), count + 514);
  }

  /** From a `.txt` or `.txt.gz` merges file. */
  static async fromFile(path: string, options: ClipTokenizerOptions = {}): Promise<ClipTokenizer> {
    const raw = await readFile(path);
    const text = (path.endsWith(".gz") ? gunzipSync(raw) : raw).toString("utf8");
    return ClipTokenizer.fromMerges(text, options);
  }

  /** Token ids of `text`, without BOS/EOS. */
  encode(text: string): number[] {
    return this.encodeWords(text).flatMap((w) => w.ids);
  }

  /** One entry per pre-tokenizer piece, so callers can reason about words (subject tokens). */
  encodeWords(text: string): EncodedWord[] {
    return preTokenize(cleanText(text)).map((p) => ({ word: p.text, start: p.start, end: p.end, ids: this.bpe(p.text).map((t) => this.encoder.get(t)!) }));
  }

  /** Byte-pair merges of one piece, lowest rank first, until none applies. */
  private bpe(piece: string): string[] {
    if (piece === "<|startoftext|>" || piece === "<|endoftext|>") return [piece];
    const cached = this.cache.get(piece);
    if (cached) return cached;
    const symbols = Array.from(encodeBytes(piece));
    let word = [...symbols.slice(0, -1), `${symbols[symbols.length - 1]}</w>`];
    while (word.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i < word.length - 1; i++) {
        const rank = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) break;
      const [a, b] = [word[best], word[best + 1]];
      const merged: string[] = [];
      for (let i = 0; i < word.length; i++) {
        if (i < word.length - 1 && word[i] === a && word[i + 1] === b) {
          merged.push(a + b);
          i++;
        } else merged.push(word[i]);
      }
      word = merged;
    }
    if (this.cache.size < 10_000) this.cache.set(piece, word);
    return word;
  }
}
