import type { JobQueue } from "./job-queue.ts";
import type { Storage } from "./storage.ts";
import type { BundleLocation } from "./bundle-location.ts";

/** What both processes are told about the deployment (their zod configs read these names). */
export interface RuntimeResources {
  readonly storage: Storage;
  readonly jobQueue: JobQueue;
  readonly bundle: BundleLocation;
}

/** The environment the API and the runner share. */
export function sharedEnvironment(resources: RuntimeResources): Record<string, string> {
  const { storage, jobQueue, bundle } = resources;
  return {
    TROUPE_BUCKET: storage.bucket.bucketName,
    TROUPE_QUEUE_URL: jobQueue.queue.queueUrl,
    TROUPE_DLQ_URL: jobQueue.deadLetterQueue.queueUrl,
    TROUPE_KEYS_TABLE: storage.keysTable.tableName,
    TROUPE_JOBS_TABLE: storage.jobsTable.tableName,
    TROUPE_USAGE_TABLE: storage.usageTable.tableName,
    TROUPE_BUNDLE: bundle.uri,
    // Stack traces point at the TypeScript sources (the Lambda bundle ships its source map).
    NODE_OPTIONS: "--enable-source-maps",
  };
}

export interface RunnerEnvironmentOptions {
  /** The stack's region: ECS on EC2 does not set AWS_REGION for the container, Lambda does. */
  readonly region: string;
  /** Seconds the runner has after SIGTERM to finish or release its job (DESIGN.md §3). */
  readonly shutdownGraceSeconds: number;
}

/** The runner's environment: the shared one plus the CUDA provider and its shutdown grace. */
export function runnerEnvironment(
  resources: RuntimeResources,
  options: RunnerEnvironmentOptions,
): Record<string, string> {
  return {
    ...sharedEnvironment(resources),
    AWS_REGION: options.region,
    TROUPE_EXECUTION_PROVIDER: "cuda",
    TROUPE_SHUTDOWN_GRACE_S: String(options.shutdownGraceSeconds),
  };
}
