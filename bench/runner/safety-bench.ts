/**
 * What the safety check costs (`npm run bench:runner`, part 4): one checker pass per output image.
 * 1. tiny bundle, whole pipeline with policy `flag` (check on, everything stored): the check's ms per image
 *    (preprocessing + the checker's batched pass) and its ratio to the rest of the job, medians over rounds.
 * 2. sd15 size (`--skip-sd15` leaves it out): SD 1.5's checker (a CLIP ViT-L/14, seeded random weights, built
 *    alone into a temp folder, ~1.2 GB) on 512² decoded images, ms per image; compared with a 50-step 512² job
 *    through the fused UNet's s/call at 512² (batch 2) from bench/attention.json, measured on this machine.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { releaseBundle } from "../../gpu-runner/src/bundle/load-bundle.ts";
import { GraphBuilder } from "../../gpu-runner/src/graph/builder.ts";
import { SD15_CONFIG } from "../../gpu-runner/src/graph/configs/sd15.ts";
import { buildSafetyChecker } from "../../gpu-runner/src/graph/models/safety-checker.ts";
import { seededRandom } from "../../gpu-runner/src/graph/weights.ts";
import { createSession } from "../../gpu-runner/src/onnx/sessions.ts";
import { checkImages } from "../../gpu-runner/src/pipeline/safety-check.ts";
import { referencePng } from "../../test/support/seed-jobs.ts";
import { median, round } from "./stats.ts";
import { benchSpec, loadBenchPipeline } from "./tiny-pipeline.ts";

export interface SafetyBenchRow {
  bundle: string;
  /** Output image size checked. */
  size: string;
  images: number;
  /** The check, per output image (preprocessing + checker pass), median. */
  checkMsPerImage: number;
  /** The rest of the job per image, median (measured, or estimated where `estimated`). */
  restMsPerImage: number;
  /** check / rest of the job. */
  ratio: number;
  /** How `restMsPerImage` was had. */
  rest: string;
}

/** The tiny bundle's whole pipeline, check on: the check's share of each job. */
export async function benchSafetyTiny(bundleDir: string, options: { size: number; steps: number; images: number; rounds: number }): Promise<SafetyBenchRow> {
  const { bundle, pipeline } = await loadBenchPipeline(bundleDir);
  const spec = benchSpec({ size: options.size, steps: options.steps, images: options.images });

  const references = [await referencePng("#36c")];
  await pipeline.generate({ spec: { ...spec, steps: 1 }, references }, { safetyPolicy: "flag" }); // warm-up
  const check: number[] = [];
  const rest: number[] = [];
  for (let r = 0; r < options.rounds; r++) {
    const { timings } = await pipeline.generate({ spec, references }, { safetyPolicy: "flag" });
    check.push(timings.safetyMs! / options.images);
    rest.push((timings.totalMs - timings.safetyMs!) / options.images);
  }
  await releaseBundle(bundle);
  const c = median(check);
  const o = median(rest);
  return { bundle: bundle.manifest.name, size: `${options.size}x${options.size}`, images: options.images, checkMsPerImage: round(c), restMsPerImage: round(o), ratio: round(c / o, 4), rest: `measured: ${options.steps} ddim steps, same runs` };
}

/** SD 1.5's checker alone at its real size on `size`² images; the rest of a 50-step job from the UNet's measured s/call. */
export async function benchSafetySd15(options: { size: number; rounds: number; threads: number }): Promise<SafetyBenchRow> {
  const dir = mkdtempSync(join(tmpdir(), "safety-bench-"));
  try {
    const file = join(dir, "safety_checker.onnx");
    const g = new GraphBuilder("safetyChecker", { weights: seededRandom(1), externalDataPath: `${file}.data` });
    buildSafetyChecker(g, SD15_CONFIG.safetyChecker!);
    writeFileSync(file, g.toBytes());
    const session = await createSession(file, "safety_checker.onnx", { executionProvider: "cpu", intraOpThreads: options.threads });
    const checker = { session, imageSize: SD15_CONFIG.safetyChecker!.vision.imageSize };
    const image = Uint8Array.from({ length: options.size * options.size * 3 }, (_, i) => (i * 7919) % 256);
    await checkImages(checker, [image], options.size, options.size); // warm-up
    const times: number[] = [];
    for (let r = 0; r < options.rounds; r++) {
      const t = performance.now();
      await checkImages(checker, [image], options.size, options.size);
      times.push(performance.now() - t);
    }
    await session.release();
    const c = median(times);
    // A 50-step PNDM job is 51 UNet calls of batch 2 (CFG) at 512²: the fused UNet's measured s/call, when known.
    const attention = fileURLToPath(new URL("../attention.json", import.meta.url));
    const row = existsSync(attention) ? (JSON.parse(readFileSync(attention, "utf8")).rows as { variant: string; size: number; medianSecondsPerCall: number }[]).find((r) => r.variant === "fused" && r.size === options.size) : undefined;
    const restMs = row ? row.medianSecondsPerCall * 1000 * 51 : NaN;
    return {
      bundle: "sd15",
      size: `${options.size}x${options.size}`,
      images: 1,
      checkMsPerImage: round(c),
      restMsPerImage: round(restMs, 0),
      ratio: round(c / restMs, 5),
      rest: row ? `estimated: 51 UNet calls × ${row.medianSecondsPerCall} s (bench/attention.json, fused ${options.size}², batch 2), VAE and encoders not counted` : "unknown: no bench/attention.json row",
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
