import { float, type GraphBuilder } from "../builder.ts";

/**
 * torch.nn.GroupNorm on NCHW. ORT 1.30's CPU provider has no opset-17 GroupNormalization, so:
 * reshape to [B, G, -1], InstanceNormalization (per-group mean/variance), reshape back, then the
 * per-channel affine. The state-dict keeps weight/bias as [C]; the [C,1,1] reshape is constant-folded.
 */
export function groupNorm(g: GraphBuilder, x: string, prefix: string, channels: number, groups: number, eps = 1e-5): string {
  if (channels % groups !== 0) throw new Error(`${prefix}: ${channels} channels do not split into ${groups} groups`);
  const grouped = g.op("Reshape", [x, g.ints([0, groups, -1])]);
  const ones = g.floats(new Float32Array(groups).fill(1), [groups], "group_norm_ones");
  const zeros = g.floats(new Float32Array(groups), [groups], "group_norm_zeros");
  const normed = g.op("InstanceNormalization", [grouped, ones, zeros], { epsilon: float(eps) });
  const back = g.op("Reshape", [normed, g.op("Shape", [x])]);
  const perChannel = g.ints([channels, 1, 1]);
  const weight = g.op("Reshape", [g.weight(`${prefix}.weight`, [channels], "ones"), perChannel]);
  const bias = g.op("Reshape", [g.weight(`${prefix}.bias`, [channels], "zeros"), perChannel]);
  return g.op("Add", [g.op("Mul", [back, weight]), bias]);
}
