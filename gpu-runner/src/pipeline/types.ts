import type { GenerationSpec } from "@troupe/shared/contracts/generation";

export interface GenerateInput {
  spec: GenerationSpec;
  /** Raw bytes of each subject's reference image, in subject order. */
  references: Uint8Array[];
}

export interface Progress {
  step: number;
  totalSteps: number;
}

export interface GenerateOptions {
  /** Checked between denoising steps; an aborted signal ends the run with a CanceledError. */
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
}

export interface StageTimings {
  encodeMs: number;
  fuseMs: number;
  denoiseMs: number;
  decodeMs: number;
  pngMs: number;
  totalMs: number;
}

export interface GenerateOutput {
  images: { png: Buffer; width: number; height: number }[];
  /** One heatmap per subject, where the model produced attention probabilities. */
  attentionMaps: { subject: number; png: Buffer }[];
  timings: StageTimings;
}

/** What the worker needs of the inference pipeline. */
export interface ImagePipeline {
  generate(input: GenerateInput, options?: GenerateOptions): Promise<GenerateOutput>;
}
