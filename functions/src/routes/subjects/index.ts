import { AppError } from "@troupe/shared/errors";
import type { SubjectRecord } from "@troupe/shared/records/subjects";
import type { AppDeps } from "../../deps.ts";
import { createRouter } from "../../openapi.ts";
import { createSubject } from "../../services/create-subject.ts";
import { deleteSubject } from "../../services/delete-subject.ts";
import { imageUrlDeps } from "../../services/image-url-subject.ts";
import { createSubjectRoute, deleteSubjectRoute, getSubjectRoute, listSubjectsRoute } from "./schema.ts";

/** The public subject object: the record without its tenant. */
const present = ({ id, contentType, contentLength, source, createdAt }: SubjectRecord) => ({ id, contentType, contentLength, source, createdAt });

export function subjectsRoutes(deps: AppDeps) {
  const { subjects, uploads } = deps.stores;
  const storage = { s3: deps.clients.s3, bucket: deps.config.TROUPE_BUCKET };
  return createRouter()
    .openapi(createSubjectRoute, async (c) => {
      // The key is in hand: its retention tags an imageUrl's upload without another read.
      const imageUrls = imageUrlDeps(deps, c.get("apiKey").retention ?? {});
      const record = await createSubject({ ...storage, uploads, subjects, imageUrls, now: deps.now }, c.get("tenantId"), c.req.valid("json"));
      c.header("Location", `/v1/subjects/${record.id}`);
      return c.json(present(record), 201);
    })
    .openapi(listSubjectsRoute, async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const page = await subjects.list(c.get("tenantId"), limit, cursor);
      return c.json({ data: page.items.map(present), nextCursor: page.nextCursor }, 200);
    })
    .openapi(getSubjectRoute, async (c) => {
      const { id } = c.req.valid("param");
      const record = await subjects.get(c.get("tenantId"), id);
      if (!record) throw new AppError("not_found", `No subject ${id} for this key.`);
      return c.json(present(record), 200);
    })
    .openapi(deleteSubjectRoute, async (c) => {
      await deleteSubject({ ...storage, subjects }, c.get("tenantId"), c.req.valid("param").id);
      return c.body(null, 204);
    });
}
