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
  /** How the graphs store their weights; compute is float32 on every provider either way (fp16 weights are cast at load). */
  precision: z.enum(["fp32", "fp16"]).default("fp32"),
  tokenizer: z.object({ merges: z.string().min(1) }),
  graphs: z.object({
    textEncoder: z.string(),
    imageEncoder: z.string(),
    fuse: z.string(),
    unet: z.string(),
    vaeDecoder: z.string(),
  }),
  files: z.array(BundleFileSchema).min(1),
});
export type Manifest = z.infer<typeof ManifestSchema>;

/** Why `value` is not a size this model takes (undefined when it is): the API and the runner ask the same question. */
export function sizeProblem(manifest: Pick<Manifest, "sizes">, field: "width" | "height", value: number): string | undefined {
  const { min, max, multiple } = manifest.sizes;
  if (value >= min && value <= max && value % multiple === 0) return undefined;
  return `${field} must be a multiple of ${multiple} from ${min} to ${max}; got ${value}.`;
}
