import { presentJob } from "@troupe/shared/jobs/present";
import { deliveryWaker } from "@troupe/shared/webhooks/delivery-queue";
import { AppError } from "@troupe/shared/errors";
import type { JobRecord } from "@troupe/shared/records/jobs";
import type { AppDeps } from "../../deps.ts";
import { createRouter } from "../../openapi.ts";
import { cancelGeneration } from "../../services/cancel-generation.ts";
import { JobWaiter } from "../../services/job-waiter.ts";
import { submitGeneration } from "../../services/submit-generation.ts";
import { preferredWaitS } from "./prefer-wait.ts";
import { cancelGenerationRoute, createGenerationRoute, getGenerationRoute, listGenerationsRoute } from "./schema.ts";

export function generationsRoutes(deps: AppDeps) {
  const { jobs, usage } = deps.stores;
  // Output URLs are minted on every read (DESIGN §2).
  const present = (record: JobRecord) =>
    presentJob(record, { s3: deps.clients.s3, bucket: deps.config.TROUPE_BUCKET, urlTtlS: deps.config.TROUPE_OUTPUT_URL_TTL_S, now: deps.now() });
  // One per process: every `Prefer: wait` request of this app shares its batched reads.
  const wake = deliveryWaker(deps.clients.sqs, deps.config);
  const wakeWebhookSender = (job: JobRecord) => wake({ tenantId: job.tenantId, jobId: job.id });
  const waiter = new JobWaiter({ ddb: deps.clients.ddb, table: deps.config.TROUPE_JOBS_TABLE });

  return createRouter()
    .openapi(createGenerationRoute, async (c) => {
      const { job } = await submitGeneration(deps, {
        key: c.get("apiKey"),
        body: c.req.valid("json"),
        idempotencyKey: c.req.valid("header")["idempotency-key"],
      });
      c.header("Location", `/v1/generations/${job.id}`);
      const waitS = preferredWaitS(c.req.valid("header").prefer);
      if (waitS === undefined) return c.json(await present(job), 202);
      // Synchronous mode: the job as it ends, or as it stands when the wait runs out.
      const latest = await waiter.wait(job, waitS * 1000);
      c.header("Preference-Applied", `wait=${waitS}`);
      return latest.status === "succeeded" || latest.status === "failed" || latest.status === "canceled"
        ? c.json(await present(latest), 200)
        : c.json(await present(latest), 202);
    })
    .openapi(listGenerationsRoute, async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const page = await jobs.list(c.get("tenantId"), limit, cursor);
      return c.json({ data: await Promise.all(page.items.map(present)), nextCursor: page.nextCursor }, 200);
    })
    .openapi(getGenerationRoute, async (c) => {
      const { id } = c.req.valid("param");
      const job = await jobs.get(c.get("tenantId"), id);
      if (!job) throw new AppError("not_found", `No generation ${id} for this key.`);
      return c.json(await present(job), 200);
    })
    .openapi(cancelGenerationRoute, async (c) => {
      const job = await cancelGeneration({ jobs, usage, now: deps.now, wakeWebhookSender }, c.get("tenantId"), c.req.valid("param").id);
      return c.json(await present(job), 202);
    });
}
