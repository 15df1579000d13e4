import type { GraphBuilder } from "../builder.ts";
import type { SafetyCheckerConfig } from "../configs/model-config.ts";
import { linear } from "../layers/linear.ts";
import { clipVisionPooled } from "./image-encoder.ts";

/** diffusers' StableDiffusionSafetyChecker holds 17 concept and 3 special-care embeddings (fixed in its __init__). */
export const CONCEPTS = 17;
export const SPECIAL_CARE = 3;
/** Added to every concept score of an image with any special-care score above its threshold. */
const SPECIAL_CARE_ADJUSTMENT = 0.01;
/** torch.nn.functional.normalize's default eps. */
const NORMALIZE_EPS = 1e-12;

/** F.normalize(x, dim=-1): each row divided by max(‖row‖₂, eps). */
function normalizeRows(g: GraphBuilder, x: string): string {
  const norm = g.op("ReduceL2", [x], { axes: [-1], keepdims: 1 });
  return g.op("Div", [x, g.op("Max", [norm, g.floats([NORMALIZE_EPS], [], "normalize_eps")])]);
}

/** cosine_distance(a, b): normalize(a) · normalize(b)ᵀ, [N, P] × [K, P] → [N, K]. */
const cosine = (g: GraphBuilder, a: string, b: string): string => g.op("MatMul", [a, g.op("Transpose", [normalizeRows(g, b)], { perm: [1, 0] })]);

/** 1 where any entry of a row is above 0, else 0: [N, K] → float [N]. */
const anyAboveZero = (g: GraphBuilder, scores: string): string =>
  g.op("Cast", [g.op("Greater", [g.op("ReduceMax", [scores], { axes: [1], keepdims: 0 }), g.floats([0], [], "zero")])], { to: 1 /* FLOAT */ });

/**
 * diffusers StableDiffusionSafetyChecker.forward_onnx (the graph form of its check), weights under the
 * published checkpoint's names (`vision_model.vision_model.*`, `visual_projection.weight`, `concept_embeds`,
 * `special_care_embeds`, `*_weights`). `pixel_values float[N,3,size,size]` (CLIP preprocessing) →
 *   image_embeds [N,P]  = visual_projection(pooled), no bias
 *   special_cos_dist [N,3], cos_dist [N,17]  cosine similarities to the embeddings
 *   special_scores = special_cos_dist − special_care_embeds_weights; special_care [N] = any(special_scores > 0)
 *   concept_scores = cos_dist − concept_embeds_weights + 0.01 · special_care (that image's every concept)
 *   has_nsfw [N] = any(concept_scores > 0), float 0 / 1.
 * Scores are not rounded (forward_onnx; the numpy `forward` rounds to 3 decimals, which changes no flag of the
 * reference fixture). Random weights give thresholds of 1 ("ones"): a cosine cannot exceed 1, so a random
 * checker never flags.
 */
export function buildSafetyChecker(g: GraphBuilder, config: SafetyCheckerConfig): void {
  const { dim, imageSize, projectionDim: P } = config.vision;
  const pixels = g.input("pixel_values", "float32", ["N", 3, imageSize, imageSize]);
  const pooled = clipVisionPooled(g, pixels, "vision_model.vision_model", config.vision);
  const imageEmbeds = linear(g, pooled, "visual_projection", dim, P, { bias: false });
  const unit = normalizeRows(g, imageEmbeds);

  const specialCos = cosine(g, unit, g.weight("special_care_embeds", [SPECIAL_CARE, P], "normal", 1));
  const cos = cosine(g, unit, g.weight("concept_embeds", [CONCEPTS, P], "normal", 1));
  const specialScores = g.op("Sub", [specialCos, g.weight("special_care_embeds_weights", [SPECIAL_CARE], "ones")]);
  const specialCare = anyAboveZero(g, specialScores);
  const adjustment = g.op("Unsqueeze", [g.op("Mul", [specialCare, g.floats([SPECIAL_CARE_ADJUSTMENT], [], "special_care_adjustment")]), g.ints([1])]);
  const conceptScores = g.op("Add", [g.op("Sub", [cos, g.weight("concept_embeds_weights", [CONCEPTS], "ones")]), adjustment]);

  g.output(imageEmbeds, "image_embeds", "float32", ["N", P]);
  g.output(specialCos, "special_cos_dist", "float32", ["N", SPECIAL_CARE]);
  g.output(cos, "cos_dist", "float32", ["N", CONCEPTS]);
  g.output(specialScores, "special_scores", "float32", ["N", SPECIAL_CARE]);
  g.output(conceptScores, "concept_scores", "float32", ["N", CONCEPTS]);
  g.output(specialCare, "special_care", "float32", ["N"]);
  g.output(anyAboveZero(g, conceptScores), "has_nsfw", "float32", ["N"]);
}
