import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { safetyCheckerFromConfig } from "../../model-build/derive-config.ts";
import { readFixture, SAFETY_FIXTURE } from "../../pipeline/safety-test-support.ts";
import { GraphBuilder } from "../builder.ts";
import { TINY_CONFIG } from "../configs/tiny.ts";
import { relativeError, sessionOf } from "../test-support.ts";
import { safetensorsSource, seededRandom } from "../weights.ts";
import { buildSafetyChecker, CONCEPTS } from "./safety-checker.ts";

/** The fixture README's bound for the float32 outputs; flags must match exactly. */
const TOLERANCE = 1e-4;

describe("the safety checker graph against diffusers' forward_onnx", () => {
  const ref = readFixture("outputs.safetensors");
  let session: ort.InferenceSession;
  let out: ort.InferenceSession.OnnxValueMapType;
  beforeAll(async () => {
    const config = safetyCheckerFromConfig(JSON.parse(readFileSync(join(SAFETY_FIXTURE, "config.json"), "utf8")), "config.json");
    expect(config.vision).toEqual({ dim: 64, layers: 2, heads: 4, intermediate: 256, imageSize: 96, patchSize: 16, projectionDim: 32 });
    const weights = safetensorsSource([join(SAFETY_FIXTURE, "weights.safetensors")]);
    try {
      const g = new GraphBuilder("safety_checker", { weights });
      buildSafetyChecker(g, config);
      session = await sessionOf(g);
    } finally {
      weights.close();
    }
    const input = readFixture("inputs.safetensors").clip_input;
    out = await session.run({ pixel_values: new ort.Tensor("float32", input.data as Float32Array, input.shape) });
  });
  afterAll(async () => session?.release());

  it.each(["image_embeds", "special_cos_dist", "cos_dist", "special_scores", "concept_scores"])("%s within rel 1e-4", (name) => {
    expect(out[name].dims).toEqual(ref[name].shape);
    expect(relativeError(out[name].data as Float32Array, ref[name].data)).toBeLessThanOrEqual(TOLERANCE);
  });

  it("flags exactly the reference's images, special care and its +0.01 adjustment included", () => {
    const flags = (name: string) => Array.from(out[name].data as Float32Array);
    expect(flags("special_care")).toEqual(Array.from(ref.special_care.data));
    expect(flags("has_nsfw")).toEqual(Array.from(ref.has_nsfw_concepts.data));
    // the designed pattern: image 2 only through the adjustment; image 5 has the same score without special care
    expect(flags("has_nsfw")).toEqual([0, 1, 1, 0, 1, 0]);
  });
});

describe("a random (tiny) safety checker", () => {
  it("never flags: its thresholds are 1, above any cosine similarity", async () => {
    const g = new GraphBuilder("safety_checker", { weights: seededRandom(7) });
    buildSafetyChecker(g, TINY_CONFIG.safetyChecker!);
    const session = await sessionOf(g);
    const size = TINY_CONFIG.safetyChecker!.vision.imageSize;
    const pixels = Float32Array.from({ length: 4 * 3 * size * size }, (_, i) => Math.sin(i * 0.37) * 2);
    const out = await session.run({ pixel_values: new ort.Tensor("float32", pixels, [4, 3, size, size]) });
    expect(Array.from(out.has_nsfw.data as Float32Array)).toEqual([0, 0, 0, 0]);
    expect(out.concept_scores.dims).toEqual([4, CONCEPTS]);
    await session.release();
  });
});
