import { presentJob } from "@troupe/shared/jobs/present";
import { deliveryWaker } from "@troupe/shared/webhooks/delivery-queue";
import { AppError } from "@troupe/shared/errors";
import type { QueueStats } from "@troupe/shared/jobs/queue-estimate";
import type { JobRecord } from "@troupe/shared/records/jobs";
import type { AppDeps } from "../../deps.ts";
import { createRouter } from "../../openapi.ts";
import { cancelGeneration } from "../../services/cancel-generation.ts";
import { JobWaiter } from "../../services/job-waiter.ts";
import { QueueStatsCache } from "../../services/queue-stats.ts";
import { submitGeneration } from "../../services/submit-generation.ts";
import { preferredWaitS } from "./prefer-wait.ts";
import { cancelGenerationRoute, createGenerationRoute, getGenerationRoute, listGenerationsRoute } from "./schema.ts";

export function generationsRoutes(deps: AppDeps) {
  const { jobs, usage } = deps.stores;
  // Output URLs are minted on every read (DESIGN §2).
  const present = (record: JobRecord, queueStats?: QueueStats) =>
    presentJob(record, { s3: deps.clients.s3, bucket: deps.config.TROUPE_BUCKET, urlTtlS: deps.config.TROUPE_OUTPUT_URL_TTL_S, now: deps.now(), queueStats });
  // Queue depth and runner pace for the `queue` estimates: cached per process, read in parallel with the job.
  const queueStats = new QueueStatsCache({ sqs: deps.clients.sqs, queueUrl: deps.queueUrl, ddb: deps.clients.ddb, usageTable: deps.config.TROUPE_USAGE_TABLE, now: deps.now });
  const wake = deliveryWaker(deps.clients.sqs, deps.config);
  const wakeWebhookSender = (job: JobRecord) => wake({ tenantId: job.tenantId, jobId: job.id });
  // One per process: every `Prefer: wait` request of this app shares its batched reads.
  const waiter = new JobWaiter({ ddb: deps.clients.ddb, table: deps.config.TROUPE_JOBS_TABLE });

  return createRouter()
    .openapi(createGenerationRoute, async (c) => {
      const stats = queueStats.current(); // in parallel with the submit
      const { job } = await submitGeneration(deps, {
        key: c.get("apiKey"),
        body: c.req.valid("json"),
        idempotencyKey: c.req.valid("header")["idempotency-key"],
      });
      c.header("Location", `/v1/generations/${job.id}`);
      const waitS = preferredWaitS(c.req.valid("header").prefer);
      if (waitS === undefined) return c.json(await present(job, await stats), 202);
      // Synchronous mode: the job as it ends, or as it stands when the wait runs out.
      const latest = await waiter.wait(job, waitS * 1000);
      c.header("Preference-Applied", `wait=${waitS}`);
      // Deleted while the request waited: it reads 404, as everywhere else (DESIGN §2).
      if (latest.deletedAt) throw new AppError("not_found", `No generation ${job.id} for this key.`);
      if (latest.status === "succeeded" || latest.status === "failed" || latest.status === "canceled") return c.json(await present(latest), 200);
      return c.json(await present(latest, await queueStats.current()), 202);
    })
    .openapi(listGenerationsRoute, async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const [page, stats] = await Promise.all([jobs.list(c.get("tenantId"), limit, cursor), queueStats.current()]);
      return c.json({ data: await Promise.all(page.items.map((job) => present(job, stats))), nextCursor: page.nextCursor }, 200);
    })
    .openapi(getGenerationRoute, async (c) => {
      const { id } = c.req.valid("param");
      const [job, stats] = await Promise.all([jobs.get(c.get("tenantId"), id), queueStats.current()]);
      if (!job) throw new AppError("not_found", `No generation ${id} for this key.`);
      return c.json(await present(job, stats), 200);
    })
    .openapi(cancelGenerationRoute, async (c) => {
      const [job, stats] = await Promise.all([
        cancelGeneration({ jobs, usage, now: deps.now, wakeWebhookSender }, c.get("tenantId"), c.req.valid("param").id),
        queueStats.current(),
      ]);
      return c.json(await present(job, stats), 202);
    });
}
