import * as ort from "onnxruntime-node";
import type { SafetyPolicy } from "@troupe/shared/contracts/safety";
import { AppError } from "@troupe/shared/errors";
import type { SafetyCheckerSession } from "../bundle/load-bundle.ts";
import { safetyPixels } from "./safety-preprocess.ts";

/** One output image's result: `flagged` by the bundle's safety checker. */
export interface SafetyVerdict {
  flagged: boolean;
}

/**
 * The check a job's policy asks for, before any work: `off` needs nothing; `block` and `flag` need the
 * bundle's checker, and a bundle without one fails the job (a clear code, never an unchecked image).
 */
export function assertSafetyCheckable(policy: SafetyPolicy, checker: SafetyCheckerSession | undefined): void {
  if (policy === "off" || checker) return;
  throw new AppError(
    "safety_unavailable",
    `This model bundle has no safety checker, and this key's safety policy is "${policy}". The operator must deploy a bundle built with SD 1.5's safety_checker/ component, or set the key's policy to "off".`,
    { policy },
  );
}

/**
 * diffusers' run_safety_checker for decoded 8-bit RGB images (HWC, each width × height): the checker's
 * own preprocessing (safety-preprocess.ts), then one batched ViT pass, one image per batch row.
 */
export async function checkImages(checker: SafetyCheckerSession, images: Uint8Array[], width: number, height: number): Promise<SafetyVerdict[]> {
  if (images.length === 0) return [];
  const size = checker.imageSize;
  const plane = 3 * size * size;
  const pixels = new Float32Array(images.length * plane);
  images.forEach((rgb, i) => pixels.set(safetyPixels(rgb, width, height, size), i * plane));
  const out = await checker.session.run({ pixel_values: new ort.Tensor("float32", pixels, [images.length, 3, size, size]) });
  const flags = out.has_nsfw.data as Float32Array;
  return images.map((_, i) => ({ flagged: flags[i] > 0 }));
}
