import { createRoute, z } from "@hono/zod-openapi";
import { CreateGenerationSchema, JobSchema } from "@troupe/shared/contracts/generation";
import { bearerSecurity, errorResponses } from "../../openapi.ts";

// Shared schemas are used as they are: `.openapi()` exists only on schemas made after @hono/zod-openapi loaded.
const Job = JobSchema;
const jobContent = { "application/json": { schema: Job } };

/** 1..255 printable ASCII characters, as most hosted APIs accept. */
const IdempotencyHeaders = z.object({
  "idempotency-key": z
    .string()
    .regex(/^[\x20-\x7e]{1,255}$/, "Idempotency-Key must be 1 to 255 printable ASCII characters")
    .optional()
    .openapi({ description: "Same key + same body returns the original job for 24 h; another body is 409 idempotency_conflict." }),
});

const IdParams = z.object({ id: z.string().min(1).max(100).openapi({ param: { name: "id", in: "path" }, example: "gen_…" }) });

export const createGenerationRoute = createRoute({
  method: "post",
  path: "/",
  tags: ["generations"],
  summary: "Create a generation job",
  security: bearerSecurity,
  request: {
    headers: IdempotencyHeaders,
    body: { content: { "application/json": { schema: CreateGenerationSchema } }, required: true },
  },
  responses: {
    202: {
      description: "Accepted and queued; poll the Location",
      headers: z.object({ Location: z.string().openapi({ description: "/v1/generations/{id}" }) }),
      content: jobContent,
    },
    ...errorResponses(400, 401, 409, 413, 422, 429, 500),
  },
});

export const getGenerationRoute = createRoute({
  method: "get",
  path: "/{id}",
  tags: ["generations"],
  summary: "Poll a generation job",
  security: bearerSecurity,
  request: { params: IdParams },
  responses: { 200: { description: "The job", content: jobContent }, ...errorResponses(401, 404, 429, 500) },
});

export const listGenerationsRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["generations"],
  summary: "This key's jobs, newest first",
  security: bearerSecurity,
  request: {
    query: z.object({
      limit: z.coerce.number().int().min(1).max(100).default(20),
      cursor: z.string().min(1).max(200).optional().openapi({ description: "nextCursor from the previous page" }),
    }),
  },
  responses: {
    200: {
      description: "A page of jobs",
      content: { "application/json": { schema: z.object({ data: z.array(Job), nextCursor: z.string().nullable() }).openapi("JobPage") } },
    },
    ...errorResponses(400, 401, 429, 500),
  },
});

export const cancelGenerationRoute = createRoute({
  method: "post",
  path: "/{id}/cancel",
  tags: ["generations"],
  summary: "Cancel a queued or running job",
  description: "A queued job is canceled at once; a running one gets `cancelRequested: true` and stops at its next step.",
  security: bearerSecurity,
  request: { params: IdParams },
  responses: { 202: { description: "Canceled or cancel requested", content: jobContent }, ...errorResponses(401, 404, 409, 429, 500) },
});
