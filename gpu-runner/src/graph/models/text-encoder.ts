import type { GraphBuilder } from "../builder.ts";
import type { ModelConfig } from "../configs/model-config.ts";
import { clipEncoder } from "../layers/clip-encoder-layer.ts";
import { layerNorm } from "../layers/layer-norm.ts";

/** Large negative instead of −inf: exp underflows to 0 and no NaN can come out of a masked row. */
const MASKED = -1e9;

/** [1, 1, L, L]: a token attends itself and earlier tokens only (CLIP's causal text mask). */
function causalMask(g: GraphBuilder, length: number): string {
  const mask = new Float32Array(length * length);
  for (let i = 0; i < length; i++) for (let j = i + 1; j < length; j++) mask[i * length + j] = MASKED;
  return g.floats(mask, [1, 1, length, length], "causal_mask");
}

/**
 * transformers CLIPTextModel: `input_ids int64[B,77]` → `last_hidden_state float[B,77,D]`.
 * Token + position embeddings, causal encoder, final layer norm.
 */
export function buildTextEncoder(g: GraphBuilder, config: ModelConfig, vocabSize: number): void {
  const { dim, maxLength } = config.text;
  if (dim !== config.hiddenSize) throw new Error(`text tower width ${dim} must equal hiddenSize ${config.hiddenSize}`);
  const ids = g.input("input_ids", "int64", ["B", maxLength]);
  const tokens = g.op("Gather", [g.weight("text_model.embeddings.token_embedding.weight", [vocabSize, dim], "normal"), ids], { axis: 0 });
  const positions = g.weight("text_model.embeddings.position_embedding.weight", [maxLength, dim], "normal");
  let h = g.op("Add", [tokens, positions]);
  h = clipEncoder(g, h, "text_model.encoder", { ...config.text, mask: causalMask(g, maxLength) });
  h = layerNorm(g, h, "text_model.final_layer_norm", dim);
  g.output(h, "last_hidden_state", "float32", ["B", maxLength, dim]);
}
