import { z } from "zod";
import { SafetyPolicySchema } from "./safety.ts";

export const SCHEDULERS = ["pndm", "ddim", "euler", "dpmpp-2m"] as const;
export const MAX_PROMPT_CHARS = 1000;
export const MAX_SEED = 2 ** 32 - 1;

/** DynamoDB stores magnitudes from 1e-130 to 9.99e125 (and 0); a smaller one is refused as "Number underflow". */
export const DYNAMODB_MIN_MAGNITUDE = 1e-130;

/**
 * A fractional number DynamoDB can store: a magnitude below 1e-130 (5e-324, 1e-320: float artefacts, never
 * a meaningful box edge or alpha) becomes 0 before the range checks. Every fractional field of the create
 * body uses it; the upper limit needs no rule, since every field is bounded far below 9.99e125.
 */
export const storableNumber = () => z.number().overwrite((v) => (Math.abs(v) < DYNAMODB_MIN_MAGNITUDE ? 0 : v));

const unit = () => storableNumber().min(0).max(1);

/** Normalized box [x0, y0, x1, y1] in 0..1 with x0 < x1 and y0 < y1. */
export const BoxSchema = z
  .tuple([unit(), unit(), unit(), unit()])
  .refine(([x0, y0, x1, y1]) => x0 < x1 && y0 < y1, { message: "box must satisfy x0 < x1 and y0 < y1" })
  // Published as a 4-item array (prefixItems alone would let a generated client accept 3 numbers).
  .meta({ minItems: 4, maxItems: 4, description: "[x0, y0, x1, y1], normalized 0..1, x0 < x1 and y0 < y1" });
export type Box = z.infer<typeof BoxSchema>;

/** One subject: exactly one of an upload (`upl_…`) or a stored subject (`sub_…`, POST /v1/subjects). */
export const SubjectSchema = z
  .strictObject({
    uploadId: z.string().regex(/^upl_[A-Za-z0-9]{10,40}$/, "an upload id from POST /v1/uploads").optional(),
    subjectId: z.string().regex(/^sub_[0-9a-z]{10,40}$/, "a subject id from POST /v1/subjects").optional(),
    /** Fetched once by the API (upload and webhook rules) and kept as an upload of the tenant; the spec then holds its uploadId. */
    imageUrl: z.url().max(2048).optional(),
    box: BoxSchema.optional(),
  })
  .refine((s) => [s.uploadId, s.subjectId, s.imageUrl].filter((v) => v !== undefined).length === 1, {
    message: "give exactly one of uploadId or subjectId or imageUrl",
  });

/** POST /v1/generations body (DESIGN §2). Size bounds against the model are checked by the API. */
export const CreateGenerationSchema = z.strictObject({
  prompt: z.string().trim().min(1).max(MAX_PROMPT_CHARS),
  negativePrompt: z.string().max(MAX_PROMPT_CHARS).default(""),
  subjects: z.array(SubjectSchema).min(1).max(8),
  numImages: z.number().int().min(1).max(4).default(1),
  steps: z.number().int().min(1).max(150).default(50),
  guidanceScale: storableNumber().min(1).max(20).default(5),
  alpha: unit().default(0.7),
  scheduler: z.enum(SCHEDULERS).default("pndm"),
  seed: z.number().int().min(0).max(MAX_SEED).optional(),
  width: z.number().int().positive().optional(),
  height: z.number().int().positive().optional(),
  webhookUrl: z.url().max(2048).optional(),
  /** false: the uploads this job uses are deleted when it ends (stored subjects are kept). */
  retainInputs: z.boolean().default(true),
});
export type CreateGeneration = z.infer<typeof CreateGenerationSchema>;

/** The normalized request: every default filled in, the seed actually used. Carried in the queue message. */
export const GenerationSpecSchema = z.strictObject({
  prompt: z.string(),
  negativePrompt: z.string(),
  subjects: z.array(z.strictObject({ uploadId: z.string().optional(), subjectId: z.string().optional(), box: BoxSchema.optional() })),
  numImages: z.number().int().min(1).max(4),
  steps: z.number().int().min(1).max(150),
  guidanceScale: z.number(),
  alpha: z.number().min(0).max(1),
  scheduler: z.enum(SCHEDULERS),
  seed: z.number().int().min(0).max(MAX_SEED),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  webhookUrl: z.string().optional(),
  /** Absent or true: keep the uploads; false: delete them when the job ends. */
  retainInputs: z.boolean().optional(),
});
export type GenerationSpec = z.infer<typeof GenerationSpecSchema>;

export const JOB_STATUSES = ["queued", "running", "succeeded", "failed", "canceled"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const TERMINAL_STATUSES: readonly JobStatus[] = ["succeeded", "failed", "canceled"];

/**
 * Estimates for an unfinished job (null once it finished): its place among the jobs waiting (1 = next;
 * 0 once running) and when it should start and finish, from the queue depth and recent per-step times.
 */
export const QueueEstimateSchema = z
  .object({
    position: z.number().int().min(0),
    estimatedStartAt: z.string().nullable(),
    estimatedFinishAt: z.string().nullable(),
  })
  .meta({
    id: "QueueEstimate",
    description:
      "Estimates, not promises: position among the waiting jobs (1 = next, 0 once running; read from the queue's approximate depth, so an upper bound), start and finish times from the runners' recent per-step times (null while none is known). Null once the job finished.",
  });
export type QueueEstimate = z.infer<typeof QueueEstimateSchema>;

/** The public job object (DESIGN §2). */
export const JobSchema = z.object({
  id: z.string(),
  status: z.enum(JOB_STATUSES),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  progress: z.object({ step: z.number().int(), totalSteps: z.number().int() }),
  input: GenerationSpecSchema,
  /**
   * One per requested image, in order. `safety`: the safety checker's verdict, null when not checked (policy
   * `off`). Policy `block` withholds a flagged image: `withheld: true, reason: "safety", url: null,
   * expiresAt: null` (it was never stored); otherwise `withheld: false, reason: null` and a presigned `url`.
   */
  outputs: z.array(
    z.object({
      url: z.string().nullable().describe("Presigned GET, minted on every read; null when the image was withheld (never stored)."),
      expiresAt: z.string().nullable(),
      width: z.number().int(),
      height: z.number().int(),
      contentType: z.literal("image/png"),
      safety: z
        .object({ flagged: z.boolean() })
        .nullable()
        .describe("The safety checker's verdict on this image; null when it was not checked (the job's safetyPolicy is off)."),
      withheld: z.boolean().describe("True when safety policy block kept this flagged image out of storage: url and expiresAt are then null."),
      reason: z.literal("safety").nullable().describe("Why the image was withheld; null when it was not."),
    }),
  ),
  /** The key's safety policy when the job was submitted, which the runner applied (DESIGN §2). */
  safetyPolicy: SafetyPolicySchema.describe(
    "The key's safety policy when the job was submitted: block (flagged images withheld), flag (stored, marked), off (not checked; the operator's responsibility).",
  ),
  attentionMaps: z.array(z.object({ subject: z.number().int(), url: z.string(), expiresAt: z.string() })),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  metrics: z.object({ queueMs: z.number().nullable(), inferenceMs: z.number().nullable(), gpuSeconds: z.number().nullable() }),
  cancelRequested: z.boolean(),
  queue: QueueEstimateSchema.nullable(),
});
export type Job = z.infer<typeof JobSchema>;
