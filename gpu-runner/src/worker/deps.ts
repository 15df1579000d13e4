import type { AwsClients } from "@troupe/shared/aws/clients";
import type { ApiKeyStore, JobStore, UploadStore, UsageStore } from "@troupe/shared/records";
import type { PaceStore } from "@troupe/shared/records/pace";
import type { ImagePipeline } from "../pipeline/types.ts";
import type { TaskProtection } from "./task-protection.ts";
import type { WebhookSender } from "./webhook-sender.ts";

export type Log = (event: string, fields?: Record<string, unknown>) => void;

/** Everything a worker touches, built once per process (worker/main.ts) and injected. */
export interface WorkerDeps {
  clients: AwsClients;
  bucket: string;
  queueUrl: string;
  dlqUrl?: string;
  jobs: JobStore;
  usage: UsageStore;
  keys: ApiKeyStore;
  /** Upload records, for `retainInputs: false` (the uploads go when the job ends). */
  uploads: UploadStore;
  pipeline: ImagePipeline;
  /** Where this runner records its per-step pace for the API's queue estimates; none in some tests. */
  pace?: PaceStore;
  webhooks: WebhookSender;
  visibilityTimeoutS: number;
  /** How long a message may wait for its job record before it is dropped as an orphan (TROUPE_RECORD_GRACE_S). */
  recordGraceS: number;
  progressIntervalMs: number;
  /** Scale-in protection while a job runs (ECS), or none. */
  protection: TaskProtection;
  log: Log;
}

/** One JSON line per event, like the API's request log. */
export const jsonLog =
  (base: Record<string, unknown>): Log =>
  (event, fields = {}) =>
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...base, event, ...fields })}\n`);
