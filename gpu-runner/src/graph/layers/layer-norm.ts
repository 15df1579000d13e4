import { float, type GraphBuilder } from "../builder.ts";

/** torch.nn.LayerNorm over the last axis: `<prefix>.weight`, `<prefix>.bias` of [dim]. */
export function layerNorm(g: GraphBuilder, x: string, prefix: string, dim: number, eps = 1e-5): string {
  const scale = g.weight(`${prefix}.weight`, [dim], "ones");
  const bias = g.weight(`${prefix}.bias`, [dim], "zeros");
  return g.op("LayerNormalization", [x, scale, bias], { axis: -1, epsilon: float(eps) });
}
