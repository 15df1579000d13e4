import { createRoute, z } from "@hono/zod-openapi";
import { CreateGenerationSchema, JobSchema } from "@troupe/shared/contracts/generation";
import { bearerSecurity, errorResponses } from "../../openapi.ts";

/** Longest `Prefer: wait=N` honoured, in seconds (DESIGN §2). */
export const MAX_PREFER_WAIT_S = 60;

/** The create request the examples show; the job example is what it becomes. */
const exampleRequest = {
  prompt: "a man img and a woman img sitting in a park",
  subjects: [
    { uploadId: "upl_0123456789abcdef", box: [0, 0, 0.5, 1] as [number, number, number, number] },
    { uploadId: "upl_fedcba9876543210", box: [0.5, 0, 1, 1] as [number, number, number, number] },
  ],
  steps: 30,
  seed: 42,
};

const exampleJob = {
  id: "gen_0123456789abcdef",
  status: "succeeded",
  createdAt: "2026-01-05T10:00:00.000Z",
  startedAt: "2026-01-05T10:00:01.200Z",
  finishedAt: "2026-01-05T10:00:04.900Z",
  progress: { step: 30, totalSteps: 30 },
  cancelRequested: false,
  safetyPolicy: "block",
  queue: null,
  input: { ...exampleRequest, negativePrompt: "", numImages: 1, guidanceScale: 5, alpha: 0.7, scheduler: "pndm", width: 512, height: 512 },
  outputs: [
    {
      url: "https://bucket.s3.amazonaws.com/outputs/…/0.png?X-Amz-Signature=…",
      expiresAt: "2026-01-05T11:00:05.000Z",
      width: 512,
      height: 512,
      contentType: "image/png",
      safety: { flagged: false },
      withheld: false,
      reason: null,
    },
  ],
  attentionMaps: [],
  error: null,
  metrics: { queueMs: 1200, inferenceMs: 3500, gpuSeconds: 3.5 },
} satisfies z.output<typeof JobSchema>;

// Named components, so generated clients get `Job` and `CreateGeneration` types. Shared schemas take
// zod's own `.meta()`, which @hono/zod-openapi reads like `.openapi()`.
export const JobResponseSchema = JobSchema.meta({ id: "Job", example: exampleJob });
const CreateGeneration = CreateGenerationSchema.meta({
  id: "CreateGeneration",
  example: exampleRequest,
});
const jobContent = { "application/json": { schema: JobResponseSchema } };

const CreateHeaders = z.object({
  /** 1..255 printable ASCII characters, as most hosted APIs accept. */
  "idempotency-key": z
    .string()
    .regex(/^[\x20-\x7e]{1,255}$/, "Idempotency-Key must be 1 to 255 printable ASCII characters")
    .optional()
    .openapi({ description: 'Same key + same body returns the original job for 24 h; another body is 409 idempotency_conflict. The key of a job that was since deleted is 409 idempotency_conflict with details.reason "job_deleted" (the work is not redone; send a new key).', example: "order-1234-portrait" }),
  prefer: z
    .string()
    .max(200)
    .optional()
    .openapi({
      description: `\`wait=N\` (1..${MAX_PREFER_WAIT_S}): hold the response until the job ends or N seconds pass. A finished job answers 200, one still pending 202; \`Preference-Applied\` echoes the wait used. Other preferences are ignored.`,
      example: "wait=30",
    }),
});

const IdParams = z.object({ id: z.string().min(1).max(100).openapi({ param: { name: "id", in: "path" }, example: "gen_0123456789abcdef" }) });
const preferenceApplied = z.string().optional().openapi({ description: "`wait=N` when `Prefer: wait` was honoured" });

export const createGenerationRoute = createRoute({
  method: "post",
  path: "/",
  operationId: "createGeneration",
  tags: ["generations"],
  summary: "Create a generation job",
  description: "Queues a job. With `Prefer: wait=N` the response waits up to N seconds for the job to end (synchronous mode).",
  security: bearerSecurity,
  request: {
    headers: CreateHeaders,
    body: { content: { "application/json": { schema: CreateGeneration } }, required: true },
  },
  responses: {
    200: {
      description: "Synchronous mode (`Prefer: wait`): the job ended within the wait",
      headers: z.object({ Location: z.string().openapi({ description: "/v1/generations/{id}" }), "Preference-Applied": preferenceApplied }),
      content: jobContent,
    },
    202: {
      description: "Accepted and queued (or, with `Prefer: wait`, still running when the wait ran out); poll the Location",
      headers: z.object({ Location: z.string().openapi({ description: "/v1/generations/{id}" }), "Preference-Applied": preferenceApplied }),
      content: jobContent,
    },
    ...errorResponses(400, 401, 409, 413, 422, 429, 500),
  },
});

export const getGenerationRoute = createRoute({
  method: "get",
  path: "/{id}",
  operationId: "getGeneration",
  tags: ["generations"],
  summary: "Poll a generation job",
  description: "Output URLs are presigned GETs minted on every read. `queue` holds estimates while the job is queued or running.",
  security: bearerSecurity,
  request: { params: IdParams },
  responses: { 200: { description: "The job", content: jobContent }, ...errorResponses(401, 404, 429, 500) },
});

export const listGenerationsRoute = createRoute({
  method: "get",
  path: "/",
  operationId: "listGenerations",
  tags: ["generations"],
  summary: "This key's jobs, newest first",
  security: bearerSecurity,
  request: {
    query: z.object({
      limit: z.coerce.number().int().min(1).max(100).default(20).openapi({ example: 20 }),
      cursor: z.string().min(1).max(200).optional().openapi({ description: "nextCursor from the previous page" }),
    }),
  },
  responses: {
    200: {
      description: "A page of jobs",
      content: { "application/json": { schema: z.object({ data: z.array(JobResponseSchema), nextCursor: z.string().nullable() }).openapi("JobPage") } },
    },
    ...errorResponses(400, 401, 429, 500),
  },
});

export const cancelGenerationRoute = createRoute({
  method: "post",
  path: "/{id}/cancel",
  operationId: "cancelGeneration",
  tags: ["generations"],
  summary: "Cancel a queued or running job",
  description: "A queued job is canceled at once; a running one gets `cancelRequested: true` and stops at its next step.",
  security: bearerSecurity,
  request: { params: IdParams },
  responses: { 202: { description: "Canceled or cancel requested", content: jobContent }, ...errorResponses(401, 404, 409, 429, 500) },
});
