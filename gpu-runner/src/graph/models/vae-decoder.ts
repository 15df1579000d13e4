import type { GraphBuilder } from "../builder.ts";
import type { ModelConfig } from "../configs/model-config.ts";
import { silu } from "../layers/activations.ts";
import { attentionModule } from "../layers/attention-module.ts";
import { conv2d } from "../layers/conv2d.ts";
import { groupNorm } from "../layers/group-norm.ts";
import { resnetBlock } from "../layers/resnet-block.ts";
import { upsample } from "../layers/sampling.ts";
import { toImage, toSequence } from "../layers/spatial.ts";

const EPS = 1e-6;

/**
 * The VAE mid block's single-head spatial self-attention (diffusers Attention with group_norm), + residual.
 * Fused: explicit scores would be [B, 1, hw, hw], 4 GiB per image at 1024² (a 128² latent).
 */
function vaeAttention(g: GraphBuilder, x: string, prefix: string, channels: number, groups: number): string {
  const seq = toSequence(g, groupNorm(g, x, `${prefix}.group_norm`, channels, groups, EPS));
  const { out } = attentionModule(g, prefix, seq, undefined, { heads: 1, dim: channels, qkvBias: true });
  return g.op("Add", [toImage(g, out, x), x]);
}

/**
 * diffusers AutoencoderKL.decode without the scaling: `latent float[B,4,h,w]` → `image float[B,3,8h,8w]`,
 * nominally in [−1, 1]. The caller has already divided the latent by `config.vae.scalingFactor`.
 */
export function buildVaeDecoder(g: GraphBuilder, config: ModelConfig): void {
  const { latentChannels, blockOutChannels, layersPerBlock, normGroups: groups } = config.vae;
  const resnet = (x: string, prefix: string, inC: number, outC: number) => resnetBlock(g, x, prefix, { inChannels: inC, outChannels: outC, groups, eps: EPS });
  const latent = g.input("latent", "float32", ["B", latentChannels, "h", "w"]);
  const reversed = [...blockOutChannels].reverse();
  const top = reversed[0];

  let h = conv2d(g, latent, "post_quant_conv", latentChannels, latentChannels, { kernel: 1 });
  h = conv2d(g, h, "decoder.conv_in", latentChannels, top);
  h = resnet(h, "decoder.mid_block.resnets.0", top, top);
  h = vaeAttention(g, h, "decoder.mid_block.attentions.0", top, groups);
  h = resnet(h, "decoder.mid_block.resnets.1", top, top);

  let outC = top;
  reversed.forEach((channels, i) => {
    const inC = outC;
    outC = channels;
    for (let j = 0; j <= layersPerBlock; j++) h = resnet(h, `decoder.up_blocks.${i}.resnets.${j}`, j === 0 ? inC : outC, outC);
    if (i < reversed.length - 1) h = upsample(g, h, `decoder.up_blocks.${i}.upsamplers.0`, outC);
  });

  h = silu(g, groupNorm(g, h, "decoder.conv_norm_out", outC, groups, EPS));
  h = conv2d(g, h, "decoder.conv_out", outC, 3);
  const scale = 2 ** (blockOutChannels.length - 1);
  g.output(h, "image", "float32", ["B", 3, `${scale}*h`, `${scale}*w`]);
}
