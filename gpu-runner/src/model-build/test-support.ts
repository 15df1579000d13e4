import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import * as ort from "onnxruntime-node";
import { relativeError } from "../graph/test-support.ts";

export { relativeError };
import { clipVocabulary, mergeLines } from "@troupe/shared/tokenizer/clip-tokenizer";

export { PARITY } from "../checkpoints/test-support.ts";
export const CLIP_BPE = fileURLToPath(new URL("../../../../shared/data/clip/bpe_simple_vocab_16e6.txt.gz", import.meta.url));

/**
 * A CLIP tokenizer folder (vocab.json + merges.txt, as transformers saves one) for a vocabulary of
 * `vocabSize`: CLIP's construction with the first V − 514 merges of CLIP's BPE file, as the fixtures' are.
 */
export function writeClipTokenizer(dir: string, vocabSize: number): string {
  const merges = mergeLines(gunzipSync(readFileSync(CLIP_BPE)).toString("utf8")).slice(0, vocabSize - 514);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "vocab.json"), JSON.stringify(Object.fromEntries(clipVocabulary(merges).map((t, i) => [t, i]))));
  writeFileSync(join(dir, "merges.txt"), `#version: 0.2\n${merges.map((pair) => pair.join(" ")).join("\n")}\n`);
  return dir;
}

/** A safetensors file's tensors (goldens hold F32, I64 and BOOL) as ORT tensors, by name. */
export function readGoldens(path: string): Record<string, ort.Tensor> {
  const buf = readFileSync(path);
  const headerLength = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLength).toString("utf8")) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const bytes = buf.subarray(8 + headerLength + t.data_offsets[0], 8 + headerLength + t.data_offsets[1]);
    const copy = new Uint8Array(bytes).buffer; // aligned
    if (t.dtype === "F32") out[name] = new ort.Tensor("float32", new Float32Array(copy), t.shape);
    else if (t.dtype === "I64") out[name] = new ort.Tensor("int64", new BigInt64Array(copy), t.shape);
    else if (t.dtype === "BOOL") out[name] = new ort.Tensor("bool", new Uint8Array(copy), t.shape);
    else throw new Error(`${path}: ${name} has dtype ${t.dtype}`);
  }
  return out;
}

/**
 * Runs one bundle graph on a golden file's `in.*` tensors and returns the relative error of each
 * `out.*` the graph produces.
 */
export async function goldenErrors(graphPath: string, goldensPath: string): Promise<Record<string, number>> {
  const goldens = readGoldens(goldensPath);
  const session = await ort.InferenceSession.create(graphPath, { intraOpNumThreads: 1 });
  try {
    const feeds = Object.fromEntries(session.inputNames.map((n) => [n, goldens[`in.${n}`]]));
    const missing = session.inputNames.filter((n) => !goldens[`in.${n}`]);
    if (missing.length) throw new Error(`${goldensPath} has no in.${missing.join(", in.")}`);
    const outputs = await session.run(feeds);
    const errors: Record<string, number> = {};
    for (const name of session.outputNames) {
      const ref = goldens[`out.${name}`];
      if (ref) errors[name] = relativeError(outputs[name].data as Float32Array, ref.data as Float32Array);
    }
    return errors;
  } finally {
    await session.release();
  }
}
