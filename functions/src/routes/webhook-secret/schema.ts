import { createRoute, z } from "@hono/zod-openapi";
import { bearerSecurity, errorResponses } from "../../openapi.ts";

export const SecretSchema = z
  .object({ secret: z.string().openapi({ example: "whsec_…", description: "Standard Webhooks signing secret (base64 after whsec_)" }) })
  .openapi("WebhookSecret");
const content = { "application/json": { schema: SecretSchema } };

export const getWebhookSecretRoute = createRoute({
  method: "get",
  path: "/",
  operationId: "getWebhookSecret",
  tags: ["webhooks"],
  summary: "This key's webhook signing secret",
  description:
    "Verify deliveries with it: HMAC-SHA256 over `webhook-id.webhook-timestamp.body`, compared with each `v1,<base64>` in `webhook-signature` (space-separated; any one match is valid).",
  security: bearerSecurity,
  responses: { 200: { description: "The current secret", content }, ...errorResponses(401, 429, 500) },
});

export const rotateWebhookSecretRoute = createRoute({
  method: "post",
  path: "/rotate",
  operationId: "rotateWebhookSecret",
  tags: ["webhooks"],
  summary: "Replace the webhook signing secret",
  description:
    "Every delivery attempt from now on is signed with the new secret and, for an overlap window (24 h unless the operator set TROUPE_WEBHOOK_SECRET_OVERLAP_S), also with the old one: `webhook-signature` then carries one `v1,<sig>` per live secret, space-separated, so receivers can switch secrets at their own pace.",
  security: bearerSecurity,
  responses: { 200: { description: "The new secret", content }, ...errorResponses(401, 429, 500) },
});
