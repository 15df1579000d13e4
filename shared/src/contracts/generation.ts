import { z } from "zod";

export const SCHEDULERS = ["pndm", "ddim", "euler", "dpmpp-2m"] as const;
export const MAX_PROMPT_CHARS = 1000;
export const MAX_SEED = 2 ** 32 - 1;

/** Normalized box [x0, y0, x1, y1] in 0..1 with x0 < x1 and y0 < y1. */
export const BoxSchema = z
  .tuple([z.number().min(0).max(1), z.number().min(0).max(1), z.number().min(0).max(1), z.number().min(0).max(1)])
  .refine(([x0, y0, x1, y1]) => x0 < x1 && y0 < y1, { message: "box must satisfy x0 < x1 and y0 < y1" });
export type Box = z.infer<typeof BoxSchema>;

export const SubjectSchema = z.strictObject({
  uploadId: z.string().regex(/^upl_[A-Za-z0-9]{10,40}$/, "an upload id from POST /v1/uploads"),
  box: BoxSchema.optional(),
});

/** POST /v1/generations body (DESIGN §2). Size bounds against the model are checked by the API. */
export const CreateGenerationSchema = z.strictObject({
  prompt: z.string().trim().min(1).max(MAX_PROMPT_CHARS),
  negativePrompt: z.string().max(MAX_PROMPT_CHARS).default(""),
  subjects: z.array(SubjectSchema).min(1).max(8),
  numImages: z.number().int().min(1).max(4).default(1),
  steps: z.number().int().min(1).max(150).default(50),
  guidanceScale: z.number().min(1).max(20).default(5),
  alpha: z.number().min(0).max(1).default(0.7),
  scheduler: z.enum(SCHEDULERS).default("pndm"),
  seed: z.number().int().min(0).max(MAX_SEED).optional(),
  width: z.number().int().positive().optional(),
  height: z.number().int().positive().optional(),
  webhookUrl: z.url().max(2048).optional(),
});
export type CreateGeneration = z.infer<typeof CreateGenerationSchema>;

/** The normalized request: every default filled in, the seed actually used. Carried in the queue message. */
export const GenerationSpecSchema = z.strictObject({
  prompt: z.string(),
  negativePrompt: z.string(),
  subjects: z.array(z.strictObject({ uploadId: z.string(), box: BoxSchema.optional() })),
  numImages: z.number().int().min(1).max(4),
  steps: z.number().int().min(1).max(150),
  guidanceScale: z.number(),
  alpha: z.number().min(0).max(1),
  scheduler: z.enum(SCHEDULERS),
  seed: z.number().int().min(0).max(MAX_SEED),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  webhookUrl: z.string().optional(),
});
export type GenerationSpec = z.infer<typeof GenerationSpecSchema>;

export const JOB_STATUSES = ["queued", "running", "succeeded", "failed", "canceled"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const TERMINAL_STATUSES: readonly JobStatus[] = ["succeeded", "failed", "canceled"];

/** The public job object (DESIGN §2). */
export const JobSchema = z.object({
  id: z.string(),
  status: z.enum(JOB_STATUSES),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  progress: z.object({ step: z.number().int(), totalSteps: z.number().int() }),
  input: GenerationSpecSchema,
  outputs: z.array(
    z.object({ url: z.string(), expiresAt: z.string(), width: z.number().int(), height: z.number().int(), contentType: z.literal("image/png") }),
  ),
  attentionMaps: z.array(z.object({ subject: z.number().int(), url: z.string(), expiresAt: z.string() })),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  metrics: z.object({ queueMs: z.number().nullable(), inferenceMs: z.number().nullable(), gpuSeconds: z.number().nullable() }),
  cancelRequested: z.boolean(),
});
export type Job = z.infer<typeof JobSchema>;
