import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppDeps } from "./deps.ts";
import { onError, onNotFound } from "./error-handler.ts";
import { documentApp } from "./openapi.ts";
import { accessLog } from "./middleware/access-log.ts";
import { auth } from "./middleware/auth.ts";
import { bodyLimit } from "./middleware/body-limit.ts";
import { rateLimit } from "./middleware/rate-limit.ts";
import { requestId } from "./middleware/request-id.ts";
import { deleteGenerationRoutes } from "./routes/generations/delete-route.ts";
import { deliveriesRoutes } from "./routes/deliveries/index.ts";
import { generationsRoutes } from "./routes/generations/index.ts";
import { JobResponseSchema } from "./routes/generations/schema.ts";
import { healthRoutes } from "./routes/health/index.ts";
import { subjectsRoutes } from "./routes/subjects/index.ts";
import { uploadsRoutes } from "./routes/uploads/index.ts";
import { usageRoutes } from "./routes/usage/index.ts";
import { webhookSecretRoutes } from "./routes/webhook-secret/index.ts";

/** Every JSON body the API accepts is small; images go straight to S3. */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * The Troupe API (DESIGN §2). Everything it needs comes in `deps`, so tests, the Node server,
 * Lambda and the bench build the same app over different clients.
 */
export function createApp(deps: AppDeps) {
  const app = new OpenAPIHono();
  app.onError(onError);
  app.notFound(onNotFound);

  // Order matters: the id exists before anything can fail, the log sees the final status.
  app.use("*", requestId());
  app.use("*", accessLog({ write: deps.log }));
  app.use("*", bodyLimit({ maxBytes: MAX_BODY_BYTES }));
  app.use("/v1/*", auth({ keys: deps.stores.keys }));
  app.use("/v1/*", rateLimit({
      usage: deps.stores.usage,
      defaultPerMinute: deps.config.TROUPE_DEFAULT_RATE_PER_MINUTE,
      now: deps.now,
      sync: { batch: deps.config.TROUPE_RATE_SYNC_BATCH, intervalMs: deps.config.TROUPE_RATE_SYNC_INTERVAL_MS },
    }));

  // Chained so the return type carries every route (AppType).
  const routed = app
    .route("/healthz", healthRoutes())
    .route("/v1/uploads", uploadsRoutes(deps))
    .route("/v1/generations", generationsRoutes(deps))
    .route("/v1/generations", deliveriesRoutes(deps))
    .route("/v1/generations", deleteGenerationRoutes(deps))
    .route("/v1/subjects", subjectsRoutes(deps))
    .route("/v1/usage", usageRoutes(deps))
    .route("/v1/webhook-secret", webhookSecretRoutes(deps));

  documentApp(routed, { jobSchema: JobResponseSchema });
  return routed;
}

/** The app's type with every route, request and response (for tests and tools; the client package has its own wire types). */
export type AppType = ReturnType<typeof createApp>;
