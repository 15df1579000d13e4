import type { GraphBuilder } from "../builder.ts";

export interface BiasPyramid {
  /** The bias at `level` downsamplings as [B, 1, h·w, L], ready to add to every head's scores. */
  at(level: number): string;
  /** The bias at `level` in its spatial form [B, L, h/2^level, w/2^level]. */
  pooled(level: number): string;
}

/**
 * The localized-attention bias at each UNet resolution (DESIGN §4 step 6). Max-pooling with kernel
 * and stride 2, repeated: a coarse pixel may attend a token if any fine pixel it covers may
 * (max of 0 and −10000 is 0). Each level is built once and shared by all its attention layers.
 */
export function createBiasPyramid(g: GraphBuilder, bias: string): BiasPyramid {
  const spatial: string[] = [bias];
  const flat = new Map<number, string>();
  const pooled = (level: number): string => {
    while (spatial.length <= level) spatial.push(g.op("MaxPool", [spatial[spatial.length - 1]], { kernel_shape: [2, 2], strides: [2, 2] }));
    return spatial[level];
  };
  return {
    pooled,
    at(level) {
      let value = flat.get(level);
      if (!value) {
        const seq = g.op("Transpose", [g.op("Reshape", [pooled(level), g.ints([0, 0, -1])])], { perm: [0, 2, 1] });
        value = g.op("Unsqueeze", [seq, g.ints([1])]);
        flat.set(level, value);
      }
      return value;
    },
  };
}
