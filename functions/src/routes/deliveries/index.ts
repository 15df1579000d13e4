import { AppError } from "@troupe/shared/errors";
import { DeliveryStore } from "@troupe/shared/records/deliveries";
import { deliveryWaker } from "@troupe/shared/webhooks/delivery-queue";
import type { AppDeps } from "../../deps.ts";
import { createRouter } from "../../openapi.ts";
import { listDeliveriesRoute, redeliverRoute } from "./schema.ts";

const REFUSALS = {
  not_finished: "has not finished yet: its webhook is sent when it does",
  no_webhook: "was submitted without a webhookUrl",
} as const;

/** `GET /v1/generations/{id}/deliveries` and `POST …/deliveries/redeliver` (DESIGN §2). */
export function deliveriesRoutes(deps: AppDeps) {
  const { jobs } = deps.stores;
  const deliveries = new DeliveryStore(deps.clients.ddb, deps.config.TROUPE_JOBS_TABLE);
  const wakeSender = deliveryWaker(deps.clients.sqs, deps.config);

  const find = async (tenantId: string, id: string) => {
    const job = await jobs.get(tenantId, id);
    if (!job) throw new AppError("not_found", `No generation ${id} for this key.`);
    return job;
  };

  return createRouter()
    .openapi(listDeliveriesRoute, async (c) => {
      const job = await find(c.get("tenantId"), c.req.valid("param").id);
      const w = job.webhook;
      return c.json(
        {
          data: (w?.log ?? []).map(({ at, attempt, redelivery, status, durationMs, error }) => ({ at, attempt, redelivery, status, durationMs, error })),
          event: w ? (w.event as "succeeded" | "failed" | "canceled") : null,
          webhookId: w ? `${job.id}_${w.event}` : null,
          state: w?.state ?? null,
          nextAttemptAt: w?.state === "pending" ? new Date(w.nextAttemptAt).toISOString() : null,
        },
        200,
      );
    })
    .openapi(redeliverRoute, async (c) => {
      const id = c.req.valid("param").id;
      const job = await find(c.get("tenantId"), id);
      const result = await deliveries.redeliver(job, deps.now());
      if (typeof result === "string") throw new AppError("not_redeliverable", `Generation ${id} ${REFUSALS[result]}.`, { reason: result });
      await wakeSender({ tenantId: job.tenantId, jobId: job.id });
      const event = result.webhook!.event as "succeeded" | "failed" | "canceled";
      return c.json({ webhookId: `${job.id}_${event}`, event, redelivery: result.webhook!.round }, 202);
    });
}
