import type { GraphBuilder } from "../builder.ts";
import { quickGelu } from "./activations.ts";
import { attentionModule } from "./attention-module.ts";
import { layerNorm } from "./layer-norm.ts";
import { linear } from "./linear.ts";

export interface ClipEncoderOptions {
  dim: number;
  heads: number;
  intermediate: number;
  layers: number;
  /** Additive mask on the self-attention scores (the text tower's causal mask): the fused node's attention bias. */
  mask?: string;
}

/** transformers CLIPEncoderLayer: pre-norm self-attention and a quick_gelu MLP, each with a residual. */
export function clipEncoderLayer(g: GraphBuilder, x: string, prefix: string, options: ClipEncoderOptions): string {
  const { dim, heads, intermediate } = options;
  const attn = attentionModule(g, `${prefix}.self_attn`, layerNorm(g, x, `${prefix}.layer_norm1`, dim), undefined, {
    heads,
    dim,
    names: "clip",
    qkvBias: true,
    bias: options.mask,
  });
  const h = g.op("Add", [x, attn.out]);
  const mlp = linear(g, quickGelu(g, linear(g, layerNorm(g, h, `${prefix}.layer_norm2`, dim), `${prefix}.mlp.fc1`, dim, intermediate)), `${prefix}.mlp.fc2`, intermediate, dim);
  return g.op("Add", [h, mlp]);
}

/** transformers CLIPEncoder: `<prefix>.layers.<i>`. */
export function clipEncoder(g: GraphBuilder, x: string, prefix: string, options: ClipEncoderOptions): string {
  let h = x;
  for (let i = 0; i < options.layers; i++) h = clipEncoderLayer(g, h, `${prefix}.layers.${i}`, options);
  return h;
}
