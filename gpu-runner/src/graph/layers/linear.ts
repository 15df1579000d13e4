import type { GraphBuilder } from "../builder.ts";

export interface LinearOptions {
  /** @default true */
  bias?: boolean;
}

/**
 * torch.nn.Linear over the last axis. The weight keeps PyTorch's [out, in] layout under
 * `<prefix>.weight`, so real weights map by name; the Transpose is constant-folded by ORT.
 */
export function linear(g: GraphBuilder, x: string, prefix: string, inFeatures: number, outFeatures: number, options: LinearOptions = {}): string {
  const w = g.weight(`${prefix}.weight`, [outFeatures, inFeatures], "normal", inFeatures);
  const y = g.op("MatMul", [x, g.op("Transpose", [w], { perm: [1, 0] })]);
  if (options.bias === false) return y;
  return g.op("Add", [y, g.weight(`${prefix}.bias`, [outFeatures], "zeros")]);
}
