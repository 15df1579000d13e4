import { hostname } from "node:os";
import { createAwsClients } from "@troupe/shared/aws/clients";
import { RunnerConfigSchema, loadConfig } from "@troupe/shared/config";
import { ApiKeyStore, JobStore, UploadStore, UsageStore } from "@troupe/shared/records";
import { PaceStore } from "@troupe/shared/records/pace";
import { createPipeline } from "../pipeline/create-pipeline.ts";
import { jsonLog, type WorkerDeps } from "./deps.ts";
import { ecsTaskProtection } from "./task-protection.ts";
import { WebhookSender } from "./webhook-sender.ts";
import { resolveWebhookQueueUrl } from "@troupe/shared/webhooks/delivery-queue";
import { Worker } from "./worker.ts";

/** The runner process: one worker over one loaded bundle, stopped gracefully by SIGTERM/SIGINT. */
async function main(): Promise<void> {
  const config = loadConfig(RunnerConfigSchema);
  const log = jsonLog({ service: "gpu-runner", pid: process.pid });
  if (!config.TROUPE_QUEUE_URL) throw new Error("TROUPE_QUEUE_URL is required: the URL of the jobs queue.");
  const clients = createAwsClients(config);

  // Load and verify the bundle before taking any message: a bad bundle or provider fails here, not mid-job.
  const pipeline = await createPipeline({ bundle: config.TROUPE_BUNDLE, executionProvider: config.TROUPE_EXECUTION_PROVIDER, intraOpThreads: config.TROUPE_INTRA_OP_THREADS, s3: clients.s3 });

  const deps: WorkerDeps = {
    clients,
    bucket: config.TROUPE_BUCKET,
    queueUrl: config.TROUPE_QUEUE_URL,
    dlqUrl: config.TROUPE_DLQ_URL,
    jobs: new JobStore(clients.ddb, config.TROUPE_JOBS_TABLE),
    usage: new UsageStore(clients.ddb, config.TROUPE_USAGE_TABLE),
    pace: new PaceStore(clients.ddb, config.TROUPE_USAGE_TABLE, `${hostname()}-${process.pid}`),
    keys: new ApiKeyStore(clients.ddb, config.TROUPE_KEYS_TABLE),
    uploads: new UploadStore(clients.ddb, config.TROUPE_JOBS_TABLE),
    pipeline,
    webhooks: new WebhookSender({ sqs: clients.sqs, queueUrl: await resolveWebhookQueueUrl(clients.sqs, config), log }),
    visibilityTimeoutS: config.TROUPE_VISIBILITY_TIMEOUT_S,
    recordGraceS: config.TROUPE_RECORD_GRACE_S,
    progressIntervalMs: config.TROUPE_PROGRESS_INTERVAL_MS,
    // Longer than any job; renewed per job, so a dead runner's protection lapses by itself.
    protection: ecsTaskProtection(process.env.ECS_AGENT_URI, 60, log),
    log,
  };
  const worker = new Worker(deps, {
    waitTimeS: config.TROUPE_WAIT_TIME_S,
    sweepIntervalMs: config.TROUPE_SWEEP_INTERVAL_S * 1000,
    shutdownGraceMs: config.TROUPE_SHUTDOWN_GRACE_S * 1000,
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log("worker_stopping", { signal, graceS: config.TROUPE_SHUTDOWN_GRACE_S });
    await worker.stop();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  worker.start();
  log("worker_ready", { bundle: config.TROUPE_BUNDLE, provider: config.TROUPE_EXECUTION_PROVIDER, safetyChecker: pipeline.hasSafetyChecker });
  // Said at start, not only per job: every job of a key whose policy is block (the default) or flag will fail.
  if (!pipeline.hasSafetyChecker) log("safety_checker_missing", { bundle: config.TROUPE_BUNDLE, effect: "jobs under safety policy block or flag fail with safety_unavailable" });
}

main().catch((e: unknown) => {
  process.stderr.write(`gpu-runner failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
