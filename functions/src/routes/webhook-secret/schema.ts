import { createRoute, z } from "@hono/zod-openapi";
import { bearerSecurity, errorResponses } from "../../openapi.ts";

const SecretSchema = z
  .object({ secret: z.string().openapi({ example: "whsec_…", description: "Standard Webhooks signing secret (base64 after whsec_)" }) })
  .openapi("WebhookSecret");
const content = { "application/json": { schema: SecretSchema } };

export const getWebhookSecretRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["webhooks"],
  summary: "This key's webhook signing secret",
  description: "Verify deliveries with it: HMAC-SHA256 over `webhook-id.webhook-timestamp.body`, compared with `webhook-signature` (`v1,<base64>`).",
  security: bearerSecurity,
  responses: { 200: { description: "The current secret", content }, ...errorResponses(401, 429, 500) },
});

export const rotateWebhookSecretRoute = createRoute({
  method: "post",
  path: "/rotate",
  tags: ["webhooks"],
  summary: "Replace the webhook signing secret",
  description: "Deliveries signed after this call use the new secret; the old one stops working at once.",
  security: bearerSecurity,
  responses: { 200: { description: "The new secret", content }, ...errorResponses(401, 429, 500) },
});
