import { safetyPolicyOf } from "@troupe/shared/contracts/safety";
import { usagePeriod } from "@troupe/shared/records/usage";
import type { AppDeps } from "../../deps.ts";
import { createRouter } from "../../openapi.ts";
import { getUsageRoute } from "./schema.ts";

export function usageRoutes(deps: AppDeps) {
  return createRouter().openapi(getUsageRoute, async (c) => {
    const key = c.get("apiKey");
    const summary = await deps.stores.usage.summary(key.keyId, usagePeriod(new Date(deps.now())), key.monthlyImages);
    return c.json({ ...summary, safety: { policy: safetyPolicyOf(key), ...summary.safety } }, 200);
  });
}
