import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import { relativeError } from "../graph/test-support.ts";
import { readFixture, SAFETY_FIXTURE } from "../pipeline/safety-test-support.ts";
import { buildModel } from "./build-model.ts";
import { PARITY, writeClipTokenizer } from "./test-support.ts";

/**
 * `model:build` takes the safety checker from an SD 1.5 diffusers folder's `safety_checker/` (config.json →
 * sizes, weights under the published names, `position_ids` ignored as a buffer) and the bundle's
 * safety_checker.onnx reproduces diffusers' outputs on the fixture (rel ≤ 1e-4, flags exact).
 */
const FC = join(PARITY, "fastcomposer-checkpoint");
const SD15 = join(FC, "stable-diffusion-v1-5");
const work = mkdtempSync(join(tmpdir(), "safety-build-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The fixture SD 1.5 folder (linked, not copied) plus a safety_checker/ holding the safety fixture's weights. */
function sd15WithSafetyChecker(): string {
  const dir = join(work, "sd15");
  mkdirSync(join(dir, "safety_checker"), { recursive: true });
  for (const sub of ["unet", "vae", "text_encoder", "scheduler"]) symlinkSync(join(SD15, sub), join(dir, sub));
  const index = JSON.parse(readFileSync(join(SD15, "model_index.json"), "utf8"));
  writeFileSync(join(dir, "model_index.json"), JSON.stringify({ ...index, safety_checker: ["stable_diffusion", "StableDiffusionSafetyChecker"] }));
  symlinkSync(join(SAFETY_FIXTURE, "config.json"), join(dir, "safety_checker", "config.json"));
  symlinkSync(join(SAFETY_FIXTURE, "weights.safetensors"), join(dir, "safety_checker", "model.safetensors"));
  return dir;
}

describe("model:build with SD 1.5's safety_checker/", () => {
  it("builds safety_checker.onnx from it, matching diffusers' outputs", async () => {
    const clip = writeClipTokenizer(join(work, "clip"), 1000);
    copyFileSync(join(FC, "clip-vit-large-patch14", "config.json"), join(clip, "config.json"));
    const report = await buildModel({ fastcomposer: join(FC, "fastcomposer", "pytorch_model.bin"), sd15: sd15WithSafetyChecker(), clip, out: join(work, "bundle") });

    expect(report.manifest.graphs.safetyChecker).toBe("safety_checker.onnx");
    expect(report.manifest.files.map((f) => f.path)).toContain("safety_checker.onnx");
    expect(report.config.safetyChecker?.vision).toMatchObject({ dim: 64, imageSize: 96, patchSize: 16, projectionDim: 32 });
    const component = report.components.find((c) => c.component === "safetyChecker")!;
    expect(component).toMatchObject({ source: "SD 1.5 folder", tensors: 2 * 16 + 13 - 1 });
    expect(component.ignored).toEqual([expect.objectContaining({ count: 1, reason: expect.stringMatching(/^position_ids: a buffer/) })]);

    const session = await ort.InferenceSession.create(join(work, "bundle", "safety_checker.onnx"), { intraOpNumThreads: 1 });
    const input = readFixture("inputs.safetensors").clip_input;
    const out = await session.run({ pixel_values: new ort.Tensor("float32", input.data as Float32Array, input.shape) });
    await session.release();
    const ref = readFixture("outputs.safetensors");
    for (const name of ["image_embeds", "concept_scores", "special_scores"]) expect(relativeError(out[name].data as Float32Array, ref[name].data), name).toBeLessThanOrEqual(1e-4);
    expect(Array.from(out.has_nsfw.data as Float32Array)).toEqual(Array.from(ref.has_nsfw_concepts.data));
  });

  it("says so when the folder has none: no graph, no manifest entry", async () => {
    const clip = writeClipTokenizer(join(work, "clip2"), 1000);
    copyFileSync(join(FC, "clip-vit-large-patch14", "config.json"), join(clip, "config.json"));
    const report = await buildModel({ fastcomposer: join(FC, "fastcomposer", "pytorch_model.bin"), sd15: SD15, clip, out: join(work, "bundle-none"), verifySessions: false });
    expect(report.manifest.graphs.safetyChecker).toBeUndefined();
    expect(report.config.safetyChecker).toBeUndefined();
    expect(report.origins.safetyChecker).toBe("none in the inputs");
  });
});
