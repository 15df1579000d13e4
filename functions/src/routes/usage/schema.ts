import { createRoute, z } from "@hono/zod-openapi";
import { bearerSecurity, errorResponses } from "../../openapi.ts";

export const UsageSchema = z
  .object({
    period: z.string().openapi({ example: "2026-01", description: "Calendar month (UTC) the quota applies to" }),
    images: z.object({
      used: z.number().int().openapi({ description: "Images of succeeded jobs" }),
      limit: z.number().int().openapi({ description: "Monthly image quota of this key" }),
      reserved: z.number().int().openapi({ description: "Images counted against the quota: used plus queued or running" }),
    }),
    gpuSeconds: z.object({ used: z.number() }),
    jobs: z.object({ submitted: z.number().int(), succeeded: z.number().int(), failed: z.number().int(), canceled: z.number().int() }),
  })
  .openapi("Usage");

export const getUsageRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["usage"],
  summary: "This key's usage in the current period and its limits",
  security: bearerSecurity,
  responses: { 200: { description: "Usage", content: { "application/json": { schema: UsageSchema } } }, ...errorResponses(401, 429, 500) },
});
