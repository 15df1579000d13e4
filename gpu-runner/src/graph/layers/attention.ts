import type { GraphBuilder } from "../builder.ts";

export interface AttentionOptions {
  heads: number;
  /** Channels of q/k/v (heads × head dim). */
  dim: number;
  /** Additive bias broadcast onto the scaled scores [B, heads, Lq, Lk] before softmax (e.g. [B,1,Lq,Lk]). */
  bias?: string;
}

export interface AttentionOutput {
  /** [B, Lq, dim] */
  out: string;
  /** Softmax probabilities [B, heads, Lq, Lk]. */
  probs: string;
}

/** [B, L, heads·d] → [B, heads, L, d] */
function splitHeads(g: GraphBuilder, x: string, heads: number, headDim: number): string {
  return g.op("Transpose", [g.op("Reshape", [x, g.ints([0, 0, heads, headDim])])], { perm: [0, 2, 1, 3] });
}

/**
 * Scaled dot-product attention, softmax(q·kᵀ/√d + bias)·v, over already projected q, k, v [B, L, dim].
 * The bias is the localized-attention hook (DESIGN §4 step 6): −10000 where a pixel may not see a token.
 */
export function attention(g: GraphBuilder, q: string, k: string, v: string, options: AttentionOptions): AttentionOutput {
  const { heads, dim } = options;
  if (dim % heads !== 0) throw new Error(`attention: dim ${dim} does not split into ${heads} heads`);
  const headDim = dim / heads;
  const qh = splitHeads(g, q, heads, headDim);
  const kt = g.op("Transpose", [g.op("Reshape", [k, g.ints([0, 0, heads, headDim])])], { perm: [0, 2, 3, 1] });
  const vh = splitHeads(g, v, heads, headDim);
  let scores = g.op("Mul", [g.op("MatMul", [qh, kt]), g.floats([1 / Math.sqrt(headDim)], [], "attn_scale")]);
  if (options.bias) scores = g.op("Add", [scores, options.bias]);
  const probs = g.op("Softmax", [scores], { axis: -1 });
  const merged = g.op("Transpose", [g.op("MatMul", [probs, vh])], { perm: [0, 2, 1, 3] });
  return { out: g.op("Reshape", [merged, g.ints([0, 0, dim])]), probs };
}

