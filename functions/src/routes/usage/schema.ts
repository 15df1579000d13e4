import { createRoute, z } from "@hono/zod-openapi";
import { SAFETY_POLICIES } from "@troupe/shared/contracts/safety";
import { bearerSecurity, errorResponses } from "../../openapi.ts";

// Made here, not imported: `.openapi()` exists only on schemas made after @hono/zod-openapi loaded.
const SafetyPolicySchema = z.enum(SAFETY_POLICIES);

export const UsageSchema = z
  .object({
    period: z.string().openapi({ example: "2026-01", description: "Calendar month (UTC) the quota applies to" }),
    images: z.object({
      used: z.number().int().openapi({ description: "Images of succeeded jobs" }),
      limit: z.number().int().openapi({ description: "Monthly image quota of this key" }),
      reserved: z.number().int().openapi({ description: "Images counted against the quota: used plus queued or running" }),
    }),
    gpuSeconds: z.object({ used: z.number() }),
    safety: z
      .object({
        policy: SafetyPolicySchema.openapi({
          description:
            "This key's safety policy, set by the operator with the keys CLI: `block` (default; a flagged output image is never stored and the job reports it withheld), `flag` (stored and marked `safety.flagged`), `off` (not checked: the operator's responsibility). A job keeps the policy it was submitted under.",
        }),
        flagged: z.number().int().openapi({ description: "Output images of this period's succeeded jobs the safety checker flagged (stored or withheld)" }),
        withheld: z.number().int().openapi({ description: "Of those, images withheld under policy `block`. Every generated image counts in `images.used`, withheld and flagged ones included" }),
      })
      .openapi("UsageSafety"),
    jobs: z.object({ submitted: z.number().int(), succeeded: z.number().int(), failed: z.number().int(), canceled: z.number().int() }),
  })
  .openapi("Usage");

export const getUsageRoute = createRoute({
  method: "get",
  path: "/",
  operationId: "getUsage",
  tags: ["usage"],
  summary: "This key's usage in the current period and its limits",
  security: bearerSecurity,
  responses: { 200: { description: "Usage", content: { "application/json": { schema: UsageSchema } } }, ...errorResponses(401, 429, 500) },
});
