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

function headDimOf({ heads, dim }: AttentionOptions): number {
  if (dim % heads !== 0) throw new Error(`attention: dim ${dim} does not split into ${heads} heads`);
  return dim / heads;
}

/** [B, L, heads·d] → [B, heads, L, d] */
function splitHeads(g: GraphBuilder, x: string, heads: number, headDim: number): string {
  return g.op("Transpose", [g.op("Reshape", [x, g.ints([0, 0, heads, headDim])])], { perm: [0, 2, 1, 3] });
}

/**
 * Scaled dot-product attention, softmax(q·kᵀ/√d + bias)·v, over already projected q, k, v [B, L, dim],
 * written out as MatMul → Softmax → MatMul. It holds the full [B, heads, Lq, Lk] scores (1 GiB per
 * SD 1.5 self-attention at 512², batch 2), so the graphs use it only where the probabilities are read
 * (the UNet's attention maps); everywhere else `fusedAttention` computes the same thing.
 * The bias is the localized-attention hook (DESIGN §4 step 6): −10000 where a pixel may not see a token.
 */
export function attention(g: GraphBuilder, q: string, k: string, v: string, options: AttentionOptions): AttentionOutput {
  const { heads, dim } = options;
  const headDim = headDimOf(options);
  const qh = splitHeads(g, q, heads, headDim);
  const kt = g.op("Transpose", [g.op("Reshape", [k, g.ints([0, 0, heads, headDim])])], { perm: [0, 2, 3, 1] });
  const vh = splitHeads(g, v, heads, headDim);
  let scores = g.op("Mul", [g.op("MatMul", [qh, kt]), g.floats([1 / Math.sqrt(headDim)], [], "attn_scale")]);
  if (options.bias) scores = g.op("Add", [scores, options.bias]);
  const probs = g.op("Softmax", [scores], { axis: -1 });
  const merged = g.op("Transpose", [g.op("MatMul", [probs, vh])], { perm: [0, 2, 1, 3] });
  return { out: g.op("Reshape", [merged, g.ints([0, 0, dim])]), probs };
}

/** Input index of `attention_bias` in com.microsoft.MultiHeadAttention (ORT ≥ 1.17): query, key, value, bias, key_padding_mask, attention_bias. */
const MHA_ATTENTION_BIAS = 5;

/**
 * The same attention as one ONNX Runtime contrib node, `com.microsoft.MultiHeadAttention` (opset 1):
 * query [B, Lq, dim], key and value [B, Lk, dim], `num_heads`, the default scale 1/√d, and the bias
 * as its additive `attention_bias` [B or 1, heads or 1, Lq, Lk]. Without a bias the CPU provider runs
 * MLAS flash attention (tiles of the scores, never the whole [Lq, Lk] matrix); the GPU providers have
 * their own fused kernels. Returns [B, Lq, dim]; the probabilities are not available.
 */
export function fusedAttention(g: GraphBuilder, q: string, k: string, v: string, options: AttentionOptions): string {
  headDimOf(options);
  const inputs = [q, k, v];
  if (options.bias) {
    while (inputs.length < MHA_ATTENTION_BIAS) inputs.push(""); // no projection bias, no key padding mask
    inputs.push(options.bias);
  }
  return g.op("MultiHeadAttention", inputs, { num_heads: options.heads }, { domain: "com.microsoft" });
}
