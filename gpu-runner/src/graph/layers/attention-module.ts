import type { GraphBuilder } from "../builder.ts";
import { attention, type AttentionOutput } from "./attention.ts";
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
}

/** An attention module with its projections: self-attention when `context` is omitted. */
export function attentionModule(g: GraphBuilder, prefix: string, x: string, context: string | undefined, options: AttentionModuleOptions): AttentionOutput {
  const names = NAMES[options.names ?? "diffusers"];
  const { dim, heads } = options;
  const ctx = context ?? x;
  const ctxDim = context ? (options.contextDim ?? dim) : dim;
  const q = linear(g, x, `${prefix}.${names.q}`, dim, dim, { bias: options.qkvBias });
  const k = linear(g, ctx, `${prefix}.${names.k}`, ctxDim, dim, { bias: options.qkvBias });
  const v = linear(g, ctx, `${prefix}.${names.v}`, ctxDim, dim, { bias: options.qkvBias });
  const { out, probs } = attention(g, q, k, v, { heads, dim, bias: options.bias });
  return { out: linear(g, out, `${prefix}.${names.out}`, dim, dim), probs };
}
