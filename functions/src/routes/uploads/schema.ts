import { createRoute, z } from "@hono/zod-openapi";
import { CreateUploadSchema, UploadSchema } from "@troupe/shared/contracts/upload";
import { bearerSecurity, errorResponses } from "../../openapi.ts";

// Named components for generated clients (zod's `.meta()`, read like `.openapi()`).
const CreateUpload = CreateUploadSchema.meta({ id: "CreateUpload", example: { contentType: "image/jpeg", contentLength: 182_044 } });
const Upload = UploadSchema.meta({
  id: "Upload",
  example: {
    id: "upl_0123456789abcdef",
    uploadUrl: "https://bucket.s3.amazonaws.com/uploads/…?X-Amz-Signature=…",
    method: "PUT",
    headers: { "content-type": "image/jpeg", "content-length": "182044" },
    expiresAt: "2026-01-05T10:15:00.000Z",
  },
});

export const createUploadRoute = createRoute({
  method: "post",
  path: "/",
  operationId: "createUpload",
  tags: ["uploads"],
  summary: "Get a presigned PUT URL for one reference image",
  description:
    "PUT the file to `uploadUrl` with the returned `headers` and exactly `contentLength` bytes before `expiresAt`, then pass `id` as a subject's `uploadId`.",
  security: bearerSecurity,
  request: { body: { content: { "application/json": { schema: CreateUpload } }, required: true } },
  responses: {
    201: { description: "Upload slot created", content: { "application/json": { schema: Upload } } },
    ...errorResponses(400, 401, 413, 429, 500),
  },
});

export const deleteUploadRoute = createRoute({
  method: "delete",
  path: "/{id}",
  tags: ["uploads"],
  operationId: "deleteUpload",
  summary: "Delete an upload now",
  description: "The photo is deleted at once (its presigned URLs stop working). Jobs still queued with it fail with `unknown_upload`; subjects made from it keep their own copy.",
  security: bearerSecurity,
  request: { params: z.object({ id: z.string().min(1).max(100).openapi({ param: { name: "id", in: "path" }, example: "upl_…" }) }) },
  responses: { 204: { description: "Deleted" }, ...errorResponses(401, 404, 429, 500) },
});
