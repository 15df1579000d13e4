import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppDeps } from "./deps.ts";
import { onError, onNotFound } from "./error-handler.ts";
import { accessLog } from "./middleware/access-log.ts";
import { auth } from "./middleware/auth.ts";
import { bodyLimit } from "./middleware/body-limit.ts";
import { rateLimit } from "./middleware/rate-limit.ts";
import { requestId } from "./middleware/request-id.ts";
import { generationsRoutes } from "./routes/generations/index.ts";
import { healthRoutes } from "./routes/health/index.ts";
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
  app.use("/v1/*", rateLimit({ usage: deps.stores.usage, defaultPerMinute: deps.config.TROUPE_DEFAULT_RATE_PER_MINUTE, now: deps.now }));

  // Chained so the return type carries every route: `hc<AppType>` (functions/src/client) is typed from it.
  const routed = app
    .route("/healthz", healthRoutes())
    .route("/v1/uploads", uploadsRoutes(deps))
    .route("/v1/generations", generationsRoutes(deps))
    .route("/v1/usage", usageRoutes(deps))
    .route("/v1/webhook-secret", webhookSecretRoutes(deps));

  routed.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "An API key from `npm run keys -- create`, sent as `Authorization: Bearer trp_…`.",
  });
  routed.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Troupe API",
      version: "1.0.0",
      description: "Tuning-free multi-subject image generation (FastComposer). Every error is `{error:{code,message,details?,requestId}}`.",
    },
  });
  return routed;
}

/** The app's type with every route, request and response: what the typed client is built on. */
export type AppType = ReturnType<typeof createApp>;
