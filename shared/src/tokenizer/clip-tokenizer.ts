import { readFile } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
import { applyMerges, END_OF_WORD } from "./bpe.ts";
import { BYTE_SYMBOLS } from "./byte-encoder.ts";
import { cleanTracked } from "./clean-text.ts";
import { preTokenize, SPECIAL_TOKENS } from "./pre-tokenize.ts";
import { originalSpan } from "./tracked-text.ts";

/** CLIP's vocabulary: 256 byte symbols, the same with `</w>`, 48894 merges, BOS, EOS. */
export const CLIP_VOCAB_SIZE = 49408;
const BASE_SYMBOLS = 2 * 256;
const SPECIALS = 2;

export interface ClipTokenizerOptions {
  /**
   * 512 byte symbols + merges + 2 specials; the first `vocabSize - 514` merges of the file are
   * used, BOS is `vocabSize - 2`, EOS `vocabSize - 1`.
   * @default 49408 (CLIP), or fewer when the file has fewer merges, as CLIP's slice would give
   */
  vocabSize?: number;
}

export interface EncodedWord {
  /** The piece as the tokenizer saw it (cleaned: lower-case, entities decoded). */
  word: string;
  /** Offsets of the piece in the ORIGINAL text given to encodeWords (end exclusive). */
  start: number;
  end: number;
  ids: number[];
}

/** Merge lines of a merges file: the `#version` header (line 1) and blank lines dropped. */
export const mergeLines = (text: string): string[][] =>
  text
    .split("\n")
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((pair) => pair[0] !== "");

/** CLIP's vocabulary in id order: 256 byte symbols, the same with `</w>`, one token per merge, BOS, EOS. */
export const clipVocabulary = (merges: string[][]): string[] => [...BYTE_SYMBOLS, ...BYTE_SYMBOLS.map((s) => s + END_OF_WORD), ...merges.map((pair) => pair.join("")), ...SPECIAL_TOKENS];

/** A port of OpenAI CLIP's SimpleTokenizer (the tokenizer of SD 1.5's text encoder). */
export class ClipTokenizer {
  readonly bos: number;
  readonly eos: number;
  readonly vocabSize: number;
  private readonly encoder = new Map<string, number>();
  private readonly ranks = new Map<string, number>();
  /** Piece → ids; bounded so a long-running server cannot grow it without limit. */
  private readonly cache = new Map<string, number[]>();

  private constructor(merges: string[][]) {
    merges.forEach((pair, rank) => this.ranks.set(pair.join(" "), rank));
    const vocab = clipVocabulary(merges);
    // Like CLIP's dict(zip(vocab, range)): a token listed twice keeps its later id.
    vocab.forEach((token, id) => this.encoder.set(token, id));
    this.vocabSize = vocab.length;
    this.bos = this.vocabSize - 2;
    this.eos = this.vocabSize - 1;
  }

  /** From the whole text of a merges file (header line first). */
  static fromMerges(mergesText: string, options: ClipTokenizerOptions = {}): ClipTokenizer {
    const all = mergeLines(mergesText);
    const bad = all.findIndex((pair) => pair.length !== 2);
    if (bad >= 0) throw new Error(`Merges line ${bad + 2} is not a pair "a b": ${JSON.stringify(all[bad].join(" "))}.`);
    const { vocabSize } = options;
    if (vocabSize === undefined) return new ClipTokenizer(all.slice(0, CLIP_VOCAB_SIZE - BASE_SYMBOLS - SPECIALS));
    const count = vocabSize - BASE_SYMBOLS - SPECIALS;
    if (!Number.isInteger(vocabSize) || count < 0 || count > all.length) {
      throw new Error(`A vocabulary of ${vocabSize} needs ${count} merges (vocabSize - 514); the merges file has ${all.length}.`);
    }
    return new ClipTokenizer(all.slice(0, count));
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
    const cleaned = cleanTracked(text);
    return preTokenize(cleaned.text).map((p) => ({ word: p.text, ...originalSpan(cleaned, p.start, p.end), ids: this.piece(p.text) }));
  }

  private piece(piece: string): number[] {
    const cached = this.cache.get(piece);
    if (cached) return cached;
    const isSpecial = (SPECIAL_TOKENS as readonly string[]).includes(piece);
    const tokens = isSpecial ? [piece] : applyMerges(piece, this.ranks);
    const ids = tokens.map((t) => this.idOf(t));
    if (this.cache.size < 10_000) this.cache.set(piece, ids);
    return ids;
  }

  private idOf(token: string): number {
    const id = this.encoder.get(token);
    // Unreachable with a well-formed file: every symbol a merge can produce is in the vocabulary.
    if (id === undefined) throw new Error(`Token ${JSON.stringify(token)} is not in the vocabulary.`);
    return id;
  }
}
