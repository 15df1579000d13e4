import { createRoute, z } from "@hono/zod-openapi";
import type { AppDeps } from "../../deps.ts";
import { bearerSecurity, createRouter, errorResponses } from "../../openapi.ts";
import { deleteGeneration } from "../../services/delete-generation.ts";

export const deleteGenerationRoute = createRoute({
  method: "delete",
  path: "/{id}",
  tags: ["generations"],
  operationId: "deleteGeneration",
  summary: "Delete a job's outputs and personal inputs now",
  description:
    "A queued or running job is canceled first (it stores nothing afterwards). Outputs and attention maps are deleted, so their presigned URLs stop working; the prompt, inputs and webhook URL are scrubbed from the record. Usage already counted stays counted. The job then reads 404.",
  security: bearerSecurity,
  request: { params: z.object({ id: z.string().min(1).max(100).openapi({ param: { name: "id", in: "path" }, example: "gen_…" }) }) },
  responses: { 204: { description: "Deleted" }, ...errorResponses(401, 404, 429, 500) },
});

/** Mounted beside the other generation routes (app.ts). */
export function deleteGenerationRoutes(deps: AppDeps) {
  const { jobs, usage, uploads } = deps.stores;
  return createRouter().openapi(deleteGenerationRoute, async (c) => {
    await deleteGeneration({ s3: deps.clients.s3, bucket: deps.config.TROUPE_BUCKET, jobs, usage, uploads, now: deps.now }, c.get("tenantId"), c.req.valid("param").id);
    return c.body(null, 204);
  });
}
