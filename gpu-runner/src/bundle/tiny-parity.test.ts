import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_CONFIG } from "../graph/configs/tiny.ts";
import { emulateFloat16Storage } from "../graph/fp16-compute.ts";
import { safetensorsSource } from "../graph/weights.ts";
import { goldenErrors, PARITY } from "../model-build/test-support.ts";
import { loadBundle, releaseBundle } from "./load-bundle.ts";
import { writeBundle } from "./write-bundle.ts";

/**
 * The tiny config built from the reference's own float32 weights (`make-bundle --config tiny --weights …
 * --weight-prefixes postfuse_module.`) against diffusers / transformers / FastComposer goldens.
 */
const TINY = join(PARITY, "tiny");
const WEIGHTS = ["unet", "vae", "text_encoder", "image_encoder", "fuse"].map((c) => join(TINY, "weights", `${c}.safetensors`));
const CASES: [string, string][] = [
  ["text_encoder.onnx", "text_encoder"],
  ["image_encoder.onnx", "image_encoder"],
  ["fuse.onnx", "fuse"],
  ["unet.onnx", "unet_zero_bias"],
  ["unet.onnx", "unet_box_bias"],
  ["unet.onnx", "unet_nonsquare_box_bias"],
  ["vae_decoder.onnx", "vae_square"],
  ["vae_decoder.onnx", "vae_nonsquare"],
];
/**
 * fp16 storage of float32 weights rounds each to 11 significant bits (relative 2^-11 ≈ 4.9e-4); through
 * these random networks the outputs moved by at most 1.7e-3 (the UNet's noise_pred); 1e-2 is the documented bound.
 */
const FP16_TOLERANCE = 1e-2;

const work = mkdtempSync(join(tmpdir(), "tiny-parity-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function bundle(precision: "fp32" | "fp16"): Promise<string> {
  const dir = join(work, precision);
  const source = safetensorsSource(WEIGHTS, { prefixes: ["postfuse_module."] });
  try {
    // these reference weights hold no safety checker (its parity: graph/models/safety-checker.test.ts)
    await writeBundle({ ...TINY_CONFIG, safetyChecker: undefined }, dir, source, { precision, version: "parity" });
  } finally {
    source.close();
  }
  return dir;
}

describe("tiny bundle from the reference weights", () => {
  const dirs: Record<string, string> = {};
  beforeAll(async () => {
    dirs.fp32 = await bundle("fp32");
    dirs.fp16 = await bundle("fp16");
  });

  it.each(CASES)("%s matches %s (rel ≤ 1e-4)", async (graph, golden) => {
    const errors = await goldenErrors(join(dirs.fp32, graph), join(TINY, "io", `${golden}.safetensors`));
    for (const [name, rel] of Object.entries(errors)) expect(rel, name).toBeLessThanOrEqual(1e-4);
  });

  it("an fp16 bundle loads in the runner on the CPU provider (weights cast to float32 at load)", async () => {
    const loaded = await loadBundle(dirs.fp16, { executionProvider: "cpu" });
    expect(loaded.manifest.precision).toBe("fp16");
    await releaseBundle(loaded);
  });

  it.each(CASES)("fp16 storage: %s stays within the documented fp16 tolerance of %s", async (graph, golden) => {
    const errors = await goldenErrors(join(dirs.fp16, graph), join(TINY, "io", `${golden}.safetensors`));
    for (const [name, rel] of Object.entries(errors)) expect(rel, name).toBeLessThanOrEqual(FP16_TOLERANCE);
  });

  /**
   * fp16 compute on the CPU, two ways. The `.fp16.onnx` graph itself: ORT's CPU provider runs the ops it
   * has no fp16 kernel for in float32, casting only next to its fp16 kernels (reshapes, LayerNormalization),
   * so few tensors are rounded. Measured: text 8.3e-4, image 4.4e-4, fuse 7.7e-4, UNet noise_pred ≤ 2.5e-3 /
   * attention_probs ≤ 1.8e-3, VAE ≤ 1.0e-3. And `emulateFloat16Storage`: every tensor the fp16 graph holds
   * in fp16 rounded to fp16 (a GPU's fp16 storage with fp32 accumulation): text 1.5e-3, image 6.6e-4,
   * fuse 5.6e-4, UNet noise_pred ≤ 3.1e-3 / attention_probs ≤ 2.3e-3, VAE ≤ 1.5e-3. Bound: 1e-2, as above.
   */
  it.each(CASES)("fp16 compute (the .fp16.onnx graph of %s, and its emulation) stays within the documented fp16 tolerance of %s", async (graph, golden) => {
    const goldens = join(TINY, "io", `${golden}.safetensors`);
    const emulated = graph.replace(/\.onnx$/, ".emulated.onnx");
    writeFileSync(join(dirs.fp16, emulated), onnxProto.onnx.ModelProto.encode(emulateFloat16Storage(onnxProto.onnx.ModelProto.decode(readFileSync(join(dirs.fp16, graph))))).finish());
    for (const file of [graph.replace(/\.onnx$/, ".fp16.onnx"), emulated]) {
      const errors = await goldenErrors(join(dirs.fp16, file), goldens);
      expect(Object.keys(errors).length).toBeGreaterThan(0);
      for (const [name, rel] of Object.entries(errors)) expect(rel, `${file} ${name}`).toBeLessThanOrEqual(FP16_TOLERANCE);
    }
  });
});
