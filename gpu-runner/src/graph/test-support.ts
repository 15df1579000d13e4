import * as ort from "onnxruntime-node";
import type { GraphBuilder } from "./builder.ts";

/** A session over a builder's graph, in memory (tests). */
export async function sessionOf(g: GraphBuilder): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(g.toBytes(), { graphOptimizationLevel: "all", intraOpNumThreads: 1 });
}

export const f32 = (data: Float32Array, dims: number[]) => new ort.Tensor("float32", data, dims);

/** Deterministic test data in [−1, 1). */
export function pseudoRandom(length: number, seed = 1): Float32Array {
  let s = seed;
  return Float32Array.from({ length }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}

/** The parity fixtures' measure: max |ours − ref| / max |ref|. */
export function relativeError(ours: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (ours.length !== ref.length) throw new Error(`lengths differ: ${ours.length} vs ${ref.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(ours[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return diff / scale;
}
