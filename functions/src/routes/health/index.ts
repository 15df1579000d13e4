import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, errorResponses } from "../../openapi.ts";

const healthRoute = createRoute({
  method: "get",
  path: "/",
  operationId: "getHealth",
  tags: ["health"],
  summary: "Liveness (no auth)",
  security: [],
  responses: {
    200: { description: "Alive", content: { "application/json": { schema: z.object({ ok: z.literal(true) }).openapi("Health", { example: { ok: true } }) } } },
    // The body limit guards every route, this one included.
    ...errorResponses(413),
  },
});

export const healthRoutes = () => createRouter().openapi(healthRoute, (c) => c.json({ ok: true as const }, 200));
