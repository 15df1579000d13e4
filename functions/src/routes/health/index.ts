import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "../../openapi.ts";

const healthRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["health"],
  summary: "Liveness (no auth)",
  responses: { 200: { description: "Alive", content: { "application/json": { schema: z.object({ ok: z.literal(true) }) } } } },
});

export const healthRoutes = () => createRouter().openapi(healthRoute, (c) => c.json({ ok: true as const }, 200));
