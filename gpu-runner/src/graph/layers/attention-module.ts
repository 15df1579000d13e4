import type { GraphBuilder } from "../builder.ts";
import { attention, fusedAttention } from "./attention.ts";
import { linear } from "./linear.ts";

/** State-dict names of the four projections: diffusers' Attention or transformers' CLIPAttention. */
const NAMES = {
  diffusers: { q: "to_q", k: "to_k", v: "to_v", out: "to_out.0" },
  clip: { q: "q_proj", k: "k_proj", v: "v_proj", out: "out_proj" },
} as const;

export interface AttentionModuleOptions {
  heads: number;
  dim: number;
  /** Width of the context (encoder_hidden_states) for cross-attention. @default dim */
  contextDim?: number;
  /** @default "diffusers" */
  names?: keyof typeof NAMES;
  /** Bias on the q/k/v projections (CLIP and the VAE: yes; UNet transformer blocks: no). */
  qkvBias: boolean;
  /** Additive score bias (mask), see `attention`. */
  bias?: string;
  /**
   * One com.microsoft.MultiHeadAttention node (`fusedAttention`) instead of the explicit
   * MatMul → Softmax → MatMul. Ignored (explicit) when `withProbs` asks for the probabilities. @default true
   */
  fused?: boolean;
  /** Also return the softmax probabilities [B, heads, Lq, Lk]: the explicit form. @default false */
  withProbs?: boolean;
}

export interface AttentionModuleOutput {
  /** [B, Lq, dim], after the output projection. */
  out: string;
  /** Only with `withProbs`. */
  probs?: string;
}

/** An attention module with its projections: self-attention when `context` is omitted. */
export function attentionModule(g: GraphBuilder, prefix: string, x: string, context: string | undefined, options: AttentionModuleOptions): AttentionModuleOutput {
  const names = NAMES[options.names ?? "diffusers"];
  const { dim, heads, bias } = options;
  const ctx = context ?? x;
  const ctxDim = context ? (options.contextDim ?? dim) : dim;
  const q = linear(g, x, `${prefix}.${names.q}`, dim, dim, { bias: options.qkvBias });
  const k = linear(g, ctx, `${prefix}.${names.k}`, ctxDim, dim, { bias: options.qkvBias });
  const v = linear(g, ctx, `${prefix}.${names.v}`, ctxDim, dim, { bias: options.qkvBias });
  if (options.withProbs || options.fused === false) {
    const { out, probs } = attention(g, q, k, v, { heads, dim, bias });
    return { out: linear(g, out, `${prefix}.${names.out}`, dim, dim), probs: options.withProbs ? probs : undefined };
  }
  return { out: linear(g, fusedAttention(g, q, k, v, { heads, dim, bias }), `${prefix}.${names.out}`, dim, dim) };
}
