import * as ort from "onnxruntime-node";
import type { GenerationSpec } from "@troupe/shared/contracts/generation";
import { ClipTokenizer } from "@troupe/shared/tokenizer";
import { loadBundle, releaseBundle, type LoadedBundle } from "../../gpu-runner/src/bundle/load-bundle.ts";
import { FastComposerPipeline } from "../../gpu-runner/src/pipeline/fastcomposer-pipeline.ts";
import type { GenerateOutput } from "../../gpu-runner/src/pipeline/types.ts";
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
  /**
   * The pipeline's denoising time over the time its own UNet calls spent in `session.run`, in the same run:
   * our per-step overhead without the drift between separate rounds that `overheadRatio` sees on a busy machine.
   */
  inRunRatio: number;
  stagesMs: Record<string, number>;
  /** numImages N as one batch-2N UNet call per step against one image at a time: seconds per image (when asked). */
  numImages?: NumImagesBenchResult;
  loadMs: number;
  peakRssMb: number;
}

export interface NumImagesBenchResult {
  images: number;
  steps: number;
  /** Whole job (encode, denoise, decode, PNG) / images, median over rounds. */
  batchedSecondsPerImage: number;
  loopedSecondsPerImage: number;
  /** Denoising alone / images. */
  batchedDenoiseSecondsPerImage: number;
  loopedDenoiseSecondsPerImage: number;
  /** looped / batched, whole job. */
  speedup: number;
}

/**
 * Runs the pipeline and the bare UNet call side by side, alternating rounds so both see the same
 * machine state; reports medians over rounds.
 */
export async function benchPipeline(
  bundleDir: string,
  options: { size: number; steps: number; rounds: number; threads: number; numImages?: { images: number; steps: number; rounds: number } },
): Promise<PipelineBenchResult> {
  const t0 = performance.now();
  const bundle = await loadBundle(bundleDir, { executionProvider: "cpu", intraOpThreads: options.threads });
  const loadMs = performance.now() - t0;
  const { manifest } = bundle;
  const tokenizer = await ClipTokenizer.fromFile(bundle.mergesPath, { vocabSize: manifest.tokens.vocabSize });
  // The pipeline sees the UNet through a stopwatch: the time inside its own session.run calls.
  let inRunMs = 0;
  const unet = bundle.sessions.unet;
  const timedUnet = new Proxy(unet, {
    get: (target, key) =>
      key === "run"
        ? async (...args: Parameters<typeof unet.run>) => {
            const t = performance.now();
            const out = await target.run(...args);
            inRunMs += performance.now() - t;
            return out;
          }
        : Reflect.get(target, key, target),
  });
  const pipeline = new FastComposerPipeline({ ...bundle, sessions: { ...bundle.sessions, unet: timedUnet } }, tokenizer);
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
  const inRun: number[] = [];
  let stages: Record<string, number> = {};
  await pipeline.generate({ spec: { ...spec, steps: 1 }, references }); // warm-up: first-run allocations
  for (let r = 0; r < options.rounds; r++) {
    const b0 = performance.now();
    for (let s = 0; s < options.steps; s++) await bundle.sessions.unet.run(feeds);
    bare.push((performance.now() - b0) / options.steps);
    inRunMs = 0;
    const out = await pipeline.generate({ spec, references });
    loop.push(out.timings.denoiseMs / options.steps);
    inRun.push(out.timings.denoiseMs / inRunMs);
    stages = { encode: out.timings.encodeMs, fuse: out.timings.fuseMs, denoise: out.timings.denoiseMs, vaeDecode: out.timings.decodeMs, png: out.timings.pngMs, total: out.timings.totalMs };
  }
  // peak RSS of the single-image loop, before the batched runs below raise it
  const peakRss = peakRssMb();
  const numImages = options.numImages && (await benchNumImages(bundle, tokenizer, spec, references, options.numImages));
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
    inRunRatio: round(median(inRun), 3),
    stagesMs: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, round(v, 1)])),
    numImages,
    loadMs: round(loadMs, 0),
    peakRssMb: peakRss,
  };
}

/**
 * numImages N batched (a memory budget that fits 2·N images per UNet call) against looped (no budget: one
 * image per call), alternating rounds; the same spec and seed, so both make the same images.
 */
async function benchNumImages(
  bundle: LoadedBundle,
  tokenizer: ClipTokenizer,
  base: GenerationSpec,
  references: Uint8Array[],
  options: { images: number; steps: number; rounds: number },
): Promise<NumImagesBenchResult> {
  const spec = { ...base, numImages: options.images, steps: options.steps };
  const budget = 2 * options.images * spec.width * spec.height;
  const batched = new FastComposerPipeline({ ...bundle, manifest: { ...bundle.manifest, memory: { maxBatchPixels: budget, maxJobPixels: budget } } }, tokenizer);
  const looped = new FastComposerPipeline({ ...bundle, manifest: { ...bundle.manifest, memory: undefined } }, tokenizer);
  await batched.generate({ spec: { ...spec, steps: 1 }, references }); // warm-up: the batch-2N shapes
  const runs = { batched: [] as GenerateOutput["timings"][], looped: [] as GenerateOutput["timings"][] };
  for (let r = 0; r < options.rounds; r++) {
    runs.batched.push((await batched.generate({ spec, references })).timings);
    runs.looped.push((await looped.generate({ spec, references })).timings);
  }
  const perImage = (ts: GenerateOutput["timings"][], key: "totalMs" | "denoiseMs") => median(ts.map((t) => t[key])) / 1000 / options.images;
  return {
    images: options.images,
    steps: options.steps,
    batchedSecondsPerImage: round(perImage(runs.batched, "totalMs"), 3),
    loopedSecondsPerImage: round(perImage(runs.looped, "totalMs"), 3),
    batchedDenoiseSecondsPerImage: round(perImage(runs.batched, "denoiseMs"), 3),
    loopedDenoiseSecondsPerImage: round(perImage(runs.looped, "denoiseMs"), 3),
    speedup: round(perImage(runs.looped, "totalMs") / perImage(runs.batched, "totalMs"), 3),
  };
}
