import type { AppDeps } from "../../deps.ts";
import { createRouter } from "../../openapi.ts";
import { getWebhookSecretRoute, rotateWebhookSecretRoute } from "./schema.ts";

export function webhookSecretRoutes(deps: AppDeps) {
  return createRouter()
    .openapi(getWebhookSecretRoute, (c) => c.json({ secret: c.get("apiKey").webhookSecret }, 200))
    .openapi(rotateWebhookSecretRoute, async (c) => c.json({ secret: await deps.stores.keys.rotateWebhookSecret(c.get("tenantId")) }, 200));
}
