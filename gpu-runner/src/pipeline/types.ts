import type { GenerationSpec } from "@troupe/shared/contracts/generation";
import type { SafetyPolicy } from "@troupe/shared/contracts/safety";
import type { SafetyVerdict } from "./safety-check.ts";

export interface GenerateInput {
  spec: GenerationSpec;
  /** Raw bytes of each subject's reference image, in subject order (empty where `imageEmbeds` has the subject). */
  references: Uint8Array[];
  /**
   * A stored subject's cached image embedding ([hiddenSize] floats), by subject: those subjects skip
   * decoding and the image encoder. Undefined entries are encoded from `references`.
   */
  imageEmbeds?: (Float32Array | undefined)[];
}

export interface Progress {
  step: number;
  totalSteps: number;
}

export interface GenerateOptions {
  /** Checked between denoising steps; an aborted signal ends the run with a CanceledError. */
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
  /**
   * The job's safety policy (DESIGN §2): `block` and `flag` run the bundle's safety checker on every output
   * image (and fail with `safety_unavailable` without one); `block` also keeps a flagged first image out of
   * the attention heatmaps. Storing or withholding is the worker's. @default "off"
   */
  safetyPolicy?: SafetyPolicy;
}

export interface StageTimings {
  encodeMs: number;
  fuseMs: number;
  denoiseMs: number;
  decodeMs: number;
  /** The safety check (preprocessing + checker pass); 0 under policy off. */
  safetyMs?: number;
  pngMs: number;
  totalMs: number;
}

export interface GenerateOutput {
  /** `safety`: the checker's verdict, absent when the policy is off (not checked). */
  images: { png: Buffer; width: number; height: number; safety?: SafetyVerdict }[];
  /** One heatmap per subject, where the model produced attention probabilities. */
  attentionMaps: { subject: number; png: Buffer }[];
  timings: StageTimings;
}

/** What the worker needs of the inference pipeline. */
export interface ImagePipeline {
  generate(input: GenerateInput, options?: GenerateOptions): Promise<GenerateOutput>;
  /** Decodes and encodes reference photos: one [hiddenSize] embedding each (what a stored subject caches). */
  /** `subjects`: each reference's subject number, for errors (default: their positions). */
  encodeReferences(references: Uint8Array[], subjects?: readonly number[]): Promise<Float32Array[]>;
  /** Names the image encoder's weights: a cached embedding is valid only for the same value. */
  readonly embeddingVersion: string;
}
