import type { GraphBuilder } from "../builder.ts";

/** x · sigmoid(x) (torch.nn.SiLU). */
export const silu = (g: GraphBuilder, x: string): string => g.op("Mul", [x, g.op("Sigmoid", [x])]);

/** Exact GELU, 0.5 · x · (1 + erf(x / √2)): opset 17 has no Gelu op; ORT fuses this pattern. */
export function gelu(g: GraphBuilder, x: string): string {
  const erf = g.op("Erf", [g.op("Div", [x, g.floats([Math.SQRT2], [], "sqrt2")])]);
  const onePlus = g.op("Add", [erf, g.floats([1], [], "one")]);
  return g.op("Mul", [g.op("Mul", [x, onePlus]), g.floats([0.5], [], "half")]);
}

/** CLIP's quick_gelu: x · sigmoid(1.702 · x). */
export function quickGelu(g: GraphBuilder, x: string): string {
  return g.op("Mul", [x, g.op("Sigmoid", [g.op("Mul", [x, g.floats([1.702], [], "quick_gelu_k")])])]);
}
