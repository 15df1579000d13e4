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
   * What the UNet may be asked on the runner's device, in pixels (width × height) × batch: one UNet call
   * of batch 2·N runs N images together only within `maxBatchPixels` (else one image at a time); a job's
   * numImages × width × height above `maxJobPixels` is refused by the API. Absent: no batching, no limit.
   */
  memory: z.object({ maxBatchPixels: z.number().int().positive(), maxJobPixels: z.number().int().positive() }).optional(),
  scheduler: SchedulerConfigSchema,
  /** How the graphs store their weights. `graphs` compute in float32 either way (fp16 weights are cast at load); see `gpuGraphs`. */
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

/**
 * Why a job of `numImages` images of width × height exceeds the manifest's memory budget (undefined when it
 * fits or the bundle states none): one image's guided pair, 2 × width × height, must fit `maxBatchPixels`
 * (the smallest UNet call the runner makes for it), and numImages × width × height must fit `maxJobPixels`.
 */
export function memoryProblem(manifest: Pick<Manifest, "memory">, job: { width: number; height: number; numImages: number }): MemoryProblem | undefined {
  const { memory } = manifest;
  if (!memory) return undefined;
  const { width, height, numImages } = job;
  const pair = 2 * width * height;
  if (pair > memory.maxBatchPixels) {
    return {
      limit: "maxBatchPixels",
      fields: ["width", "height"],
      message: `A ${width}×${height} image needs ${pair} pixels per UNet call (2 × width × height, its guided pair); this model's memory budget allows ${memory.maxBatchPixels} (maxBatchPixels).`,
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
