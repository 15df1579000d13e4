import type { GraphBuilder } from "../builder.ts";
import { silu } from "./activations.ts";
import { conv2d } from "./conv2d.ts";
import { groupNorm } from "./group-norm.ts";
import { linear } from "./linear.ts";

export interface ResnetBlockOptions {
  inChannels: number;
  outChannels: number;
  groups: number;
  /** @default 1e-5 (UNet); the VAE uses 1e-6 */
  eps?: number;
  /** The time embedding [B, tembChannels]; the VAE decoder's blocks have none. */
  temb?: { value: string; channels: number };
}

/** diffusers ResnetBlock2D: norm1 → SiLU → conv1 (+ time_emb_proj) → norm2 → SiLU → conv2, + shortcut. */
export function resnetBlock(g: GraphBuilder, x: string, prefix: string, options: ResnetBlockOptions): string {
  const { inChannels, outChannels, groups, eps = 1e-5 } = options;
  let h = silu(g, groupNorm(g, x, `${prefix}.norm1`, inChannels, groups, eps));
  h = conv2d(g, h, `${prefix}.conv1`, inChannels, outChannels);
  if (options.temb) {
    const t = linear(g, silu(g, options.temb.value), `${prefix}.time_emb_proj`, options.temb.channels, outChannels);
    h = g.op("Add", [h, g.op("Unsqueeze", [t, g.ints([2, 3])])]);
  }
  h = silu(g, groupNorm(g, h, `${prefix}.norm2`, outChannels, groups, eps));
  h = conv2d(g, h, `${prefix}.conv2`, outChannels, outChannels);
  const shortcut = inChannels === outChannels ? x : conv2d(g, x, `${prefix}.conv_shortcut`, inChannels, outChannels, { kernel: 1 });
  return g.op("Add", [shortcut, h]);
}
