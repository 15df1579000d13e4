import type { GraphBuilder } from "../builder.ts";
import type { ModelConfig } from "../configs/model-config.ts";
import { gelu } from "../layers/activations.ts";
import { layerNorm } from "../layers/layer-norm.ts";
import { linear } from "../layers/linear.ts";

/** FastComposer's MLP: layernorm → fc1 → GELU → fc2 (+ input when `residual`). */
function mlp(g: GraphBuilder, x: string, prefix: string, inDim: number, hidden: number, outDim: number, residual: boolean): string {
  const h = linear(g, gelu(g, linear(g, layerNorm(g, x, `${prefix}.layernorm`, inDim), `${prefix}.fc1`, inDim, hidden)), `${prefix}.fc2`, hidden, outDim);
  return residual ? g.op("Add", [h, x]) : h;
}

/**
 * FastComposer's FuseModule.fuse_fn at the subject positions (DESIGN §4 step 4):
 * mlp1(concat(text, image)) + text → mlp2 (residual) → layer_norm.
 * `text_embeds float[S,D]`, `image_embeds float[S,D]` → `fused float[S,D]`.
 */
export function buildFuse(g: GraphBuilder, config: ModelConfig): void {
  const D = config.hiddenSize;
  const text = g.input("text_embeds", "float32", ["S", D]);
  const image = g.input("image_embeds", "float32", ["S", D]);
  const stacked = g.op("Concat", [text, image], { axis: -1 });
  let h = g.op("Add", [mlp(g, stacked, "mlp1", 2 * D, D, D, false), text]);
  h = mlp(g, h, "mlp2", D, D, D, true);
  g.output(layerNorm(g, h, "layer_norm", D), "fused", "float32", ["S", D]);
}
