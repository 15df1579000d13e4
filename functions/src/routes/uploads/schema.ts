import { createRoute } from "@hono/zod-openapi";
import { CreateUploadSchema, UploadSchema } from "@troupe/shared/contracts/upload";
import { bearerSecurity, errorResponses } from "../../openapi.ts";

export const createUploadRoute = createRoute({
  method: "post",
  path: "/",
  tags: ["uploads"],
  summary: "Get a presigned PUT URL for one reference image",
  description:
    "PUT the file to `uploadUrl` with the returned `headers` and exactly `contentLength` bytes before `expiresAt`, then pass `id` as a subject's `uploadId`.",
  security: bearerSecurity,
  request: { body: { content: { "application/json": { schema: CreateUploadSchema } }, required: true } },
  responses: {
    201: { description: "Upload slot created", content: { "application/json": { schema: UploadSchema } } },
    ...errorResponses(400, 401, 413, 429, 500),
  },
});
