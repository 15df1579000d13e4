import type { GraphBuilder } from "../builder.ts";

/** [B, C, H, W] → [B, H·W, C]: image features as a token sequence. */
export function toSequence(g: GraphBuilder, x: string): string {
  return g.op("Transpose", [g.op("Reshape", [x, g.ints([0, 0, -1])])], { perm: [0, 2, 1] });
}

/** [B, H·W, C] → the shape of `like` ([B, C, H, W]). */
export function toImage(g: GraphBuilder, seq: string, like: string): string {
  return g.op("Reshape", [g.op("Transpose", [seq], { perm: [0, 2, 1] }), g.op("Shape", [like])]);
}
