import type { GenerationSpec } from "@troupe/shared/contracts/generation";
import { ClipTokenizer } from "@troupe/shared/tokenizer";
import { loadBundle } from "../../gpu-runner/src/bundle/load-bundle.ts";
import { FastComposerPipeline } from "../../gpu-runner/src/pipeline/fastcomposer-pipeline.ts";

/** A bundle's whole pipeline on the CPU, one thread: what the runner bench's parts time. */
export async function loadBenchPipeline(bundleDir: string) {
  const bundle = await loadBundle(bundleDir, { executionProvider: "cpu", intraOpThreads: 1 });
  const tokenizer = await ClipTokenizer.fromFile(bundle.mergesPath, { vocabSize: bundle.manifest.tokens.vocabSize });
  return { bundle, pipeline: new FastComposerPipeline(bundle, tokenizer) };
}

/** One subject, DDIM, square: the job the bench parts run. */
export const benchSpec = (options: { size: number; steps: number; images: number }): GenerationSpec => ({
  prompt: "a man img in a park",
  negativePrompt: "",
  subjects: [{ uploadId: "upl_a" }],
  numImages: options.images,
  steps: options.steps,
  guidanceScale: 5,
  alpha: 0.7,
  scheduler: "ddim",
  seed: 1,
  width: options.size,
  height: options.size,
});
