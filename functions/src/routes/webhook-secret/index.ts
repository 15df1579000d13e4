import { AppError } from "@troupe/shared/errors";
import type { AppDeps } from "../../deps.ts";
import { createRouter } from "../../openapi.ts";
import { getWebhookSecretRoute, rotateWebhookSecretRoute } from "./schema.ts";

export function webhookSecretRoutes(deps: AppDeps) {
  const overlapS = deps.config.TROUPE_WEBHOOK_SECRET_OVERLAP_S;
  return createRouter()
    .openapi(getWebhookSecretRoute, (c) => c.json({ secret: c.get("apiKey").webhookSecret }, 200))
    .openapi(rotateWebhookSecretRoute, async (c) => {
      const secret = await deps.stores.keys.rotateWebhookSecret(c.get("tenantId"), overlapS, deps.now());
      // The key was authenticated a moment ago: only a concurrent delete makes it vanish.
      if (!secret) throw new AppError("unauthorized", "This API key no longer exists.");
      return c.json({ secret }, 200);
    });
}
