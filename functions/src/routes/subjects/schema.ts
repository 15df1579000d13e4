import { createRoute, z } from "@hono/zod-openapi";
import { bearerSecurity, errorResponses } from "../../openapi.ts";

export const CreateSubjectSchema = z
  .strictObject({
    uploadId: z
      .string()
      .regex(/^upl_[A-Za-z0-9]{10,40}$/, "an upload id from POST /v1/uploads")
      .optional()
      .openapi({ description: "A finished upload (PUT done) of this key; the subject keeps its own copy of the photo." }),
    imageUrl: z.url().max(2048).optional().openapi({
      description:
        "An https URL of a JPEG, PNG or WebP (≤ 10 MiB, public host; http and loopback in local mode), fetched once under the same rules as a job subject's imageUrl and kept as an upload of this key (`source.uploadId`).",
      example: "https://images.example.com/alice.jpg",
    }),
  })
  .refine((b) => (b.uploadId === undefined) !== (b.imageUrl === undefined), { message: "give exactly one of uploadId or imageUrl" })
  .openapi("CreateSubject", { description: "Exactly one of `uploadId` or `imageUrl`.", example: { uploadId: "upl_01hzy3k5m7n9p2q4r6s8t0" } });

export const SubjectSchema = z
  .object({
    id: z.string().openapi({ example: "sub_…" }),
    contentType: z.enum(["image/jpeg", "image/png", "image/webp"]),
    contentLength: z.number().int(),
    source: z.object({ uploadId: z.string().openapi({ description: "The upload the photo came from; for an imageUrl, the upload it was kept as." }) }),
    createdAt: z.string(),
  })
  .openapi("Subject");

export const SubjectListSchema = z.object({ data: z.array(SubjectSchema), nextCursor: z.string().nullable() }).openapi("SubjectList");

const IdParams = z.object({ id: z.string().min(1).max(100).openapi({ param: { name: "id", in: "path" }, example: "sub_…" }) });
const subjectContent = { "application/json": { schema: SubjectSchema } };

export const createSubjectRoute = createRoute({
  method: "post",
  path: "/",
  tags: ["subjects"],
  operationId: "createSubject",
  summary: "Make a reusable subject from an upload or an image URL",
  description:
    "Jobs may then reference `{\"subjectId\": \"sub_…\"}` instead of an upload. Its image embedding is computed once per model bundle and cached, so later jobs skip decoding and encoding the photo. A subject does not expire; delete it with DELETE /v1/subjects/{id}. An `imageUrl` is refused with `invalid_request` (400: scheme, private or unresolvable host) or `upload_invalid` (422: unreachable, too large, not an image), `details.reason` saying which.",
  security: bearerSecurity,
  request: { body: { content: { "application/json": { schema: CreateSubjectSchema } }, required: true } },
  responses: { 201: { description: "Subject created", content: subjectContent }, ...errorResponses(400, 401, 413, 422, 429, 500) },
});

export const getSubjectRoute = createRoute({
  method: "get",
  path: "/{id}",
  tags: ["subjects"],
  operationId: "getSubject",
  summary: "Read a subject",
  security: bearerSecurity,
  request: { params: IdParams },
  responses: { 200: { description: "The subject", content: subjectContent }, ...errorResponses(401, 404, 429, 500) },
});

export const listSubjectsRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["subjects"],
  operationId: "listSubjects",
  summary: "This key's subjects, newest first",
  security: bearerSecurity,
  request: {
    query: z.object({
      limit: z.coerce.number().int().min(1).max(100).default(20),
      cursor: z.string().min(1).max(200).optional().openapi({ description: "nextCursor from the previous page" }),
    }),
  },
  responses: { 200: { description: "A page of subjects", content: { "application/json": { schema: SubjectListSchema } } }, ...errorResponses(400, 401, 429, 500) },
});

export const deleteSubjectRoute = createRoute({
  method: "delete",
  path: "/{id}",
  tags: ["subjects"],
  operationId: "deleteSubject",
  summary: "Delete a subject, its photo and its cached embeddings now",
  description: "Jobs still queued with this subject fail with `unknown_subject`; new ones are refused with it.",
  security: bearerSecurity,
  request: { params: IdParams },
  responses: { 204: { description: "Deleted" }, ...errorResponses(401, 404, 429, 500) },
});
