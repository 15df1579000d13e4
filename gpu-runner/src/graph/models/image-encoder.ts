import type { GraphBuilder } from "../builder.ts";
import type { ClipVisionConfig, ModelConfig } from "../configs/model-config.ts";
import { clipEncoder } from "../layers/clip-encoder-layer.ts";
import { conv2d } from "../layers/conv2d.ts";
import { layerNorm } from "../layers/layer-norm.ts";
import { linear } from "../layers/linear.ts";
import { toSequence } from "../layers/spatial.ts";

/** The class token [C] broadcast to [S, 1, C], S taken from `like` [S, N, C]. */
function classTokens(g: GraphBuilder, like: string, prefix: string, dim: number): string {
  const cls = g.op("Reshape", [g.weight(`${prefix}.embeddings.class_embedding`, [dim], "normal"), g.ints([1, 1, dim])]);
  const batch = g.op("Slice", [g.op("Shape", [like]), g.ints([0]), g.ints([1])]);
  return g.op("Expand", [cls, g.op("Concat", [batch, g.ints([1, dim])], { axis: 0 })]);
}

/**
 * transformers CLIPVisionTransformer under `prefix` (`vision_model` here; the safety checker's is
 * `vision_model.vision_model`): `pixels [S,3,size,size]` → the pooled output, post_layernorm(class token) [S, dim].
 */
export function clipVisionPooled(g: GraphBuilder, pixels: string, prefix: string, vision: ClipVisionConfig): string {
  const { dim, imageSize, patchSize } = vision;
  if (imageSize % patchSize !== 0) throw new Error(`image size ${imageSize} is not a multiple of patch size ${patchSize}`);
  const patches = (imageSize / patchSize) ** 2;
  const embedded = conv2d(g, pixels, `${prefix}.embeddings.patch_embedding`, 3, dim, { kernel: patchSize, stride: patchSize, padding: 0, bias: false });
  const seq = toSequence(g, embedded);
  const withClass = g.op("Concat", [classTokens(g, seq, prefix, dim), seq], { axis: 1 });
  let h = g.op("Add", [withClass, g.weight(`${prefix}.embeddings.position_embedding.weight`, [patches + 1, dim], "normal")]);
  h = layerNorm(g, h, `${prefix}.pre_layrnorm`, dim); // sic: the transformers name
  h = clipEncoder(g, h, `${prefix}.encoder`, vision);
  const pooled = g.op("Squeeze", [g.op("Slice", [h, g.ints([0]), g.ints([1]), g.ints([1])]), g.ints([1])]);
  return layerNorm(g, pooled, `${prefix}.post_layernorm`, dim);
}

/**
 * transformers CLIPVisionModelWithProjection (as FastComposer's image encoder uses it):
 * `pixel_values float[S,3,224,224]` → `image_embeds float[S,D]` = visual_projection(post_layernorm(class token)).
 */
export function buildImageEncoder(g: GraphBuilder, config: ModelConfig): void {
  const { dim, imageSize, projectionDim } = config.vision;
  if (projectionDim !== config.hiddenSize) throw new Error(`vision projection ${projectionDim} must equal hiddenSize ${config.hiddenSize}`);
  const pixels = g.input("pixel_values", "float32", ["S", 3, imageSize, imageSize]);
  const embeds = linear(g, clipVisionPooled(g, pixels, "vision_model", config.vision), "visual_projection", dim, projectionDim, { bias: false });
  g.output(embeds, "image_embeds", "float32", ["S", projectionDim]);
}
