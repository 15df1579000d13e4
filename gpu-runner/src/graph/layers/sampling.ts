import type { GraphBuilder } from "../builder.ts";
import { conv2d } from "./conv2d.ts";

/** diffusers Downsample2D (use_conv): a 3×3 conv with stride 2, `<prefix>.conv`. */
export function downsample(g: GraphBuilder, x: string, prefix: string, channels: number): string {
  return conv2d(g, x, `${prefix}.conv`, channels, channels, { stride: 2 });
}

/** diffusers Upsample2D (use_conv): nearest ×2 (as torch's interpolate), then a 3×3 conv. */
export function upsample(g: GraphBuilder, x: string, prefix: string, channels: number): string {
  const up = g.op("Resize", [x, "", g.floats([1, 1, 2, 2], [4], "upsample_scales")], {
    mode: "nearest",
    coordinate_transformation_mode: "asymmetric",
    nearest_mode: "floor",
  });
  return conv2d(g, up, `${prefix}.conv`, channels, channels);
}
