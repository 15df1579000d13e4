import { z } from "zod";

/** Scheduler config, named as in diffusers' scheduler_config.json (camelCased). */
export const SchedulerConfigSchema = z.object({
  numTrainTimesteps: z.number().int().positive(),
  betaStart: z.number().positive(),
  betaEnd: z.number().positive(),
  betaSchedule: z.enum(["linear", "scaled_linear"]),
  stepsOffset: z.number().int().nonnegative(),
  setAlphaToOne: z.boolean(),
  predictionType: z.literal("epsilon"),
});
export type SchedulerConfig = z.infer<typeof SchedulerConfigSchema>;

/** SD 1.5's scheduler_config.json. */
export const SD15_SCHEDULER_CONFIG: SchedulerConfig = {
  numTrainTimesteps: 1000,
  betaStart: 0.00085,
  betaEnd: 0.012,
  betaSchedule: "scaled_linear",
  stepsOffset: 1,
  setAlphaToOne: false,
  predictionType: "epsilon",
};

const Size = z.object({ width: z.number().int().positive(), height: z.number().int().positive() });

export const BundleFileSchema = z.object({
  path: z.string().regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, "a relative path inside the bundle"),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
});

/** One ONNX file per bundle graph (paths inside the bundle). */
const GraphFilesSchema = z.object({
  textEncoder: z.string(),
  imageEncoder: z.string(),
  fuse: z.string(),
  unet: z.string(),
  vaeDecoder: z.string(),
  /**
   * SD 1.5's safety checker (`pixel_values float[N,3,224,224]` → `image_embeds`, scores, `has_nsfw float[N]`).
   * Absent: the bundle has none, and the runner fails every job whose key's safety policy is `block` or
   * `flag` with `safety_unavailable` (policy `off` runs). Only in `graphs`: it computes in float32 on every provider.
   */
  safetyChecker: z.string().optional(),
});

/** `manifest.json` of a model bundle (DESIGN §4). */
export const ManifestSchema = z.object({
  name: z.string().min(1),
  version: z.string().min(1),
  /** Embedding width D shared by text, image and fuse graphs. */
  hiddenSize: z.number().int().positive(),
  /** Pixel sizes the UNet accepts; latent = pixel / vaeScaleFactor. */
  sizes: z.object({ default: Size, min: z.number().int().positive(), max: z.number().int().positive(), multiple: z.number().int().positive() }),
  latentChannels: z.number().int().positive(),
  vaeScaleFactor: z.number().int().positive(),
  imageSize: z.number().int().positive(), // reference image side for the image encoder (224)
  tokens: z.object({
    bos: z.number().int().nonnegative(),
    eos: z.number().int().nonnegative(),
    pad: z.number().int().nonnegative(),
    maxLength: z.number().int().positive(), // 77
    vocabSize: z.number().int().positive(), // 512 byte symbols + merges + 2 specials (CLIP: 49408)
  }),
  maxSubjects: z.number().int().positive(),
  /**
   * What the UNet may be asked on the runner's device, in pixels (width × height) × batch: N images share one
   * UNet call of batch halves·N (2·N, or N at guidance 1) only within `maxBatchPixels` (else one image at a
   * time, see `imagesPerCall`); a job over either limit is refused (`memoryProblem`). Absent: no batching, no limit.
   */
  memory: z.object({ maxBatchPixels: z.number().int().positive(), maxJobPixels: z.number().int().positive() }).optional(),
  scheduler: SchedulerConfigSchema,
  /** How the graphs store their weights. `graphs` compute in float32 either way (fp16 weights are cast at load); an fp16 bundle also has `gpuGraphs`. */
  precision: z.enum(["fp32", "fp16"]).default("fp32"),
  tokenizer: z.object({ merges: z.string().min(1) }),
  graphs: GraphFilesSchema,
  /**
   * fp16 bundles only: the same graphs computing in float16 (float32 inputs and outputs; timestep embedding
   * and GroupNorm statistics in float32), sharing `graphs`' weight files. The GPU providers (cuda, webgpu)
   * run these; the CPU provider runs `graphs`. Absent: `graphs` on every provider.
   */
  gpuGraphs: GraphFilesSchema.optional(),
  files: z.array(BundleFileSchema).min(1),
}).refine((m) => (m.precision === "fp16") === (m.gpuGraphs !== undefined), {
  message: "gpuGraphs is required with precision fp16 and not allowed with fp32",
  path: ["gpuGraphs"],
});
export type Manifest = z.infer<typeof ManifestSchema>;

/**
 * Why `value` is not a size this model takes (undefined when it is): the API and the runner ask the same
 * question. Width and height are checked each on its own (non-square sizes are fine); what a size costs in
 * memory is `memoryProblem`'s question.
 */
export function sizeProblem(manifest: Pick<Manifest, "sizes">, field: "width" | "height", value: number): string | undefined {
  const { min, max, multiple } = manifest.sizes;
  if (value >= min && value <= max && value % multiple === 0) return undefined;
  return `${field} must be a multiple of ${multiple} from ${min} to ${max}; got ${value}.`;
}

export interface MemoryProblem {
  /** The budget the job exceeds. */
  limit: "maxBatchPixels" | "maxJobPixels";
  /** The request fields that make it too large. */
  fields: ("width" | "height" | "numImages")[];
  message: string;
}

/** UNet samples per image: [negative, conditional], or the conditional one alone at guidance 1 (CFG's result then equals it). */
export const guidanceHalves = (guidanceScale: number): 1 | 2 => (guidanceScale === 1 ? 1 : 2);

export interface JobSize {
  width: number;
  height: number;
  numImages: number;
  /** Guidance 1 runs no negative half, so it costs half the pixels per call. @default a guided job (> 1) */
  guidanceScale?: number;
}

/**
 * How many images share one UNet call: all `numImages` (batch halves · N) when the manifest's memory budget
 * allows it, `halves · N · width · height ≤ maxBatchPixels`; else one at a time, also when the bundle states
 * no budget. The runner batches by it; `memoryProblem` refuses what even one image at a time cannot fit.
 */
export function imagesPerCall(memory: Manifest["memory"], job: JobSize): number {
  const pixels = guidanceHalves(job.guidanceScale ?? 2) * job.numImages * job.width * job.height;
  return memory && pixels <= memory.maxBatchPixels ? job.numImages : 1;
}

/**
 * Why a job exceeds the manifest's memory budget (undefined when it fits or the bundle states none): one
 * image's UNet call, halves × width × height (its guided pair, or the image alone at guidance 1), must fit
 * `maxBatchPixels`, and numImages × width × height must fit `maxJobPixels`. The API and the runner ask it.
 */
export function memoryProblem(manifest: Pick<Manifest, "memory">, job: JobSize): MemoryProblem | undefined {
  const { memory } = manifest;
  if (!memory) return undefined;
  const { width, height, numImages } = job;
  const halves = guidanceHalves(job.guidanceScale ?? 2);
  const call = halves * width * height;
  if (call > memory.maxBatchPixels) {
    return {
      limit: "maxBatchPixels",
      fields: ["width", "height"],
      message: `A ${width}×${height} image needs ${call} pixels per UNet call (${halves} × width × height${halves === 2 ? ", its guided pair" : ""}); this model's memory budget allows ${memory.maxBatchPixels} (maxBatchPixels).`,
    };
  }
  const total = numImages * width * height;
  if (total > memory.maxJobPixels) {
    return {
      limit: "maxJobPixels",
      fields: ["numImages"],
      message: `numImages × width × height is ${numImages} × ${width} × ${height} = ${total} pixels; this model's memory budget allows ${memory.maxJobPixels} per job (maxJobPixels). Ask for fewer or smaller images.`,
    };
  }
  return undefined;
}
