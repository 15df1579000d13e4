import type { GraphBuilder } from "../builder.ts";
import { gelu } from "./activations.ts";
import { attentionModule } from "./attention-module.ts";
import { conv2d } from "./conv2d.ts";
import { groupNorm } from "./group-norm.ts";
import { layerNorm } from "./layer-norm.ts";
import { linear } from "./linear.ts";
import { toImage, toSequence } from "./spatial.ts";

export interface TransformerOptions {
  channels: number;
  heads: number;
  /** Width of encoder_hidden_states (D). */
  contextDim: number;
  groups: number;
  /** Additive cross-attention bias at this resolution, [B, 1, H·W, 77]. */
  crossAttentionBias?: string;
  /** The cross-attention probabilities are read (attention maps): that attention stays explicit. @default false */
  crossProbs?: boolean;
  /** Fused MultiHeadAttention nodes for the attentions whose probabilities are not read. @default true */
  fusedAttention?: boolean;
}

export interface TransformerOutput {
  out: string;
  /** Cross-attention probabilities [B, heads, H·W, 77], only with `crossProbs`. */
  crossProbs?: string;
}

/** GEGLU feed-forward (`ff.net.0.proj` → hidden · gelu(gate) → `ff.net.2`), inner width 4·dim. */
function feedForward(g: GraphBuilder, x: string, prefix: string, dim: number): string {
  const inner = dim * 4;
  const [hidden, gate] = g.node("Split", [linear(g, x, `${prefix}.net.0.proj`, dim, inner * 2)], { axis: -1 }, 2);
  return linear(g, g.op("Mul", [hidden, gelu(g, gate)]), `${prefix}.net.2`, inner, dim);
}

/** diffusers BasicTransformerBlock: self-attn, cross-attn (with the localized bias), GEGLU, each pre-norm + residual. */
export function basicTransformerBlock(g: GraphBuilder, x: string, context: string, prefix: string, options: TransformerOptions): TransformerOutput {
  const { channels: dim, heads, fusedAttention: fused } = options;
  const self = attentionModule(g, `${prefix}.attn1`, layerNorm(g, x, `${prefix}.norm1`, dim), undefined, { heads, dim, qkvBias: false, fused });
  let h = g.op("Add", [self.out, x]);
  const cross = attentionModule(g, `${prefix}.attn2`, layerNorm(g, h, `${prefix}.norm2`, dim), context, {
    heads,
    dim,
    contextDim: options.contextDim,
    qkvBias: false,
    bias: options.crossAttentionBias,
    fused,
    withProbs: options.crossProbs,
  });
  h = g.op("Add", [cross.out, h]);
  h = g.op("Add", [feedForward(g, layerNorm(g, h, `${prefix}.norm3`, dim), `${prefix}.ff`, dim), h]);
  return { out: h, crossProbs: cross.probs };
}

/** diffusers Transformer2DModel (SD 1.5: conv proj_in/proj_out, one transformer block), + input residual. */
export function transformer2d(g: GraphBuilder, x: string, context: string, prefix: string, options: TransformerOptions): TransformerOutput {
  const c = options.channels;
  const normed = groupNorm(g, x, `${prefix}.norm`, c, options.groups, 1e-6);
  const seq = toSequence(g, conv2d(g, normed, `${prefix}.proj_in`, c, c, { kernel: 1 }));
  const block = basicTransformerBlock(g, seq, context, `${prefix}.transformer_blocks.0`, options);
  const out = conv2d(g, toImage(g, block.out, x), `${prefix}.proj_out`, c, c, { kernel: 1 });
  return { out: g.op("Add", [out, x]), crossProbs: block.crossProbs };
}
