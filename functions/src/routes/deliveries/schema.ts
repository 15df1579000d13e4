import { createRoute, z } from "@hono/zod-openapi";
import { bearerSecurity, errorResponses } from "../../openapi.ts";

const IdParams = z.object({ id: z.string().min(1).max(100).openapi({ param: { name: "id", in: "path" }, example: "gen_…" }) });

export const DeliverySchema = z
  .object({
    at: z.string().openapi({ description: "When the attempt started (ISO-8601)", example: "2026-01-01T12:00:05.123Z" }),
    attempt: z.number().int().openapi({ description: "1-based within its delivery (the original or one redelivery)" }),
    redelivery: z.number().int().openapi({ description: "0 for the original delivery, n for the n-th redelivery" }),
    status: z.number().int().nullable().openapi({ description: "The receiver's HTTP status; null when no response came" }),
    durationMs: z.number().int(),
    error: z.string().nullable().openapi({ description: "Why the attempt failed (e.g. `HTTP 503`, `ECONNREFUSED`); null on success" }),
  })
  .openapi("Delivery");

export const DeliveryListSchema = z
  .object({
    data: z.array(DeliverySchema).openapi({ description: "Every attempt, oldest first" }),
    event: z.enum(["succeeded", "failed", "canceled"]).nullable().openapi({ description: "The terminal status being delivered; null when nothing was recorded" }),
    webhookId: z.string().nullable().openapi({ description: "The `webhook-id` header of every attempt (`<jobId>_<status>`)" }),
    state: z.enum(["pending", "delivered", "failed"]).nullable().openapi({
      description: "pending: more attempts are scheduled; delivered: a 2xx came back; failed: the last attempt of the schedule failed (permanent until a redelivery)",
    }),
    nextAttemptAt: z.string().nullable().openapi({ description: "When the next attempt is due, while pending" }),
  })
  .openapi("DeliveryList");

export const RedeliverySchema = z
  .object({
    webhookId: z.string(),
    event: z.enum(["succeeded", "failed", "canceled"]),
    redelivery: z.number().int().openapi({ description: "The number its attempts carry in the delivery log" }),
  })
  .openapi("Redelivery");

export const listDeliveriesRoute = createRoute({
  method: "get",
  path: "/{id}/deliveries",
  operationId: "listDeliveries",
  tags: ["webhooks"],
  summary: "Webhook delivery attempts for a job",
  description:
    "Every attempt to POST the job's terminal event to its `webhookUrl`, with time, HTTP status, duration and error. Failed attempts are retried for about a day (≈ 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, with jitter; `Retry-After` on 429/503 is honoured).",
  security: bearerSecurity,
  request: { params: IdParams },
  responses: { 200: { description: "The delivery log", content: { "application/json": { schema: DeliveryListSchema } } }, ...errorResponses(401, 404, 429, 500) },
});

export const redeliverRoute = createRoute({
  method: "post",
  path: "/{id}/deliveries/redeliver",
  operationId: "redeliverWebhook",
  tags: ["webhooks"],
  summary: "Send the job's last webhook event again",
  description:
    "Queues the terminal event again now, with the same `webhook-id`, a fresh timestamp and body, signed with the secrets live at send time, on the full retry schedule. It replaces any retries still pending. 409 not_redeliverable when the job has not finished or has no webhookUrl.",
  security: bearerSecurity,
  request: { params: IdParams },
  responses: { 202: { description: "Queued", content: { "application/json": { schema: RedeliverySchema } } }, ...errorResponses(401, 404, 409, 429, 500) },
});
