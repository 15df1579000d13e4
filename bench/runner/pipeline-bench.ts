import * as ort from "onnxruntime-node";
import type { GenerationSpec } from "@troupe/shared/contracts/generation";
import { ClipTokenizer } from "@troupe/shared/tokenizer";
import { loadBundle, releaseBundle } from "../../gpu-runner/src/bundle/load-bundle.ts";
import { FastComposerPipeline } from "../../gpu-runner/src/pipeline/fastcomposer-pipeline.ts";
import { createScheduler } from "../../gpu-runner/src/schedulers/index.ts";
import { referencePng } from "../../test/support/seed-jobs.ts";
import { median, peakRssMb, round } from "./stats.ts";

export interface PipelineBenchResult {
  bundle: string;
  size: string;
  steps: number;
  /** Our denoising loop per UNet call: scheduler, guidance, bias, tensors, progress, attention accumulation. */
  loopMsPerStep: number;
  /** The bare `session.run` of the UNet on the same inputs. */
  bareMsPerStep: number;
  overheadRatio: number;
  stagesMs: Record<string, number>;
  loadMs: number;
  peakRssMb: number;
}

/**
 * Runs the pipeline and the bare UNet call side by side, alternating rounds so both see the same
 * machine state; reports medians over rounds.
 */
export async function benchPipeline(bundleDir: string, options: { size: number; steps: number; rounds: number; threads: number }): Promise<PipelineBenchResult> {
  const t0 = performance.now();
  const bundle = await loadBundle(bundleDir, { executionProvider: "cpu", intraOpThreads: options.threads });
  const loadMs = performance.now() - t0;
  const { manifest } = bundle;
  const pipeline = new FastComposerPipeline(bundle, await ClipTokenizer.fromFile(bundle.mergesPath, { vocabSize: manifest.tokens.vocabSize }));
  const spec: GenerationSpec = {
    prompt: "a man img and a woman img sitting in a park",
    negativePrompt: "blurry",
    subjects: [{ uploadId: "upl_a", box: [0, 0, 0.5, 1] }, { uploadId: "upl_b", box: [0.5, 0, 1, 1] }],
    numImages: 1,
    steps: options.steps,
    guidanceScale: 5,
    alpha: 0.7,
    scheduler: "ddim", // one UNet call per step, so loop time / steps compares 1:1 with the bare call
    seed: 1,
    width: options.size,
    height: options.size,
  };
  const references = [await referencePng("#36c"), await referencePng("#c33")];

  // The bare call: exactly the tensors one loop iteration feeds the UNet.
  const h = options.size / manifest.vaeScaleFactor;
  const L = manifest.tokens.maxLength;
  const feeds = {
    sample: new ort.Tensor("float32", new Float32Array(2 * 4 * h * h).fill(0.1), [2, 4, h, h]),
    timestep: new ort.Tensor("float32", new Float32Array([500, 500]), [2]),
    encoder_hidden_states: new ort.Tensor("float32", new Float32Array(2 * L * manifest.hiddenSize).fill(0.01), [2, L, manifest.hiddenSize]),
    cross_attention_bias: new ort.Tensor("float32", new Float32Array(2 * L * h * h), [2, L, h, h]),
  };
  createScheduler("ddim", manifest.scheduler); // warm the module

  const loop: number[] = [];
  const bare: number[] = [];
  let stages: Record<string, number> = {};
  await pipeline.generate({ spec: { ...spec, steps: 1 }, references }); // warm-up: first-run allocations
  for (let r = 0; r < options.rounds; r++) {
    const b0 = performance.now();
    for (let s = 0; s < options.steps; s++) await bundle.sessions.unet.run(feeds);
    bare.push((performance.now() - b0) / options.steps);
    const out = await pipeline.generate({ spec, references });
    loop.push(out.timings.denoiseMs / options.steps);
    stages = { encode: out.timings.encodeMs, fuse: out.timings.fuseMs, denoise: out.timings.denoiseMs, vaeDecode: out.timings.decodeMs, png: out.timings.pngMs, total: out.timings.totalMs };
  }
  await releaseBundle(bundle);
  const loopMs = median(loop);
  const bareMs = median(bare);
  return {
    bundle: manifest.name,
    size: `${options.size}x${options.size}`,
    steps: options.steps,
    loopMsPerStep: round(loopMs),
    bareMsPerStep: round(bareMs),
    overheadRatio: round(loopMs / bareMs, 3),
    stagesMs: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, round(v, 1)])),
    loadMs: round(loadMs, 0),
    peakRssMb: peakRssMb(),
  };
}
