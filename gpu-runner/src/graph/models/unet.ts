import type { GraphBuilder } from "../builder.ts";
import type { ModelConfig } from "../configs/model-config.ts";
import { silu } from "../layers/activations.ts";
import { conv2d } from "../layers/conv2d.ts";
import { groupNorm } from "../layers/group-norm.ts";
import { resnetBlock } from "../layers/resnet-block.ts";
import { downsample, upsample } from "../layers/sampling.ts";
import { timestepEmbedding } from "../layers/timestep-embedding.ts";
import { transformer2d } from "../layers/transformer-block.ts";
import { createBiasPyramid } from "./unet-bias.ts";

/** attention_probs are averaged over the cross-attentions at h/4 (2 downsamplings), down and up. */
export const PROBS_LEVEL = 2;

export interface UNetOptions {
  /**
   * Without it the graph has no `cross_attention_bias` input: the plain SD UNet, kept to show that a
   * zero bias changes nothing. @default true
   */
  localizedAttention?: boolean;
  /**
   * Self- and cross-attention as com.microsoft.MultiHeadAttention nodes (the box bias as their additive
   * attention bias), except the cross-attentions whose probabilities make `attention_probs`, which stay
   * MatMul → Softmax → MatMul. False writes every attention out explicitly (the graph before fusion,
   * kept for the bench and the equality test). @default true
   */
  fusedAttention?: boolean;
}

/**
 * diffusers UNet2DConditionModel as SD 1.5 configures it, with the localized-attention bias:
 * `sample [B,4,h,w]`, `timestep [B]`, `encoder_hidden_states [B,77,D]`, `cross_attention_bias [B,77,h,w]`
 * → `noise_pred [B,4,h,w]`, `attention_probs [B,77,h/4,w/4]`.
 */
export function buildUNet(g: GraphBuilder, config: ModelConfig, options: UNetOptions = {}): void {
  const { blockOutChannels: ch, downBlockTypes, layersPerBlock, heads, normGroups: groups, inChannels, outChannels } = config.unet;
  const L = config.text.maxLength;
  const D = config.hiddenSize;
  const sample = g.input("sample", "float32", ["B", inChannels, "h", "w"]);
  const timestep = g.input("timestep", "float32", ["B"]);
  const context = g.input("encoder_hidden_states", "float32", ["B", L, D]);
  const localized = options.localizedAttention ?? true;
  const biasInput = localized ? g.input("cross_attention_bias", "float32", ["B", L, "h", "w"]) : undefined;
  const biases = biasInput ? createBiasPyramid(g, biasInput) : undefined;
  const probsAtLevel: string[] = [];
  let probsMapShape: string | undefined; // [B, L, h/4, w/4], from a feature map at that level

  // 1. time
  const tembChannels = ch[0] * 4;
  const temb = { value: timestepEmbedding(g, timestep, ch[0], tembChannels), channels: tembChannels };
  const resnet = (x: string, prefix: string, inC: number, outC: number) => resnetBlock(g, x, prefix, { inChannels: inC, outChannels: outC, groups, temb });
  // the mid block's attention is not part of attention_probs ("down and up"), even where it sits at h/4
  const crossAttention = (x: string, prefix: string, channels: number, level: number, recorded = true) => {
    const read = recorded && level === PROBS_LEVEL;
    const t = transformer2d(g, x, context, prefix, {
      channels,
      heads,
      contextDim: D,
      groups,
      crossAttentionBias: biases?.at(level),
      crossProbs: read,
      fusedAttention: options.fusedAttention,
    });
    if (read) {
      probsAtLevel.push(t.crossProbs!);
      probsMapShape ??= mapShape(g, x, L);
    }
    return t.out;
  };

  // 2. pre-process
  let h = conv2d(g, sample, "conv_in", inChannels, ch[0]);
  const skips = [h];

  // 3. down
  downBlockTypes.forEach((type, i) => {
    let inC = i === 0 ? ch[0] : ch[i - 1];
    for (let j = 0; j < layersPerBlock; j++) {
      h = resnet(h, `down_blocks.${i}.resnets.${j}`, inC, ch[i]);
      if (type === "CrossAttnDownBlock2D") h = crossAttention(h, `down_blocks.${i}.attentions.${j}`, ch[i], i);
      skips.push(h);
      inC = ch[i];
    }
    if (i < ch.length - 1) {
      h = downsample(g, h, `down_blocks.${i}.downsamplers.0`, ch[i]);
      skips.push(h);
    }
  });

  // 4. mid
  const top = ch.length - 1;
  h = resnet(h, "mid_block.resnets.0", ch[top], ch[top]);
  h = crossAttention(h, "mid_block.attentions.0", ch[top], top, false);
  h = resnet(h, "mid_block.resnets.1", ch[top], ch[top]);

  // 5. up: the mirror of down, each resnet fed the matching skip (diffusers' channel bookkeeping)
  const reversed = [...ch].reverse();
  let outC = reversed[0];
  reversed.forEach((_, i) => {
    const prevOutC = outC;
    outC = reversed[i];
    const skipInC = reversed[Math.min(i + 1, reversed.length - 1)];
    const level = top - i;
    const withAttention = downBlockTypes[level] === "CrossAttnDownBlock2D";
    for (let j = 0; j <= layersPerBlock; j++) {
      const skipC = j === layersPerBlock ? skipInC : outC;
      const resC = j === 0 ? prevOutC : outC;
      h = g.op("Concat", [h, skips.pop()!], { axis: 1 });
      h = resnet(h, `up_blocks.${i}.resnets.${j}`, resC + skipC, outC);
      if (withAttention) h = crossAttention(h, `up_blocks.${i}.attentions.${j}`, outC, level);
    }
    if (i < reversed.length - 1) h = upsample(g, h, `up_blocks.${i}.upsamplers.0`, outC);
  });

  // 6. post-process
  h = conv2d(g, silu(g, groupNorm(g, h, "conv_norm_out", ch[0], groups)), "conv_out", ch[0], outChannels);
  g.output(h, "noise_pred", "float32", ["B", outChannels, "h", "w"]);
  g.output(averageProbs(g, probsAtLevel, probsMapShape), "attention_probs", "float32", ["B", L, "h/4", "w/4"]);
}

/** [B, tokens, H, W] for a feature map [B, C, H, W]. */
function mapShape(g: GraphBuilder, feature: string, tokens: number): string {
  const shape = g.op("Shape", [feature]);
  const batch = g.op("Slice", [shape, g.ints([0]), g.ints([1])]);
  const spatial = g.op("Slice", [shape, g.ints([2]), g.ints([4])]);
  return g.op("Concat", [batch, g.ints([tokens]), spatial], { axis: 0 });
}

/** Mean over heads and layers of [B, heads, hw, L] probabilities → [B, L, h/4, w/4]. */
function averageProbs(g: GraphBuilder, probs: string[], shape: string | undefined): string {
  if (probs.length === 0 || !shape) throw new Error(`the UNet config has no cross-attention at level ${PROBS_LEVEL} (h/4)`);
  const perLayer = probs.map((p) => g.op("ReduceMean", [p], { axes: [1], keepdims: 0 }));
  const sum = perLayer.length === 1 ? perLayer[0] : g.op("Sum", perLayer);
  const mean = g.op("Div", [sum, g.floats([perLayer.length], [], "layer_count")]);
  return g.op("Reshape", [g.op("Transpose", [mean], { perm: [0, 2, 1] }), shape]);
}
