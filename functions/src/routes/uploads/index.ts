import type { AppDeps } from "../../deps.ts";
import { createRouter } from "../../openapi.ts";
import { createUpload } from "../../services/create-upload.ts";
import { deleteUpload } from "../../services/delete-upload.ts";
import { createUploadRoute, deleteUploadRoute } from "./schema.ts";

export function uploadsRoutes(deps: AppDeps) {
  const uploadDeps = {
    s3: deps.clients.s3,
    bucket: deps.config.TROUPE_BUCKET,
    uploads: deps.stores.uploads,
    urlTtlS: deps.config.TROUPE_UPLOAD_URL_TTL_S,
    now: deps.now,
  };
  return createRouter()
    .openapi(createUploadRoute, async (c) => {
      const upload = await createUpload(uploadDeps, c.get("tenantId"), c.req.valid("json"), c.get("apiKey").retention);
      return c.json(upload, 201);
    })
    .openapi(deleteUploadRoute, async (c) => {
      await deleteUpload(uploadDeps, c.get("tenantId"), c.req.valid("param").id);
      return c.body(null, 204);
    });
}
