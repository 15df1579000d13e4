import type { GraphBuilder } from "../builder.ts";
import { silu } from "./activations.ts";
import { linear } from "./linear.ts";

/**
 * diffusers Timesteps(channels, flip_sin_to_cos=True, downscale_freq_shift=0) as SD 1.5 uses it:
 * [B] → [B, channels] = [cos(t·f), sin(t·f)], f_i = exp(−ln(10000)·i/half).
 */
export function timestepProjection(g: GraphBuilder, timestep: string, channels: number): string {
  const half = channels / 2;
  const freqs = Float32Array.from({ length: half }, (_, i) => Math.exp((-Math.log(10000) * i) / half));
  const args = g.op("Mul", [g.op("Unsqueeze", [timestep, g.ints([1])]), g.floats(freqs, [1, half], "timestep_freqs")]);
  return g.op("Concat", [g.op("Cos", [args]), g.op("Sin", [args])], { axis: 1 });
}

/** time_proj then diffusers TimestepEmbedding (`time_embedding.linear_1` → SiLU → `linear_2`). */
export function timestepEmbedding(g: GraphBuilder, timestep: string, channels: number, embedChannels: number): string {
  const proj = timestepProjection(g, timestep, channels);
  const h = silu(g, linear(g, proj, "time_embedding.linear_1", channels, embedChannels));
  return linear(g, h, "time_embedding.linear_2", embedChannels, embedChannels);
}
